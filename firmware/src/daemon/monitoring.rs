//! The daemon's answers to the cut-over monitoring and network checks (`rate`, `hostrate`,
//! `topin`, `dnsstatus`, `dnsflush`, `nslookup`, `telnet`, `ping`,
//! `traceroute`): the samples and lookups come from the running gateway;
//! the arguments and the layout are `control::commands::{monitor,
//! nettools}`'s. Called on a blocking thread of the control server, like
//! every [`DaemonStatus::command`](crate::control::DaemonStatus).

use std::net::{IpAddr, SocketAddr};

use crate::control::commands::monitor::{
    self, HOSTRATE_USAGE, HostRateSample, RATE_USAGE, RateSample, TopinRow,
};
use crate::control::commands::nettools;
use crate::dns::{Dns, STATS};
use crate::workqueue::operator;

use super::Status;

impl Status {
    /// The cut-over command `name` with its arguments `rest`; `None` when
    /// it is not one of them.
    pub(super) fn monitoring(&self, name: &str, rest: &[String]) -> Option<Result<String, String>> {
        Some(match (name, rest) {
            ("rate", _) => self.rate(rest),
            ("hostrate", _) => self.hostrate(rest),
            ("topin", []) => Ok(self.topin()),
            ("dnsstatus", []) => Ok(monitor::dnsstatus(
                &STATS.snapshot(),
                self.delivery.dns().servers(),
            )),
            ("dnsflush", []) => {
                // Reception and delivery each keep a resolver (and cache).
                self.reception.dns().clear_cache();
                self.delivery.dns().clear_cache();
                STATS.flushed(chrono::Utc::now());
                tracing::info!("dnsflush: the DNS cache was flushed through the control socket");
                Ok("The DNS cache has been flushed.".to_string())
            }
            ("nslookup", _) => self.nslookup(rest),
            ("telnet", _) => self.telnet(rest),
            ("ping", _) => self.ping(rest),
            ("traceroute", _) => Err(nettools::TRACEROUTE_UNAVAILABLE.to_string()),
            ("topin" | "dnsstatus" | "dnsflush", _) => {
                Err(crate::control::catalog::find(name)?.usage.to_string())
            }
            _ => return None,
        })
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Handle::current().block_on(f)
    }

    fn rate_sample(&self) -> RateSample {
        let (received, completed) = self
            .block_on(self.workqueue.query(|wq| operator::recipient_totals(wq)))
            .unwrap_or_default();
        RateSample {
            connections_in: self
                .reception
                .summary()
                .iter()
                .map(|(_, _, n)| u64::from(*n))
                .sum(),
            connections_out: self
                .delivery
                .connections()
                .values()
                .map(|n| u64::from(*n))
                .sum(),
            recipients_received: received,
            recipients_completed: completed,
            queue_bytes: self.queue.counts().1,
        }
    }

    fn rate(&self, args: &[String]) -> Result<String, String> {
        let watch = monitor::parse_watch(args, RATE_USAGE)?;
        let mut out = monitor::rate_header();
        let mut before = self.rate_sample();
        for _ in 0..watch.count {
            std::thread::sleep(std::time::Duration::from_secs(watch.interval_secs));
            let now = self.rate_sample();
            out.push_str(&monitor::rate_line(&monitor::clock_time(), &before, &now));
            before = now;
        }
        Ok(out)
    }

    fn host_sample(&self, host: &str) -> Result<HostRateSample, String> {
        let host = host.to_string();
        let s = self
            .block_on(
                self.workqueue
                    .query(move |wq| operator::host_sample(wq, &host)),
            )
            .ok_or("The work queue is not running.")?;
        Ok(HostRateSample {
            status: s.status,
            connections_out: s.connections_out,
            active_recipients: s.active_recipients,
            delivered: s.delivered,
            hard_bounced: s.hard_bounced,
            soft_bounced: s.soft_bounced,
        })
    }

    fn hostrate(&self, args: &[String]) -> Result<String, String> {
        let (host, rest) = args
            .split_first()
            .ok_or_else(|| HOSTRATE_USAGE.to_string())?;
        let watch = monitor::parse_watch(rest, HOSTRATE_USAGE)?;
        let host = host.to_ascii_lowercase();
        let mut out = monitor::hostrate_header(&host);
        let mut before = self.host_sample(&host)?;
        for _ in 0..watch.count {
            std::thread::sleep(std::time::Duration::from_secs(watch.interval_secs));
            let now = self.host_sample(&host)?;
            out.push_str(&monitor::hostrate_line(
                &monitor::clock_time(),
                &before,
                &now,
            ));
            before = now;
        }
        Ok(out)
    }

    fn topin(&self) -> String {
        let mut rows: Vec<TopinRow> = self
            .reception
            .clients()
            .into_iter()
            .map(|(listener, address, connections)| TopinRow {
                hostname: None,
                address,
                listener,
                connections,
            })
            .collect();
        monitor::topin_order(&mut rows);
        // The names as reception sees them: a PTR its A/AAAA confirms
        // (AsyncOS shows the address otherwise). Bounded by dnsconfig's
        // timeout per lookup, at most TOPIN_ROWS of them.
        let dns = self.reception.dns();
        for row in &mut rows {
            let found = self.block_on(dns.reverse(row.address));
            row.hostname = found.name.filter(|_| found.verified);
        }
        monitor::topin(&rows)
    }

    fn nslookup(&self, args: &[String]) -> Result<String, String> {
        let (name, rtype) = nettools::parse_nslookup(args)?;
        let found = self.block_on(self.delivery.dns().query(&name, &rtype));
        nettools::nslookup_answer(&name, &rtype, found)
    }

    /// One of `host`'s addresses through the gateway's resolver: an IPv4
    /// one when `v4_first` (the source interface's family), else IPv6.
    fn resolve(&self, dns: &Dns, host: &str, v4_first: bool) -> Result<IpAddr, String> {
        let mut found = self
            .block_on(dns.addresses(host))
            .map_err(|e| format!("Cannot resolve {host}: {e}"))?;
        found.sort_by_key(|ip| ip.is_ipv4() != v4_first);
        found
            .first()
            .copied()
            .ok_or_else(|| format!("Cannot resolve {host}: no address."))
    }

    fn telnet(&self, args: &[String]) -> Result<String, String> {
        let config = self.config.borrow().clone();
        let request = nettools::parse_telnet(args, &config)?;
        let v4 = request.source.as_ref().is_none_or(|(_, ip)| ip.is_ipv4());
        let ip = self.resolve(&self.delivery.dns(), &request.host, v4)?;
        nettools::telnet(SocketAddr::new(ip, request.port), request.source.as_ref())
    }

    fn ping(&self, args: &[String]) -> Result<String, String> {
        let (host, count) = nettools::parse_ping(args)?;
        let ip = self.resolve(&self.delivery.dns(), &host, true)?;
        nettools::ping(&host, ip, count)
    }
}
