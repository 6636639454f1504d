//! SMTP Call-Ahead recipient validation: before reception accepts a
//! recipient, ask the next hop (EHLO, MAIL FROM, RCPT TO, QUIT; never
//! DATA) whether it exists. Answers are cached per profile and recipient
//! for the profile's TTL, connections to one server are bounded by a
//! semaphore, and one validation has a total deadline.
//!
//! The decision and the cache are plain code ([`decide`], [`Cache`]); the
//! probe is the I/O around them. The session waits on the answer
//! (`Action::ValidateRecipient`), so a slow next hop delays only the
//! client whose recipient is being checked.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;

use crate::config::call_ahead::{CallAheadProfile, CallAheadServer, FailureAction, parse_server};
use crate::config::{Config, RouteHost, RouteTarget};
use crate::delivery::client_core::{ReplyParser, reply_text};
use crate::delivery::resolve::{self, Resolved};
use crate::delivery::routes;
use crate::dns::Dns;

/// What the next hop said about a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 2xx to RCPT TO.
    Exists,
    /// 5xx to RCPT TO: the reply, passed on to the client.
    Unknown(String),
    /// No usable answer: a 4xx, an error before RCPT, no connection, the
    /// deadline. Never cached.
    Failed(String),
}

/// The reply refusing the recipient, or `None` to accept it.
pub fn decide(answer: &Answer, profile: &CallAheadProfile) -> Option<String> {
    match answer {
        Answer::Exists => None,
        Answer::Unknown(reply) => Some(reply.clone()),
        Answer::Failed(_) => match &profile.failure_action {
            FailureAction::Accept => None,
            FailureAction::Reject { code, text } => Some(format!("{code} {text}")),
        },
    }
}

/// Answers by recipient, each until its expiry; the oldest goes first
/// when full.
#[derive(Default)]
pub struct Cache {
    entries: HashMap<String, (Answer, Instant)>,
    order: VecDeque<String>,
}

impl Cache {
    /// The cached answer for `key`, if still fresh.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<Answer> {
        match self.entries.get(key) {
            Some((a, expires)) if *expires > now => Some(a.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers a definite answer (failures are asked again).
    pub fn put(&mut self, key: String, answer: Answer, now: Instant, ttl: Duration, cap: usize) {
        if matches!(answer, Answer::Failed(_)) || cap == 0 || ttl.is_zero() {
            return;
        }
        if self
            .entries
            .insert(key.clone(), (answer, now + ttl))
            .is_none()
        {
            self.order.push_back(key);
        }
        while self.entries.len() > cap {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&old);
        }
        // Keys of entries already expired and removed are skipped above;
        // keep the queue from outgrowing the map.
        if self.order.len() > 2 * cap.max(1) {
            self.order.retain(|k| self.entries.contains_key(k));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) -> usize {
        let n = self.entries.len();
        self.entries.clear();
        self.order.clear();
        n
    }
}

/// Counters (`smtpcallahead status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallAheadCounters {
    pub probes: u64,
    pub cache_hits: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub failures: u64,
}

/// The running call-ahead state every listener shares.
#[derive(Default)]
pub struct CallAhead {
    caches: Mutex<HashMap<String, Cache>>,
    servers: Mutex<HashMap<SocketAddr, Arc<Semaphore>>>,
    probes: AtomicU64,
    cache_hits: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    failures: AtomicU64,
}

impl CallAhead {
    /// Validates `rcpt` with `profile`: the reply refusing it, or `None`.
    pub async fn validate(
        &self,
        config: &Config,
        dns: &Dns,
        profile: &CallAheadProfile,
        rcpt: &str,
    ) -> Option<String> {
        let key = rcpt.to_ascii_lowercase();
        let cached = self
            .caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(profile.name.to_ascii_lowercase())
            .or_default()
            .get(&key, Instant::now());
        let answer = match cached {
            Some(a) => {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                a
            }
            None => {
                self.probes.fetch_add(1, Ordering::Relaxed);
                let deadline = Duration::from_secs(profile.request_timeout_secs.into());
                let answer = tokio::time::timeout(deadline, self.ask(config, dns, profile, rcpt))
                    .await
                    .unwrap_or_else(|_| Answer::Failed("validation request timed out".into()));
                self.caches
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(profile.name.to_ascii_lowercase())
                    .or_default()
                    .put(
                        key,
                        answer.clone(),
                        Instant::now(),
                        Duration::from_secs(profile.cache_ttl_secs.into()),
                        profile.cache_size as usize,
                    );
                answer
            }
        };
        if let Answer::Failed(why) = &answer {
            tracing::warn!("SMTP Call-Ahead for <{rcpt}> failed: {why}");
        }
        let counter = match &answer {
            Answer::Exists => &self.accepted,
            Answer::Unknown(_) => &self.rejected,
            Answer::Failed(_) => &self.failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        decide(&answer, profile)
    }

    /// Forgets every cached answer (`smtpcallahead flushcache`); how many.
    pub fn flush(&self) -> usize {
        self.caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values_mut()
            .map(Cache::clear)
            .sum()
    }

    pub fn counters(&self) -> CallAheadCounters {
        CallAheadCounters {
            probes: self.probes.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    fn semaphore(&self, server: SocketAddr, permits: u32) -> Arc<Semaphore> {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(server)
            .or_insert_with(|| Arc::new(Semaphore::new(permits.max(1) as usize)))
            .clone()
    }

    /// Asks the servers in turn until one gives a definite answer.
    async fn ask(
        &self,
        config: &Config,
        dns: &Dns,
        profile: &CallAheadProfile,
        rcpt: &str,
    ) -> Answer {
        let domain = routes::domain_of(rcpt).to_ascii_lowercase();
        let route = match &profile.server {
            CallAheadServer::Static(servers) => Some(
                servers
                    .iter()
                    .filter_map(|s| parse_server(s))
                    .filter_map(|(host, port)| {
                        Some(RouteHost {
                            host: crate::config::NextHop::parse(&host).ok()?,
                            port,
                            priority: 0,
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
            CallAheadServer::DeliveryHost => {
                match routes::select(&config.smtp_routes, &domain).map(|r| &r.target) {
                    Some(RouteTarget::Hosts(hosts)) => Some(hosts.clone()),
                    // Mail for it is thrown away: nobody to ask, nothing lost.
                    Some(RouteTarget::DevNull) => return Answer::Exists,
                    Some(RouteTarget::UseDns) | None => None,
                }
            }
        };
        let settings = config.destination(&domain);
        let candidates = match resolve::candidates(
            dns,
            &domain,
            route.as_deref(),
            settings.ip_preference,
            false,
        )
        .await
        {
            Resolved::Candidates(c) => {
                let policy = resolve::NextHopPolicy::from_config(config);
                resolve::screen(c, &policy).0
            }
            Resolved::Hard(why) | Resolved::Soft(why) => return Answer::Failed(why),
            Resolved::DnsHard(e) => return Answer::Failed(e.reason()),
        };
        let interface = profile
            .interface
            .as_deref()
            .unwrap_or(&config.delivery.interface);
        let local = config.interface(interface).and_then(|i| i.address);
        let mail_from = profile.mail_from.as_str();
        let mut last = Answer::Failed(format!("no call-ahead server for {domain}"));
        for cand in candidates {
            let permits = self.semaphore(cand.addr, profile.max_connections_per_server);
            let Ok(_permit) = permits.acquire_owned().await else {
                continue;
            };
            let step = Duration::from_secs(config.delivery.command_timeout_secs.into());
            last = match probe(local, cand.addr, &config.hostname, mail_from, rcpt, step).await {
                Ok(answer) => answer,
                Err(e) => Answer::Failed(format!("{} [{}]: {e}", cand.host, cand.addr)),
            };
            if !matches!(last, Answer::Failed(_)) {
                break;
            }
        }
        last
    }
}

/// One SMTP conversation: greeting, EHLO, MAIL FROM, RCPT TO, QUIT.
async fn probe(
    local: Option<IpAddr>,
    remote: SocketAddr,
    hostname: &str,
    mail_from: &str,
    rcpt: &str,
    step: Duration,
) -> std::io::Result<Answer> {
    let socket = match remote {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = local.filter(|ip| ip.is_ipv4() == remote.is_ipv4()) {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = tokio::time::timeout(step, socket.connect(remote))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    let mut conv = Conversation {
        stream,
        parser: ReplyParser::default(),
        buf: Vec::new(),
        step,
    };
    let expect = |code: u16, what: &str, r: &(u16, String)| {
        if r.0 / 100 == code {
            Ok(())
        } else {
            Err(Answer::Failed(format!("{what}: {}", r.1)))
        }
    };
    let greeting = conv.reply().await?;
    if let Err(a) = expect(2, "greeting", &greeting) {
        return Ok(a);
    }
    let ehlo = conv.command(&format!("EHLO {hostname}")).await?;
    if let Err(a) = expect(2, "EHLO", &ehlo) {
        return Ok(a);
    }
    let mail = conv.command(&format!("MAIL FROM:<{mail_from}>")).await?;
    if let Err(a) = expect(2, "MAIL FROM", &mail) {
        return Ok(a);
    }
    let (code, text) = conv.command(&format!("RCPT TO:<{rcpt}>")).await?;
    let answer = match code / 100 {
        2 => Answer::Exists,
        5 => Answer::Unknown(text),
        _ => Answer::Failed(text),
    };
    // Politeness only: the answer is known.
    let _ = conv.command("QUIT").await;
    Ok(answer)
}

struct Conversation {
    stream: TcpStream,
    parser: ReplyParser,
    buf: Vec<u8>,
    step: Duration,
}

impl Conversation {
    async fn command(&mut self, line: &str) -> std::io::Result<(u16, String)> {
        let bytes = format!("{line}\r\n");
        tokio::time::timeout(self.step, self.stream.write_all(bytes.as_bytes()))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        self.reply().await
    }

    async fn reply(&mut self) -> std::io::Result<(u16, String)> {
        loop {
            let (used, reply) = self
                .parser
                .feed(&self.buf)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            self.buf.drain(..used);
            if let Some(r) = reply {
                return Ok((r.code, reply_text(&r)));
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(self.step, self.stream.read(&mut chunk))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(action: FailureAction) -> CallAheadProfile {
        CallAheadProfile {
            name: "m365".into(),
            failure_action: action,
            ..CallAheadProfile::default()
        }
    }

    #[test]
    fn unknown_users_get_the_next_hops_reply_and_failures_the_profiles_action() {
        let open = profile(FailureAction::Accept);
        let closed = profile(FailureAction::Reject {
            code: 451,
            text: "4.4.3 Recipient validation failed, try again later".into(),
        });
        let unknown = Answer::Unknown("550 5.1.1 <x@y>: User unknown".into());
        assert_eq!(decide(&Answer::Exists, &closed), None);
        assert_eq!(
            decide(&unknown, &open).as_deref(),
            Some("550 5.1.1 <x@y>: User unknown")
        );
        let failed = Answer::Failed("timed out".into());
        assert_eq!(decide(&failed, &open), None);
        assert_eq!(
            decide(&failed, &closed).as_deref(),
            Some("451 4.4.3 Recipient validation failed, try again later")
        );
    }

    #[test]
    fn the_cache_keeps_definite_answers_for_their_ttl_and_its_size() {
        let mut c = Cache::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(900);
        c.put("a@x".into(), Answer::Exists, t0, ttl, 2);
        c.put("b@x".into(), Answer::Unknown("550".into()), t0, ttl, 2);
        c.put("f@x".into(), Answer::Failed("down".into()), t0, ttl, 2);
        assert_eq!(c.get("a@x", t0), Some(Answer::Exists));
        assert_eq!(c.get("f@x", t0), None);
        c.put("c@x".into(), Answer::Exists, t0, ttl, 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("a@x", t0), None, "the oldest went first");
        assert_eq!(c.get("b@x", t0), Some(Answer::Unknown("550".into())));
        assert_eq!(c.get("b@x", t0 + ttl), None, "expired");
        assert_eq!(c.clear(), 1);
        c.put("d@x".into(), Answer::Exists, t0, Duration::ZERO, 2);
        assert!(c.is_empty());
    }

    /// A next hop on a loopback port: answers RCPT for `known` with 250,
    /// for others 550, and counts its connections.
    async fn next_hop(known: &'static str) -> (SocketAddr, Arc<AtomicU64>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                seen.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let _ = s.write_all(b"220 hop ESMTP\r\n").await;
                    let mut buf = vec![0u8; 1024];
                    let mut line = Vec::new();
                    loop {
                        let Ok(n) = s.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        line.extend_from_slice(&buf[..n]);
                        while let Some(i) = line.iter().position(|&b| b == b'\n') {
                            let cmd = String::from_utf8_lossy(&line[..i]).to_string();
                            line.drain(..=i);
                            let reply: &[u8] = if cmd.starts_with("EHLO") {
                                b"250-hop\r\n250 PIPELINING\r\n"
                            } else if cmd.starts_with("RCPT") && cmd.contains(known) {
                                b"250 2.1.5 Ok\r\n"
                            } else if cmd.starts_with("RCPT") {
                                b"550 5.1.1 <nobody@example.com>: User unknown\r\n"
                            } else if cmd.starts_with("QUIT") {
                                let _ = s.write_all(b"221 Bye\r\n").await;
                                return;
                            } else {
                                b"250 2.1.0 Ok\r\n"
                            };
                            let _ = s.write_all(reply).await;
                        }
                    }
                });
            }
        });
        (addr, count)
    }

    #[tokio::test]
    async fn a_probe_asks_without_data_and_the_second_question_is_answered_from_the_cache() {
        let (addr, connections) = next_hop("bob@").await;
        let mut config = crate::config::factory::dev_factory_for_tests();
        config.hostname = "gw.test".into();
        let ca = CallAhead::default();
        let p = CallAheadProfile {
            name: "m365".into(),
            server: CallAheadServer::Static(vec![addr.to_string()]),
            ..CallAheadProfile::default()
        };
        let dns = Dns::new(&config.dns).unwrap();
        assert_eq!(
            ca.validate(&config, &dns, &p, "bob@example.com").await,
            None
        );
        let refusal = ca.validate(&config, &dns, &p, "nobody@example.com").await;
        assert_eq!(
            refusal.as_deref(),
            Some("550 5.1.1 <nobody@example.com>: User unknown")
        );
        assert_eq!(
            ca.validate(&config, &dns, &p, "BOB@example.com").await,
            None
        );
        assert_eq!(connections.load(Ordering::Relaxed), 2);
        let n = ca.counters();
        assert_eq!(
            (n.probes, n.cache_hits, n.accepted, n.rejected),
            (2, 1, 2, 1)
        );
        assert_eq!(ca.flush(), 2);
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_gets_the_failure_action() {
        // A port nothing listens on: connection refused.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let config = crate::config::factory::dev_factory_for_tests();
        let dns = Dns::new(&config.dns).unwrap();
        let mut p = CallAheadProfile {
            name: "m365".into(),
            server: CallAheadServer::Static(vec![addr.to_string()]),
            ..CallAheadProfile::default()
        };
        let ca = CallAhead::default();
        assert_eq!(ca.validate(&config, &dns, &p, "a@example.com").await, None);
        p.failure_action = FailureAction::Reject {
            code: 451,
            text: "4.4.3 try later".into(),
        };
        assert_eq!(
            ca.validate(&config, &dns, &p, "a@example.com")
                .await
                .as_deref(),
            Some("451 4.4.3 try later")
        );
        assert_eq!(ca.counters().failures, 2);
    }
}
