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

    /// The seeds' outbound set-up, staged: hosts whose verified reverse
    /// DNS is under `.protection.outlook.com` may relay through Data 2
    /// (sender group `RELAY_O365`, policy `RELAYED`), and mail for
    /// `domain` goes to the sink.
    pub fn relay_for_microsoft_365_to_sink(&self, domain: &str) {
        let route = self.net.sink_route();
        self.gw.cli_ok(&[
            "listenerconfig",
            "edit",
            "OutgoingMail",
            "hostaccess",
            "new",
            "sendergroup",
            "RELAY_O365",
            ".protection.outlook.com",
            "--policy",
            "RELAYED",
        ]);
        self.gw.cli_ok(&["smtproutes", "new", domain, &route]);
    }

    /// `user@example.com`.
    #[must_use]
    pub fn local(user: &str) -> String {
        format!("{user}@{LOCAL_DOMAIN}")
    }

    /// Sends one message from `sender@internet.example` to
    /// `alice@example.com` through Data 1 with swaks, from `client_ip`,
    /// with `message_id` and `subject`; waits until the sink has it and the
    /// gateway logged its end. Returns its MID.
    ///
    /// # Panics
    /// When the gateway does not accept it, or it is not delivered soon.
    pub fn deliver_inbound(
        &self,
        client_ip: std::net::Ipv4Addr,
        message_id: &str,
        subject: &str,
    ) -> u64 {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("msg.eml");
        std::fs::write(
            &path,
            format!(
                "From: Sender <sender@internet.example>\r\nTo: Alice <alice@example.com>\r\nMessage-ID: <{message_id}>\r\nSubject: {subject}\r\n\r\nHello Alice.\r\n"
            ),
        )
        .expect("write message");
        let out = crate::Swaks::new(self.net.data1_smtp(), client_ip)
            .from("sender@internet.example")
            .to("alice@example.com")
            .data_file(&path)
            .run();
        let reply = out
            .data_reply()
            .unwrap_or_else(|| panic!("no reply to end of DATA:\n{}", out.transcript));
        assert_eq!(reply.code, 250, "{}", out.transcript);
        let mid = crate::mid_in_reply(&reply.text()).expect("the 250 names the MID");
        self.sink
            .wait_for_message_id(message_id, crate::SOON)
            .expect("the message reaches the sink");
        self.gw
            .wait_for_log(&format!("Message finished MID {mid} done"), crate::SOON);
        mid
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
