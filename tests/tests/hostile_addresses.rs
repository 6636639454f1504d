//! Relay tricks in MAIL FROM and RCPT TO, on both listeners. The RAT of
//! `IncomingMail` accepts `example.com` only; `external.example` has an
//! SMTP route to the same next hop, so a trick that relays there shows up
//! in the next hop's dump as a RCPT for `external.example`. Each trick is
//! either refused or delivered to `example.com`, never read as another
//! address or a parameter: a quoted local part stays quoted up to the next
//! hop, and control characters and 8-bit bytes without SMTPUTF8 are
//! refused with 501 or 553.

use std::fs;

use breakwater_e2e::hostile::{
    Side, assert_both_served, assert_sink_holds_exactly, hostile_world, open,
};
use breakwater_e2e::{SOON, SinkMessage, World, simple_message};

/// The domain an attacker wants to reach through the gateway.
const EXTERNAL: &str = "external.example";

/// What a trick may lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 501 or 553: a malformed address (control characters, 8-bit without
    /// SMTPUTF8).
    Malformed,
    /// Any refusal (4xx/5xx) on `IncomingMail`; on `OutgoingMail`, whose
    /// clients may relay anywhere, accepted or refused, but never split.
    NotRelayedInbound,
    /// Refused, or delivered to `example.com` (and nowhere else) on either
    /// listener.
    LocalOrRefused,
    /// A legitimate address in another spelling: accepted on both.
    Accepted,
}

struct Trick {
    name: &'static str,
    /// The bytes between `RCPT TO:<` and `>`.
    rcpt: &'static [u8],
    expect: Expect,
}

const TRICKS: &[Trick] = &[
    Trick {
        name: "quoted local part with a fake '>' and ORCPT",
        rcpt: b"\"victim@external.example> ORCPT=rfc822;x\"@example.com",
        expect: Expect::LocalOrRefused,
    },
    Trick {
        name: "ESC in the local part",
        rcpt: b"vic\x1btim@example.com",
        expect: Expect::Malformed,
    },
    Trick {
        name: "C0 control (SOH) in the local part",
        rcpt: b"vic\x01tim@example.com",
        expect: Expect::Malformed,
    },
    Trick {
        name: "DEL in the local part",
        rcpt: b"vic\x7ftim@example.com",
        expect: Expect::Malformed,
    },
    Trick {
        name: "NUL in the local part",
        rcpt: b"vic\x00tim@example.com",
        expect: Expect::Malformed,
    },
    Trick {
        name: "UTF-8 without SMTPUTF8",
        rcpt: "vïctim@example.com".as_bytes(),
        expect: Expect::Malformed,
    },
    Trick {
        name: "Latin-1 byte without SMTPUTF8",
        rcpt: b"v\xefctim@example.com",
        expect: Expect::Malformed,
    },
    Trick {
        name: "ESC in the domain",
        rcpt: b"victim@exam\x1bple.com",
        expect: Expect::Malformed,
    },
    Trick {
        name: "percent hack",
        rcpt: b"victim%external.example@example.com",
        expect: Expect::LocalOrRefused,
    },
    Trick {
        name: "bang path",
        rcpt: b"external.example!victim@example.com",
        expect: Expect::LocalOrRefused,
    },
    Trick {
        name: "source route to an external address",
        rcpt: b"@example.com:victim@external.example",
        expect: Expect::NotRelayedInbound,
    },
    Trick {
        name: "IP literal",
        rcpt: b"victim@[192.0.2.1]",
        expect: Expect::NotRelayedInbound,
    },
    Trick {
        name: "trailing dot",
        rcpt: b"victim@example.com.",
        expect: Expect::LocalOrRefused,
    },
    Trick {
        name: "mixed case",
        rcpt: b"Victim@EXAMPLE.COM",
        expect: Expect::Accepted,
    },
    Trick {
        name: "mixed case external domain",
        rcpt: b"victim@EXTERNAL.Example",
        expect: Expect::NotRelayedInbound,
    },
    Trick {
        name: "empty local part",
        rcpt: b"@example.com",
        expect: Expect::LocalOrRefused,
    },
    Trick {
        name: "empty quoted local part",
        rcpt: b"\"\"@example.com",
        expect: Expect::LocalOrRefused,
    },
];

/// `hostile_world` plus an SMTP route for `external.example` to the same
/// next hop: mail relayed there is visible in the dumps.
fn world() -> World {
    let w = hostile_world();
    let route = w.net.sink_route();
    w.gw.cli_ok(&["smtproutes", "new", EXTERNAL, &route]);
    w.gw.cli_ok(&["commit", "e2e: route external.example to the sink"]);
    w
}

/// `X-Rcpt-Args` lines of a dump, as smtp-sink wrote them (the address
/// with its brackets and any parameters).
fn rcpt_args(m: &SinkMessage) -> Vec<String> {
    let dump = fs::read(&m.file).expect("read the dump");
    String::from_utf8_lossy(&dump)
        .lines()
        .take_while(|l| !l.starts_with("Received: "))
        .filter_map(|l| l.strip_prefix("X-Rcpt-Args: "))
        .map(str::to_string)
        .collect()
}

/// The domain of an address as the next hop reads it (after the last `@`),
/// lower-cased, without a trailing dot.
fn domain(addr: &str) -> String {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default()
}

/// Tries `trick` as the only recipient of a transaction on `side`; returns
/// the RCPT reply code and, when accepted, the Message-ID it was sent with.
fn try_rcpt(w: &World, side: Side, i: usize, trick: &Trick) -> (u16, Option<String>) {
    let mut conn = open(w, side, 20);
    assert_eq!(
        conn.cmd("MAIL FROM:<tester@internet.example>")
            .expect("MAIL")
            .code,
        250
    );
    let mut line = b"RCPT TO:<".to_vec();
    line.extend_from_slice(trick.rcpt);
    line.extend_from_slice(b">\r\n");
    conn.send_raw(&line).expect("RCPT");
    let r = conn.read_reply().expect("reply to RCPT");
    let case = format!("{side}, {}", trick.name);
    if r.code != 250 {
        assert!((400..600).contains(&r.code), "{case}: {r}");
        let _ = conn.cmd("QUIT");
        return (r.code, None);
    }
    let id = format!("addr-{}-{i}@e2e.test", side.listener().to_lowercase());
    assert_eq!(conn.cmd("DATA").expect("DATA").code, 354, "{case}");
    let msg = simple_message(
        "tester@internet.example",
        "victim@example.com",
        &id,
        "trick",
    );
    conn.send_raw(&msg).expect("message");
    let done = conn.cmd(".").expect("reply to the end of data");
    assert_eq!(
        done.code, 250,
        "{case}: RCPT was accepted, so is DATA: {done}"
    );
    assert_eq!(conn.cmd("QUIT").expect("QUIT").code, 221);
    (r.code, Some(id))
}

#[test]
fn relay_tricks_in_rcpt_to_are_refused_or_delivered_locally_on_both_listeners() {
    let w = world();
    let mut expected = Vec::new();
    let mut accepted = Vec::new();
    for side in Side::BOTH {
        for (i, trick) in TRICKS.iter().enumerate() {
            let (code, id) = try_rcpt(&w, side, i, trick);
            let case = format!("{side}, {}", trick.name);
            match (trick.expect, side) {
                (Expect::Malformed, _) => assert!(
                    code == 501 || code == 553,
                    "{case}: a malformed address gets 501 or 553, got {code}"
                ),
                (Expect::NotRelayedInbound, Side::Incoming) => {
                    assert!(
                        code >= 400,
                        "{case}: must be refused on the public listener"
                    )
                }
                (Expect::Accepted, _) => assert_eq!(code, 250, "{case}"),
                _ => {}
            }
            if let Some(id) = id {
                // An IP literal on the relaying listener goes to that
                // (unroutable) address: accepted, never at our next hop.
                if !trick.rcpt.starts_with(b"victim@[") {
                    expected.push(id.clone());
                }
                accepted.push((side, trick, id));
            }
        }
    }
    assert_both_served(&w, "addr", (50, 51), &mut expected);
    // Every accepted trick is checked below, against the next hop's dump.
    assert_sink_holds_exactly(&w, &expected, &[]);

    for (side, trick, id) in accepted {
        let case = format!("{side}, {}", trick.name);
        let Some(m) = w.sink.wait_for_message_id(&id, SOON) else {
            continue;
        };
        let args = rcpt_args(&m);
        assert_eq!(args.len(), 1, "{case}: one RCPT at the next hop: {args:?}");
        let arg = &args[0];
        let original = String::from_utf8_lossy(trick.rcpt);
        if trick.rcpt.starts_with(b"\"") {
            // Quoted stays quoted: one address, no parameter.
            assert_eq!(
                arg,
                &format!("<{original}>"),
                "{case}: the quoted local part must reach the next hop quoted"
            );
        }
        assert!(
            arg.starts_with('<') && arg.ends_with('>'),
            "{case}: one address, no parameters: {arg}"
        );
        let addr = &arg[1..arg.len() - 1];
        let outbound_relay = side == Side::Outgoing && trick.expect == Expect::NotRelayedInbound;
        if !outbound_relay {
            assert_eq!(
                domain(addr),
                "example.com",
                "{case}: accepted, so delivered to example.com only: {arg}"
            );
        }
        if trick.expect == Expect::Accepted {
            assert!(
                addr.eq_ignore_ascii_case("victim@example.com"),
                "{case}: {arg}"
            );
        }
    }
}

#[test]
fn control_characters_and_8bit_in_mail_from_get_501_or_553_on_both_listeners() {
    let w = world();
    let senders: [&[u8]; 5] = [
        b"ev\x1bil@internet.example",
        b"ev\x01il@internet.example",
        b"ev\x7fil@internet.example",
        "évil@internet.example".as_bytes(),
        b"evil@inter\xe9net.example",
    ];
    for side in Side::BOTH {
        for sender in senders {
            let mut conn = open(&w, side, 22);
            let mut line = b"MAIL FROM:<".to_vec();
            line.extend_from_slice(sender);
            line.extend_from_slice(b">\r\n");
            conn.send_raw(&line).expect("MAIL");
            let r = conn.read_reply().expect("reply to MAIL");
            assert!(
                r.code == 501 || r.code == 553,
                "{side}, MAIL FROM:<{}>: 501 or 553 without SMTPUTF8, got {r}",
                String::from_utf8_lossy(sender).escape_debug()
            );
            let _ = conn.cmd("QUIT");
        }
    }
    let mut expected = Vec::new();
    assert_both_served(&w, "sender", (52, 53), &mut expected);
    assert_sink_holds_exactly(&w, &expected, &[]);
}
