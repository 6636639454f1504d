//! `bench-smtp`: the relay benchmark's load generator and sink in one
//! process, for what smtp-source and smtp-sink cannot do (issue 19):
//! STARTTLS on the client leg and at the sink, N destination domains,
//! per-message latency, an open-loop fixed-rate mode, and holding many
//! idle or trickling connections for memory measurements.
//!
//! `run`: C client connections send N messages to `--target` (closed
//! loop: each connection sends its next message when the last one got
//! its 250; `--rate R`: open loop, message i is due at i/R s). With
//! `--sink ADDR` the same process is the next hop: the run ends when the
//! sink has every accepted message, and each message's 250 -> receipt
//! time is matched by its Message-ID `<SEQ.RUN@bench.invalid>`. With the
//! target equal to the sink it measures the loopback ceiling.
//!
//! `hold`: opens K connections, EHLO (and STARTTLS), then stays idle or
//! trickles one DATA line a second on each, for `--secs`; prints
//! `bench-smtp hold: K connections open` once they are all up.
//!
//! Result lines mirror postfix-baseline.sh's, then one `result:` line of
//! key=value pairs for tools/bench-relay to read.
//!
//! Exposure: host-side tool, loopback benchmarks only; reads peer bytes
//! with bounded lines and replies (`breakwater_tools::smtp_wire`).

mod client;
mod sink;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use breakwater_tools::smtp_wire::{body, percentile};
use clap::{Args, Parser, Subcommand};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use client::{Conn, SendError};
use sink::SinkStats;

/// A connection, plain or after STARTTLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Attempts per message on transient failures (a 421 at a connection
/// limit, a reset) before it counts as failed.
const ATTEMPTS: u32 = 5;

#[derive(Parser)]
#[command(about = "SMTP load generator and sink for the relay benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send N messages to a relay (or straight to the sink) and time them.
    Run(RunArgs),
    /// Open K connections and hold them idle or trickling.
    Hold(HoldArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The relay (or the sink itself, for the ceiling).
    #[arg(long)]
    target: SocketAddr,
    /// Serve the sink on this address in the same process.
    #[arg(long)]
    sink: Option<SocketAddr>,
    /// Messages.
    #[arg(short = 'n', default_value_t = 20000)]
    messages: u64,
    /// Client connections at once.
    #[arg(short = 's', default_value_t = 50)]
    concurrency: u64,
    /// Approximate message size in bytes (as smtp-source -l).
    #[arg(short = 'l', default_value_t = 10240)]
    size: usize,
    /// Messages per connection (0: as many as there are).
    #[arg(long, default_value_t = 1)]
    per_connection: u64,
    /// Keep connections open for all messages (same as --per-connection 0).
    #[arg(long)]
    keepalive: bool,
    /// Open loop: send at this many messages per second.
    #[arg(long)]
    rate: Option<f64>,
    /// STARTTLS on the client leg.
    #[arg(long)]
    tls: bool,
    /// Offer STARTTLS at the sink.
    #[arg(long)]
    sink_tls: bool,
    /// Destination domains d1.example.com .. dD.example.com, round robin
    /// (0: every message to user@example.com).
    #[arg(long, default_value_t = 0)]
    domains: u64,
    /// Label of the result line.
    #[arg(long, default_value = "bench-smtp")]
    label: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

#[derive(Args)]
struct HoldArgs {
    #[arg(long)]
    target: SocketAddr,
    /// Connections to open.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Seconds to hold them once all are open.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// In DATA, one body line a second on each connection.
    #[arg(long)]
    trickle: bool,
    /// STARTTLS on each connection.
    #[arg(long)]
    tls: bool,
}

/// Per-message instants as nanoseconds since the run's start, plus one
/// (0 = not yet), in arrays indexed by sequence number: the sink and
/// the clients stamp without a lock.
pub struct Timings {
    start: Instant,
    data_end: Vec<AtomicU64>,
    accepted: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
}

impl Timings {
    fn new(n: u64) -> Self {
        let v = || (0..n).map(|_| AtomicU64::new(0)).collect();
        Timings {
            start: Instant::now(),
            data_end: v(),
            accepted: v(),
            received: v(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn stamp(slot: Option<&AtomicU64>, at: u64) -> bool {
        slot.is_some_and(|s| s.compare_exchange(0, at, Relaxed, Relaxed).is_ok())
    }

    pub fn stamp_data_end(&self, seq: u64) {
        Self::stamp(self.data_end.get(seq as usize), self.now());
    }

    pub fn stamp_accepted(&self, seq: u64) {
        Self::stamp(self.accepted.get(seq as usize), self.now());
    }

    /// False when `seq` is not of this run or was already received.
    pub fn stamp_received(&self, seq: u64) -> bool {
        Self::stamp(self.received.get(seq as usize), self.now())
    }

    /// Sorted `to - from` in microseconds, over messages that have both.
    fn deltas(from: &[AtomicU64], to: &[AtomicU64]) -> Vec<u64> {
        let mut d: Vec<u64> = from
            .iter()
            .zip(to)
            .filter_map(|(a, b)| {
                let (a, b) = (a.load(Relaxed), b.load(Relaxed));
                (a != 0 && b != 0).then(|| b.saturating_sub(a) / 1000)
            })
            .collect();
        d.sort_unstable();
        d
    }
}

/// CPU time (user + system) of this process in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

/// /proc reports CPU time in USER_HZ, which is 100 on every Linux
/// architecture this runs on (the kernel ABI, whatever CONFIG_HZ is).
const USER_HZ: f64 = 100.0;

struct Load {
    args: RunArgs,
    run: u64,
    body: Vec<u8>,
    tls: Option<tokio_rustls::TlsConnector>,
    next: AtomicU64,
    failed: AtomicU64,
    accepted: AtomicU64,
    timings: Arc<Timings>,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Load {
    fn rcpt(&self, seq: u64) -> String {
        match self.args.domains {
            0 => "user@example.com".to_string(),
            d => format!("user@d{}.example.com", seq % d + 1),
        }
    }

    fn fail(&self, seq: u64, why: String) {
        self.failed.fetch_add(1, Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| format!("message {seq}: {why}"));
        }
    }

    fn per_connection(&self) -> u64 {
        if self.args.keepalive || self.args.per_connection == 0 {
            u64::MAX
        } else {
            self.args.per_connection
        }
    }
}

async fn worker(load: Arc<Load>) {
    let mut conn: Option<Conn> = None;
    let mut retry: Option<(u64, u32)> = None;
    loop {
        let (seq, attempt) = match retry.take() {
            Some(r) => r,
            None => {
                let seq = load.next.fetch_add(1, Relaxed);
                if seq >= load.args.messages {
                    break;
                }
                if let Some(rate) = load.args.rate {
                    let due = load.timings.start + Duration::from_secs_f64(seq as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                (seq, 1)
            }
        };
        let again = |why: String| {
            if attempt >= ATTEMPTS {
                load.fail(seq, why);
                None
            } else {
                Some((seq, attempt + 1))
            }
        };
        let mut c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(load.args.target, load.tls.as_ref()).await {
                Ok(c) => c,
                Err(e) => {
                    retry = again(format!("{e:#}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        match c
            .send(seq, load.run, &load.rcpt(seq), &load.body, &load.timings)
            .await
        {
            Ok(()) => {
                load.accepted.fetch_add(1, Relaxed);
                if c.sent >= load.per_connection() {
                    c.quit().await;
                } else {
                    conn = Some(c);
                }
            }
            Err(SendError::Permanent(why)) => {
                load.fail(seq, why);
                c.quit().await;
            }
            Err(SendError::Transient(why)) => retry = again(why),
        }
    }
    if let Some(c) = conn {
        c.quit().await;
    }
}

fn ms(us: Option<u64>) -> String {
    us.map_or("n/a".to_string(), |u| format!("{:.2}", u as f64 / 1000.0))
}

async fn run(args: RunArgs) -> Result<()> {
    let run_id = rand::random::<u32>() as u64;
    let timings = Arc::new(Timings::new(args.messages));
    let stats = Arc::new(SinkStats::default());
    if let Some(addr) = args.sink {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("sink: bind {addr}"))?;
        let acceptor = if args.sink_tls {
            Some(tls::acceptor()?)
        } else {
            None
        };
        tokio::spawn(sink::serve(
            listener,
            acceptor,
            run_id,
            timings.clone(),
            stats.clone(),
        ));
    }
    let tls = if args.tls {
        Some(tls::connector()?)
    } else {
        None
    };
    let load = Arc::new(Load {
        body: body(args.size),
        run: run_id,
        tls,
        next: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        timings: timings.clone(),
        first_error: std::sync::Mutex::new(None),
        args,
    });
    let args = &load.args;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let cpu0 = cpu_ticks();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.min(args.messages))
        .map(|_| tokio::spawn(worker(load.clone())))
        .collect();
    for w in workers {
        tokio::time::timeout_at(deadline.into(), w)
            .await
            .context("timed out while sending")??;
    }
    let accepted_by = t0.elapsed();
    let accepted = load.accepted.load(Relaxed);
    if args.sink.is_some() {
        while stats.unique.load(Relaxed) < accepted {
            if Instant::now() > deadline {
                bail!(
                    "timed out: the sink has {} of {accepted} accepted messages",
                    stats.unique.load(Relaxed)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu_ms = (cpu_ticks() - cpu0) as f64 * 1000.0 / USER_HZ / args.messages.max(1) as f64;
    let failed = load.failed.load(Relaxed);

    let to_250 = Timings::deltas(&timings.data_end, &timings.accepted);
    // Straight into the sink (the ceiling) the receipt comes before the 250.
    let relayed = args.sink.is_some() && args.sink != Some(args.target);
    let to_sink = if relayed {
        Timings::deltas(&timings.accepted, &timings.received)
    } else {
        Vec::new()
    };
    let rate = args.messages as f64 / elapsed;
    println!(
        "{}: {} msgs in {elapsed:.2} s = {rate:.1} msgs/s (size {}, conc {})",
        args.label, args.messages, args.size, args.concurrency
    );
    let mut detail = format!(
        "accepted by {:.2} s; failed {failed}; latency ms end of DATA->250 p50 {} p90 {} p99 {} max {}",
        accepted_by.as_secs_f64(),
        ms(percentile(&to_250, 50.0)),
        ms(percentile(&to_250, 90.0)),
        ms(percentile(&to_250, 99.0)),
        ms(to_250.last().copied()),
    );
    if relayed {
        detail += &format!(
            "; 250->sink p50 {} p99 {} max {}",
            ms(percentile(&to_sink, 50.0)),
            ms(percentile(&to_sink, 99.0)),
            ms(to_sink.last().copied())
        );
    }
    detail += &format!(
        "; cpu ms/msg load+sink {cpu_ms:.2}; sink sessions {} duplicates {} foreign {}",
        stats.sessions.load(Relaxed),
        stats.duplicates.load(Relaxed),
        stats.foreign.load(Relaxed)
    );
    if let Some(r) = args.rate {
        detail += &format!("; open loop {r:.0} msgs/s");
    }
    println!("  detail: {detail}");
    let p = |v: &[u64], q| ms(percentile(v, q));
    println!(
        "result: msgs={} secs={elapsed:.3} rate={rate:.1} failed={failed} lat250_p50_ms={} lat250_p99_ms={} sink_p50_ms={} sink_p99_ms={} cpu_ms_per_msg={cpu_ms:.3}",
        args.messages,
        p(&to_250, 50.0),
        p(&to_250, 99.0),
        p(&to_sink, 50.0),
        p(&to_sink, 99.0),
    );
    if failed > 0 {
        let first = load.first_error.lock().ok().and_then(|f| f.clone());
        bail!(
            "{failed} of {} messages failed; first: {}",
            args.messages,
            first.unwrap_or_default()
        );
    }
    Ok(())
}

async fn hold(args: HoldArgs) -> Result<()> {
    let tls = if args.tls {
        Some(tls::connector()?)
    } else {
        None
    };
    let open = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    // Connection attempts in flight: enough to open 1000 in a second or
    // two, few enough not to overrun the listen backlog.
    let connecting = Arc::new(Semaphore::new(64));
    let release = Arc::new(tokio::sync::Notify::new());
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let mut tasks = Vec::new();
    for _ in 0..args.count {
        let (tls, open, failed, connecting, release, first_error) = (
            tls.clone(),
            open.clone(),
            failed.clone(),
            connecting.clone(),
            release.clone(),
            first_error.clone(),
        );
        let (target, trickle) = (args.target, args.trickle);
        tasks.push(tokio::spawn(async move {
            let released = release.notified();
            tokio::pin!(released);
            let conn = {
                let _slot = connecting.acquire().await;
                let opened = match Conn::open(target, tls.as_ref()).await {
                    Ok(mut c) if trickle => match c.begin("user@example.com").await {
                        Ok(()) => Ok(c),
                        Err(SendError::Permanent(e) | SendError::Transient(e)) => Err(e),
                    },
                    Ok(c) => Ok(c),
                    Err(e) => Err(format!("{e:#}")),
                };
                opened
                    .map_err(|e| {
                        if let Ok(mut first) = first_error.lock() {
                            first.get_or_insert(e);
                        }
                    })
                    .ok()
            };
            let Some(mut conn) = conn else {
                failed.fetch_add(1, Relaxed);
                return;
            };
            open.fetch_add(1, Relaxed);
            if trickle {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        () = &mut released => break,
                        _ = tick.tick() => if conn.write(b"trickling along, one line a second\r\n").await.is_err() {
                            return;
                        },
                    }
                }
                // Dropped inside DATA: the relay discards the partial message.
            } else {
                released.await;
                conn.quit().await;
            }
        }));
    }
    while open.load(Relaxed) + failed.load(Relaxed) < args.count {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mode = if args.trickle { "trickle" } else { "idle" };
    println!(
        "bench-smtp hold: {} connections open ({mode}), {} failed",
        open.load(Relaxed),
        failed.load(Relaxed)
    );
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    release.notify_waiters();
    for t in tasks {
        let _ = t.await;
    }
    println!("bench-smtp hold: released after {} s", args.secs);
    if failed.load(Relaxed) > 0 {
        let first = first_error.lock().ok().and_then(|f| f.clone());
        bail!(
            "{} of {} connections failed; first: {}",
            failed.load(Relaxed),
            args.count,
            first.unwrap_or_default()
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().context("tokio runtime")?;
    rt.block_on(async {
        match cli.command {
            Command::Run(a) => run(a).await,
            Command::Hold(a) => hold(a).await,
        }
    })
}
