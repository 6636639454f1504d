//! The connection cache against real sockets: a next hop on loopback that
//! counts its sessions, and a real queue (sled + spool in a temporary
//! directory) the bodies are read from.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::super::{Delivery, DeliveryJob, DeliveryReport, Outcome};
use crate::config::{Config, RouteHost};
use crate::ids::{Icid, IdAllocator, Mid, Rid};
use crate::queue::{
    self, MessageRecord, QueueHandle, Reception, Recipient, RecipientStatus, SledSpoolStore,
};

/// How the next hop treats a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Hangs up (no 421) once a message is accepted: a server with a short
    /// idle timeout.
    HangUpAfterMessage,
    /// Hangs up, without a reply, on a session's second MAIL: the server
    /// closed just as the cached connection was reused.
    HangUpOnSecondMail,
}

/// What the next hop saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Session,
    Message,
    Quit,
}

/// A next hop offering PIPELINING on loopback.
async fn next_hop(mode: Mode) -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(Seen::Session);
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 hop ESMTP\r\n").await.unwrap();
                let (mut in_data, mut mails) = (false, 0);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let _ = tx.send(Seen::Message);
                            w.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                            if mode == Mode::HangUpAfterMessage {
                                return;
                            }
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-hop\r\n250 PIPELINING\r\n",
                        "MAIL" => {
                            mails += 1;
                            if mode == Mode::HangUpOnSecondMail && mails == 2 {
                                return;
                            }
                            b"250 2.1.0 ok\r\n"
                        }
                        "DATA" => {
                            in_data = true;
                            b"354 go\r\n"
                        }
                        "QUIT" => {
                            let _ = tx.send(Seen::Quit);
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 2.0.0 ok\r\n",
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

struct Rig {
    _dir: tempfile::TempDir,
    queue: QueueHandle,
    ids: Arc<IdAllocator>,
    delivery: Delivery,
    reports: mpsc::UnboundedReceiver<DeliveryReport>,
}

fn config(change: impl FnOnce(&mut Config)) -> Config {
    let mut cfg = crate::config::factory::dev_factory_for_tests();
    // Long enough never to expire in a test that does not want it to.
    cfg.connection_cache.idle_secs = 300;
    change(&mut cfg);
    cfg
}

async fn rig(cfg: Config) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path().join("db"))
        .open()
        .unwrap();
    let store = Arc::new(SledSpoolStore::open(&db, dir.path()).unwrap());
    let (committed_tx, committed_rx) = mpsc::unbounded_channel();
    std::mem::forget(committed_rx);
    let queue = queue::start(store, cfg.queue, committed_tx).unwrap();
    let (config_tx, config_rx) = watch::channel(Arc::new(cfg.clone()));
    std::mem::forget(config_tx);
    let ids = Arc::new(IdAllocator::open(&db).unwrap());
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let dns = crate::dns::Dns::new(&cfg.dns).unwrap();
    let delivery = Delivery::new(config_rx, ids.clone(), queue.clone(), dns, reports_tx);
    Rig {
        _dir: dir,
        queue,
        ids,
        delivery,
        reports,
    }
}

impl Rig {
    /// Queues a message and submits its job for `partner.example`, routed
    /// to `port` on loopback; returns its MID.
    async fn submit(&self, port: u16) -> Mid {
        let mid = self.ids.mid().unwrap();
        let body = b"Subject: hello\r\n\r\nbody text\r\n".to_vec();
        let record = MessageRecord {
            mid,
            received_at: chrono::Utc::now().timestamp(),
            reception: Reception {
                icid: Icid(1),
                listener: "OutgoingMail".into(),
                interface: "Data 2".into(),
                sender_group: "RELAYLIST".into(),
                policy: "RELAYED".into(),
                client_ip: "192.0.2.10".parse().unwrap(),
                rdns: None,
                rdns_verified: false,
                helo: "client".into(),
                tls: None,
            },
            mail_from: "alice@example.com".into(),
            recipients: vec![Recipient {
                rid: Rid(0),
                address: "bob@partner.example".into(),
                status: RecipientStatus::Pending,
                attempts: 0,
                next_attempt: 0,
                last_response: None,
            }],
            body_size: body.len() as u64,
            message_id: None,
            subject: Some("hello".into()),
            processing: Default::default(),
        };
        self.queue.enqueue(record, body).await.unwrap();
        self.delivery.submit(DeliveryJob {
            mid,
            mail_from: "alice@example.com".into(),
            recipients: vec![(Rid(0), "bob@partner.example".into())],
            destination: "partner.example".into(),
            route: Some(vec![RouteHost {
                host: "127.0.0.1".into(),
                port,
                priority: 0,
            }]),
            lookup_domain: None,
            source_interface: None,
            dkim_sign: false,
        });
        mid
    }

    /// The next report, which must say `mid` was delivered.
    async fn delivered(&mut self, mid: Mid) {
        let report = tokio::time::timeout(Duration::from_secs(60), self.reports.recv())
            .await
            .expect("a delivery report")
            .unwrap();
        assert_eq!(report.mid, mid);
        assert!(
            matches!(report.results.as_slice(), [(Rid(0), Outcome::Delivered(_))]),
            "{report:?}"
        );
    }

    /// Sends `n` messages one after the other, each once the one before was
    /// delivered (a steady trickle).
    async fn trickle(&mut self, port: u16, n: usize) {
        for _ in 0..n {
            let mid = self.submit(port).await;
            self.delivered(mid).await;
        }
    }
}

/// Waits for `what` from the next hop, counting what it saw before.
async fn until(seen: &mut mpsc::UnboundedReceiver<Seen>, what: Seen) -> Vec<Seen> {
    let mut before = Vec::new();
    loop {
        let s = tokio::time::timeout(Duration::from_secs(60), seen.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what:?} after {before:?}"))
            .unwrap();
        if s == what {
            return before;
        }
        before.push(s);
    }
}

fn count(seen: &[Seen], what: Seen) -> usize {
    seen.iter().filter(|s| **s == what).count()
}

#[tokio::test]
async fn a_trickle_of_messages_shares_one_connection() {
    let (port, mut seen) = next_hop(Mode::Normal).await;
    let mut rig = rig(config(|_| {})).await;
    rig.trickle(port, 5).await;
    rig.delivery.close_idle();
    let before = until(&mut seen, Seen::Quit).await;
    assert_eq!(count(&before, Seen::Session), 1, "{before:?}");
    assert_eq!(count(&before, Seen::Message), 5, "{before:?}");
}

#[tokio::test]
async fn an_idle_connection_says_quit_when_its_time_is_up() {
    let (port, mut seen) = next_hop(Mode::Normal).await;
    let mut rig = rig(config(|c| c.connection_cache.idle_secs = 1)).await;
    rig.trickle(port, 1).await;
    // Nobody closes it but its own timer.
    let before = until(&mut seen, Seen::Quit).await;
    assert_eq!(before, [Seen::Session, Seen::Message]);
    // The next message opens a new connection.
    rig.trickle(port, 1).await;
    assert_eq!(seen.recv().await, Some(Seen::Session));
}

#[tokio::test]
async fn the_cache_off_or_full_closes_after_each_message() {
    for cfg in [
        config(|c| c.connection_cache.idle_secs = 0),
        config(|c| c.connection_cache.max_idle_per_destination = 0),
        config(|c| c.connection_cache.max_idle = 0),
    ] {
        let (port, mut seen) = next_hop(Mode::Normal).await;
        let mut rig = rig(cfg).await;
        for _ in 0..2 {
            rig.trickle(port, 1).await;
            let before = until(&mut seen, Seen::Quit).await;
            assert_eq!(before, [Seen::Session, Seen::Message]);
        }
    }
}

#[tokio::test]
async fn a_cached_connection_honours_messages_per_connection() {
    let (port, mut seen) = next_hop(Mode::Normal).await;
    let mut rig = rig(config(|c| {
        c.destination_default.max_messages_per_connection = 2;
    }))
    .await;
    rig.trickle(port, 2).await;
    let before = until(&mut seen, Seen::Quit).await;
    assert_eq!(before, [Seen::Session, Seen::Message, Seen::Message]);
    rig.trickle(port, 1).await;
    rig.delivery.close_idle();
    let before = until(&mut seen, Seen::Quit).await;
    assert_eq!(before, [Seen::Session, Seen::Message]);
}

#[tokio::test]
async fn a_next_hop_that_hangs_up_while_idle_loses_and_delays_nothing() {
    let (port, mut seen) = next_hop(Mode::HangUpAfterMessage).await;
    let mut rig = rig(config(|_| {})).await;
    rig.trickle(port, 3).await;
    for _ in 0..3 {
        assert_eq!(seen.recv().await, Some(Seen::Session));
        assert_eq!(seen.recv().await, Some(Seen::Message));
    }
}

#[tokio::test]
async fn a_next_hop_that_hangs_up_as_the_connection_is_reused_loses_nothing() {
    let (port, mut seen) = next_hop(Mode::HangUpOnSecondMail).await;
    let mut rig = rig(config(|_| {})).await;
    // Each message after the first finds the cached connection dead when
    // its MAIL goes out, and is delivered at once on a new one (a report
    // other than Delivered fails `trickle`).
    rig.trickle(port, 3).await;
    rig.delivery.close_idle();
    let before = until(&mut seen, Seen::Quit).await;
    assert_eq!(count(&before, Seen::Message), 3, "{before:?}");
    assert_eq!(count(&before, Seen::Session), 3, "{before:?}");
}

#[tokio::test]
async fn an_idle_connection_to_another_host_gives_its_place_up() {
    // One connection at most: the idle one to the first host must close
    // for a job to the second.
    let (first, mut seen_first) = next_hop(Mode::Normal).await;
    let (second, mut seen_second) = next_hop(Mode::Normal).await;
    let mut rig = rig(config(|c| c.destination_default.max_concurrency = 1)).await;
    rig.trickle(first, 1).await;
    rig.trickle(second, 1).await;
    let before = until(&mut seen_first, Seen::Quit).await;
    assert_eq!(before, [Seen::Session, Seen::Message]);
    assert_eq!(seen_second.recv().await, Some(Seen::Session));
    assert_eq!(seen_second.recv().await, Some(Seen::Message));
    assert_eq!(rig.delivery.connections().get("partner.example"), Some(&1));
}
