//! The set-up most tests share: dnsmasq, smtp-sink and the gateway, with
//! the configuration an administrator makes on day one.

use crate::dns::Dns;
use crate::gateway::Gateway;
use crate::net::TestNet;
use crate::sink::Sink;

/// The organisation's own domain: accepted by the RAT, routed to the sink.
pub const LOCAL_DOMAIN: &str = "example.com";

/// Peers and gateway of one test. Fields drop top to bottom: the gateway
/// first, the address slot last.
#[derive(Debug)]
pub struct World {
    pub gw: Gateway,
    pub sink: Sink,
    pub dns: Dns,
    pub net: TestNet,
}

impl World {
    /// A world whose DNS knows no names.
    #[must_use]
    pub fn start() -> World {
        let net = TestNet::new();
        let dns = Dns::builder(&net).start();
        World::with_dns(net, dns)
    }

    /// Starts the sink and the gateway, then commits the day-one config:
    ///
    /// ```text
    /// dnsconfig servers 127.3.n.53:5353
    /// smtproutes new example.com 127.4.n.25:2525
    /// listenerconfig edit IncomingMail rcptaccess new example.com accept
    /// deliveryconfig retry --initial-secs 1 --max-secs 2
    /// commit "e2e: day one"
    /// ```
    #[must_use]
    pub fn with_dns(net: TestNet, dns: Dns) -> World {
        let sink = Sink::start(&net);
        let gw = Gateway::start(&net);
        let world = World { gw, sink, dns, net };
        let route = world.net.sink_route();
        let dns_server = world.net.dns_server();
        for cmd in [
            vec!["dnsconfig", "servers", dns_server.as_str()],
            vec!["smtproutes", "new", LOCAL_DOMAIN, route.as_str()],
            vec![
                "listenerconfig",
                "edit",
                "IncomingMail",
                "rcptaccess",
                "new",
                LOCAL_DOMAIN,
                "accept",
            ],
            vec![
                "deliveryconfig",
                "retry",
                "--initial-secs",
                "1",
                "--max-secs",
                "2",
            ],
            vec!["commit", "e2e: day one"],
        ] {
            world.gw.cli_ok(&cmd);
        }
        world
    }

    /// `user@example.com`.
    #[must_use]
    pub fn local(user: &str) -> String {
        format!("{user}@{LOCAL_DOMAIN}")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.dns.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- dnsmasq query log (last 20 lines) ----\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
    }
}
