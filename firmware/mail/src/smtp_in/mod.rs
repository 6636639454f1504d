//! Reception: listeners, the Host Access Table, mail flow policies, the
//! Recipient Access Table and the SMTP server session.
//!
//! Exposure: internet-facing. Everything a client sends is bounded (command
//! line length, message size, recipients, connections per IP, session time)
//! and answered with an SMTP reply; nothing here writes the queue directly —
//! finished messages go to the queue's single writer (`queue::committer`).

pub mod listener;
pub mod tls;
// The sans-I/O session and its parts live in breakwater-smtp; this module
// drives them (sockets, TLS, timers, the queue, the log).
pub use breakwater_smtp::server::{
    budget, data, hat, headers, limits, rat, received, reply, session,
};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::dns::Dns;
use crate::queue::QueueHandle;
use limits::ConnectionCounter;

/// The services every session's driver shares: the ID allocator (which
/// only the driver calls: it flushes the store), the hourly recipient
/// counts and the reception memory budget.
pub struct Services {
    pub ids: Arc<crate::ids::IdAllocator>,
    pub hourly: Arc<limits::HourlyRecipients>,
    pub budget: Arc<budget::ReceptionBudget>,
}

impl Services {
    /// What a session is handed: the shared limits and the wall clock.
    pub fn for_session(&self) -> session::SessionServices {
        session::SessionServices {
            hourly: self.hourly.clone(),
            budget: self.budget.clone(),
            clock: breakwater_types::clock::now,
        }
    }
}

/// What every connection of every listener shares.
pub struct ReceptionContext {
    config: watch::Receiver<Arc<Config>>,
    dns: RwLock<Dns>,
    tls: RwLock<HashMap<String, TlsAcceptor>>,
    pub services: Arc<Services>,
    pub queue: QueueHandle,
    /// `Some(end of the grace period)` once the daemon is shutting down:
    /// new connections get `421 4.3.2`, sessions in progress may finish
    /// until then.
    draining: watch::Sender<Option<tokio::time::Instant>>,
    /// Suspended listeners (`suspendlistener`), each with the end of the
    /// grace its sessions in progress get: new connections get `421`.
    suspended: watch::Sender<HashMap<String, tokio::time::Instant>>,
    /// Connections on all listeners together (`max_connections_total`,
    /// `max_connections_per_ip`), counted at accept.
    pub connections: Arc<ConnectionCounter>,
    /// SMTP Call-Ahead's cache, per-server limits and counters.
    pub call_ahead: Arc<crate::call_ahead::CallAhead>,
}

impl ReceptionContext {
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    pub fn dns(&self) -> Dns {
        self.dns.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The end of the shutdown grace period, once shutting down.
    pub fn draining(&self) -> Option<tokio::time::Instant> {
        *self.draining.borrow()
    }

    /// Resolves when shutting down starts (at once if it has).
    pub async fn drain_started(&self) {
        let mut rx = self.draining.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// Whether `listener` takes no new connections, why, and the end of
    /// the grace its sessions in progress get: shutting down wins over a
    /// suspension (its reply says the box is going away).
    pub fn closing(&self, listener: &str) -> Option<(tokio::time::Instant, Closing)> {
        if let Some(end) = self.draining() {
            return Some((end, Closing::Shutdown));
        }
        self.suspended
            .borrow()
            .get(listener)
            .map(|end| (*end, Closing::Suspended))
    }

    /// Resolves when `listener` starts closing: shutting down, or
    /// suspended (at once if it has).
    pub async fn closing_started(&self, listener: &str) {
        let mut suspended = self.suspended.subscribe();
        tokio::select! {
            () = self.drain_started() => {}
            _ = suspended.wait_for(|s| s.contains_key(listener)) => {}
        }
    }

    pub fn acceptor(&self, certificate: &str) -> Option<TlsAcceptor> {
        self.tls
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(certificate)
            .cloned()
    }
}

/// Why a listener takes no new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// The daemon is stopping (SIGTERM, `shutdown`, `reboot`).
    Shutdown,
    /// `suspendlistener` or `suspend`.
    Suspended,
}

impl Closing {
    /// The 421 reply (RFC 5321 §3.8), with RFC 3463's 4.3.2 "system not
    /// accepting network messages".
    pub fn reply(self, hostname: &str) -> String {
        match self {
            Closing::Shutdown => format!("421 4.3.2 {hostname} Service shutting down"),
            Closing::Suspended => {
                format!("421 4.3.2 {hostname} Service temporarily unavailable")
            }
        }
    }
}

/// One running listener.
pub struct ListenerRuntime {
    pub name: String,
    pub connections: Arc<ConnectionCounter>,
}

struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
    runtime: Arc<ListenerRuntime>,
}

/// Starts, moves and stops listeners as the committed config says.
pub struct Reception {
    ctx: Arc<ReceptionContext>,
    running: Mutex<HashMap<String, Running>>,
    /// What the last `apply` could not do (shown by `status`).
    problems: Mutex<Vec<String>>,
}

impl Reception {
    pub fn new(
        config: watch::Receiver<Arc<Config>>,
        dns: Dns,
        services: Arc<Services>,
        queue: QueueHandle,
    ) -> Self {
        let ctx = ReceptionContext {
            config,
            dns: RwLock::new(dns),
            tls: RwLock::new(HashMap::new()),
            services,
            queue,
            draining: watch::Sender::new(None),
            suspended: watch::Sender::new(HashMap::new()),
            connections: Arc::new(ConnectionCounter::default()),
            call_ahead: Arc::new(crate::call_ahead::CallAhead::default()),
        };
        Self {
            ctx: Arc::new(ctx),
            running: Mutex::new(HashMap::new()),
            problems: Mutex::new(Vec::new()),
        }
    }

    /// Brings listeners, DNS and TLS in line with `config`. Returns the
    /// problems found (a listener that could not bind, a bad certificate);
    /// everything else is applied regardless.
    pub async fn apply(&self, config: &Config) -> Vec<String> {
        let mut problems = Vec::new();
        self.ctx
            .services
            .budget
            .set_limit(config.reception.memory_budget_bytes);
        match Dns::new(&config.dns) {
            Ok(dns) => *self.ctx.dns.write().unwrap_or_else(|e| e.into_inner()) = dns,
            Err(e) => problems.push(e.to_string()),
        }
        let (leg, problem) = crate::tls_policy::LegTls::or_factory(&config.ssl.inbound);
        if let Some(e) = problem {
            problems.push(format!(
                "sslconfig inbound: {e}; the factory TLS settings are used"
            ));
        }
        let (acceptors, errors) = tls::acceptors(&config.certificates, &leg);
        problems.extend(errors.iter().map(|e| e.to_string()));
        *self.ctx.tls.write().unwrap_or_else(|e| e.into_inner()) = acceptors;

        let mut wanted: HashMap<String, SocketAddr> = HashMap::new();
        for l in &config.listeners {
            match config.interface(&l.interface).and_then(|i| i.address) {
                Some(ip) => {
                    wanted.insert(l.name.clone(), SocketAddr::new(ip, l.port));
                }
                None => problems.push(format!(
                    "listener {}: interface {} has no address; not listening",
                    l.name, l.interface
                )),
            }
        }
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|name, r| {
            let keep = wanted.get(name) == Some(&r.addr);
            if !keep {
                tracing::info!("listener {name} stopped on {}", r.addr);
                r.task.abort();
            }
            keep
        });
        for (name, addr) in wanted {
            if running.contains_key(&name) {
                continue;
            }
            match bind(addr) {
                Ok(socket) => {
                    tracing::info!("listener {name} listening on {addr}");
                    let runtime = Arc::new(ListenerRuntime {
                        name: name.clone(),
                        connections: Arc::new(ConnectionCounter::default()),
                    });
                    let task = tokio::spawn(listener::accept_loop(
                        socket,
                        runtime.clone(),
                        self.ctx.clone(),
                    ));
                    running.insert(
                        name,
                        Running {
                            addr,
                            task,
                            runtime,
                        },
                    );
                }
                Err(e) => problems.push(format!("listener {name}: cannot listen on {addr}: {e}")),
            }
        }
        *self.problems.lock().unwrap_or_else(|e| e.into_inner()) = problems.clone();
        problems
    }

    /// What the last configuration change could not apply (a listener that
    /// could not bind its address, a bad certificate).
    pub fn problems(&self) -> Vec<String> {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Shutting down (SIGTERM): every listener answers new connections
    /// `421 4.3.2 <hostname> Service shutting down`; an idle session (no
    /// transaction open) is told the same at once; a session in the
    /// middle of a transaction gets `grace` to finish, then is told the
    /// same and closed (a transaction not yet acknowledged is abandoned,
    /// never half-accepted).
    /// Returns when no session is left, or shortly after `grace`; the
    /// listeners are closed then.
    pub async fn drain(&self, grace: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        self.ctx.draining.send_replace(Some(deadline));
        let open = self.wait_closed(|_| true, deadline).await;
        if open > 0 {
            tracing::warn!("{open} session(s) still open after the shutdown grace period");
        }
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for (name, r) in running.drain() {
            tracing::info!("listener {name} stopped on {}", r.addr);
            r.task.abort();
        }
    }

    /// Suspends exactly the listeners `names` (`suspendlistener`,
    /// `resumelistener`): a newly suspended one answers new connections
    /// `421 4.3.2 <hostname> Service temporarily unavailable`, its idle
    /// sessions are told the same at once and its transactions in
    /// progress get `grace` to finish (as in [`Reception::drain`]); one no
    /// longer named takes connections again. Returns when the sessions of
    /// the suspended listeners have closed, or shortly after `grace`;
    /// the answer is how many are still open.
    pub async fn suspend(
        &self,
        names: &std::collections::BTreeSet<String>,
        grace: std::time::Duration,
    ) -> u32 {
        let deadline = tokio::time::Instant::now() + grace;
        self.ctx.suspended.send_modify(|s| {
            s.retain(|name, _| names.contains(name));
            for name in names {
                s.entry(name.clone()).or_insert(deadline);
            }
        });
        self.wait_closed(|name| names.contains(name), deadline)
            .await
    }

    /// Whether the listener named `name` is suspended.
    pub fn is_suspended(&self, name: &str) -> bool {
        self.ctx.suspended.borrow().contains_key(name)
    }

    /// Waits until the listeners `which` selects have no session left,
    /// or until a second after `deadline` (the time the sessions need to
    /// send their 421 and close); returns how many are still open.
    async fn wait_closed(
        &self,
        which: impl Fn(&str) -> bool,
        deadline: tokio::time::Instant,
    ) -> u32 {
        let hard = deadline + std::time::Duration::from_secs(1);
        loop {
            let open: u32 = self
                .summary()
                .iter()
                .filter(|(name, _, _)| which(name))
                .map(|(_, _, c)| c)
                .sum();
            if open == 0 || tokio::time::Instant::now() >= hard {
                return open;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Reception memory in use and its budget, in bytes, for `status`.
    pub fn memory(&self) -> (u64, u64) {
        let budget = &self.ctx.services.budget;
        (budget.used(), budget.limit())
    }

    /// Live connections per listener and client address, for `topin`.
    pub fn clients(&self) -> Vec<(String, IpAddr, u32)> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .flat_map(|(n, r)| {
                r.runtime
                    .connections
                    .by_client()
                    .into_iter()
                    .map(move |(ip, c)| (n.clone(), ip, c))
            })
            .collect()
    }

    /// The resolver reception uses (`topin`'s reverse lookups, `dnsflush`).
    pub fn dns(&self) -> Dns {
        self.ctx
            .dns
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Listener name, address and live connections, for `status`.
    /// SMTP Call-Ahead's shared state (`smtpcallahead flushcache`).
    pub fn call_ahead(&self) -> Arc<crate::call_ahead::CallAhead> {
        self.ctx.call_ahead.clone()
    }

    pub fn summary(&self) -> Vec<(String, SocketAddr, u32)> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = running
            .iter()
            .map(|(n, r)| (n.clone(), r.addr, r.runtime.connections.total()))
            .collect();
        v.sort();
        v
    }
}

/// Listening sockets bound while the daemon was still root (see
/// [`prebind`]); [`bind`] takes a socket from here before binding anew.
static PREBOUND: Mutex<Vec<std::net::TcpListener>> = Mutex::new(Vec::new());

/// Binds every listener `config` names, for a daemon about to give up root
/// (ports below 1024 need it): [`Reception::apply`] then adopts these
/// sockets instead of binding. A listener a later commit moves to another
/// privileged port or address cannot be bound without root; it says so
/// and takes effect after `reboot`. Returns the problems found.
pub fn prebind(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pool = PREBOUND.lock().unwrap_or_else(|e| e.into_inner());
    for l in &config.listeners {
        let Some(ip) = config.interface(&l.interface).and_then(|i| i.address) else {
            continue;
        };
        let addr = SocketAddr::new(ip, l.port);
        if ip.is_unspecified() || pool.iter().any(|s| s.local_addr().ok() == Some(addr)) {
            continue;
        }
        // std sets SO_REUSEADDR on Unix, as `bind` below does.
        match std::net::TcpListener::bind(addr) {
            Ok(socket) => pool.push(socket),
            Err(e) => problems.push(format!("listener {}: cannot listen on {addr}: {e}", l.name)),
        }
    }
    problems
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let prebound = {
        let mut pool = PREBOUND.lock().unwrap_or_else(|e| e.into_inner());
        pool.iter()
            .position(|s| s.local_addr().ok() == Some(addr))
            .map(|i| pool.swap_remove(i))
    };
    if let Some(socket) = prebound {
        socket.set_nonblocking(true)?;
        return TcpListener::from_std(socket);
    }
    if addr.ip().is_unspecified() {
        // A listener belongs to one interface, never to all of them.
        return Err(std::io::Error::other(
            "refusing to bind the wildcard address",
        ));
    }
    let socket = match addr.ip() {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
