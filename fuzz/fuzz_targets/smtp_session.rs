//! The SMTP server session (sans-I/O) fed arbitrary bytes in arbitrary
//! pieces, on the factory IncomingMail listener with a RAT row for
//! example.com. Properties: no panic; every feed makes progress or asks
//! the driver for something; spooled chunks stay bounded; an enqueued
//! record's size is what was spooled; nothing is enqueued for a recipient
//! the RAT does not accept.
#![no_main]

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use breakwater::config::{Certificate, RatAction, RatEntry};
use breakwater::ids::Mid;
use breakwater::smtp_in::budget::ReceptionBudget;
use breakwater::smtp_in::hat;
use breakwater::smtp_in::limits::HourlyRecipients;
use breakwater::smtp_in::session::{Action, Connection, SPOOL_CHUNK, Session, SessionServices};
use libfuzzer_sys::fuzz_target;

struct World {
    services: SessionServices,
    listener: Arc<breakwater::config::ListenerConfig>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let board = breakwater_board::BoardProfile::builtin("dev").expect("dev board");
        let cert = Certificate {
            name: "Demo".into(),
            cert_pem: String::new(),
            key_pem: String::new(),
        };
        let cfg = breakwater::config::factory::factory_config(&board, cert);
        let mut listener = cfg.listener("IncomingMail").expect("factory listener").clone();
        listener.rat.insert(
            0,
            RatEntry {
                address: "example.com".into(),
                action: RatAction::Accept,
                code: None,
                text: None,
                bypass_receiving_control: false,
            },
        );
        World {
            services: SessionServices {
                hourly: Arc::new(HourlyRecipients::default()),
                budget: ReceptionBudget::new(64 * 1024 * 1024),
                clock: breakwater::clock::now,
            },
            listener: Arc::new(listener),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let ip: IpAddr = "198.51.100.7".parse().expect("ip");
    let Some(hat) = hat::classify(&w.listener, ip, None) else {
        return;
    };
    let conn = Connection {
        icid: breakwater::ids::Icid(1),
        hostname: "gw.test".into(),
        listener: w.listener.clone(),
        interface: "Data 1".into(),
        client_ip: ip,
        rdns: None,
        rdns_verified: false,
        hat,
        tls_available: true,
        headers: Default::default(),
        bounce_verification: None,
        // Every accepted recipient goes through the call-ahead step.
        call_ahead: true,
    };
    let mut session = Session::new(conn, w.services.clone());
    let _ = session.greeting();
    // The driver's MID allocator.
    let mut next_mid = 0u64;
    let mut spooled: u64 = 0;
    let mut inbuf: Vec<u8> = Vec::new();
    for part in input.chunks(piece) {
        inbuf.extend_from_slice(part);
        loop {
            if session.is_closed() || inbuf.is_empty() {
                break;
            }
            let (used, actions) = session.feed(&inbuf);
            inbuf.drain(..used);
            // The driver takes the events after every call: they never pile up.
            let _ = session.take_events();
            let mut asked = false;
            for a in actions {
                match a {
                    Action::Reply(r) => assert!(!r.contains('\n') || r.contains("\r\n")),
                    Action::Spool(_, bytes) => {
                        assert!(bytes.len() <= SPOOL_CHUNK + 3);
                        spooled += bytes.len() as u64;
                        asked = true;
                    }
                    Action::Enqueue(m) => {
                        let (record, tail) = *m;
                        assert_eq!(record.body_size, spooled + tail.len() as u64);
                        for r in &record.recipients {
                            assert!(r.address.to_ascii_lowercase().ends_with("@example.com"));
                        }
                        spooled = 0;
                        let mid: Mid = record.mid;
                        let _ = session.enqueued(Ok(mid));
                        asked = true;
                    }
                    Action::StartTls => {
                        session.tls_started("TLSv1.3".into(), "TLS13_AES_128_GCM_SHA256".into());
                        asked = true;
                    }
                    Action::Discard => {
                        spooled = 0;
                        asked = true;
                    }
                    Action::NeedMid => {
                        next_mid += 1;
                        let _ = session.mid_allocated(Some(Mid(next_mid)));
                        asked = true;
                    }
                    Action::ValidateRecipient(rcpt) => {
                        // The next hop knows every other recipient.
                        let unknown = rcpt.len() % 2 == 1;
                        let refusal = unknown.then(|| "550 5.1.1 User unknown".to_string());
                        let _ = session.recipient_validated(refusal);
                        asked = true;
                    }
                    Action::Close => asked = true,
                }
            }
            if used == 0 && !asked {
                break;
            }
        }
    }
    session.closed();
});
