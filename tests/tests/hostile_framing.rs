//! SMTP smuggling, tried as an attacker would, on both listeners: a message
//! whose body carries a fake end of data followed by a second, spoofed
//! transaction (`MAIL FROM:<ceo@example.com>` … `RCPT
//! TO:<smuggled@example.com>`). Only `<CR><LF>.<CR><LF>` ends DATA, so the
//! spoofed transaction must never be accepted and never reach the next hop,
//! in Strict mode (the message is refused, 550 5.6.0) and in Lenient mode
//! (bare CR and LF become CRLF: one message, delivered whole). Content sent
//! before the server's go-ahead is refused (554 5.5.0) and the connection
//! closed. Every test ends with a normal client served on both listeners
//! and the next hop holding exactly the legitimate messages.

use std::time::Duration;

use breakwater_e2e::hostile::{
    Side, assert_both_served, assert_sink_holds_exactly, hostile_world, open, replies_until_close,
    set_crlf,
};
use breakwater_e2e::{Reply, World};

/// The recipient of the smuggled transaction: it must never be accepted.
const SMUGGLED_RCPT: &str = "smuggled@example.com";

/// The second transaction an attacker hides behind a fake end of data,
/// ending with the real end of data of the whole payload.
const SMUGGLED_DATA: &[u8] = b"MAIL FROM:<ceo@example.com>\r\n\
RCPT TO:<smuggled@example.com>\r\n\
DATA\r\n\
From: <ceo@example.com>\r\n\
To: <smuggled@example.com>\r\n\
Message-ID: <smuggled@e2e.test>\r\n\
Subject: please wire the money today\r\n\
\r\n\
This message was smuggled.\r\n\
.\r\n";

/// The same, for a server that speaks BDAT: the commands that follow a
/// `BDAT n LAST` chunk.
fn smuggled_bdat() -> Vec<u8> {
    let msg =
        b"From: <ceo@example.com>\r\nMessage-ID: <smuggled-bdat@e2e.test>\r\n\r\nsmuggled\r\n";
    let mut out = Vec::new();
    out.extend_from_slice(b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<smuggled@example.com>\r\n");
    out.extend_from_slice(format!("BDAT {} LAST\r\n", msg.len()).as_bytes());
    out.extend_from_slice(msg);
    out
}

/// A fake end of data (or a bare line end) placed right after a body line.
struct Variant {
    name: &'static str,
    bytes: &'static [u8],
    /// Whether it holds a bare CR or LF (Strict refuses those).
    bare: bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "bare LF",
        bytes: b"\n",
        bare: true,
    },
    Variant {
        name: "bare CR",
        bytes: b"\r",
        bare: true,
    },
    Variant {
        name: "LF . LF",
        bytes: b"\n.\n",
        bare: true,
    },
    Variant {
        name: "LF . CRLF",
        bytes: b"\n.\r\n",
        bare: true,
    },
    Variant {
        name: "CRLF . LF",
        bytes: b"\r\n.\n",
        bare: true,
    },
    Variant {
        name: "CR . CR",
        bytes: b"\r.\r",
        bare: true,
    },
    Variant {
        name: "CRLF . CR",
        bytes: b"\r\n.\r",
        bare: true,
    },
    Variant {
        name: "CRLF . CR CRLF",
        bytes: b"\r\n.\r\r\n",
        bare: true,
    },
    Variant {
        name: "CR LF . CR NUL LF",
        bytes: b"\r\n.\r\0\n",
        bare: true,
    },
    Variant {
        name: "CRLF NUL . CRLF",
        bytes: b"\r\n\0.\r\n",
        bare: false,
    },
    Variant {
        name: "CRLF . NUL CRLF",
        bytes: b"\r\n.\0\r\n",
        bare: false,
    },
];

/// The legitimate message (`Message-ID: <id>`) with `variant` after its
/// first body line and the smuggled transaction after that; over DATA the
/// payload ends with the smuggled message's (real) end of data.
fn payload(id: &str, variant: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"From: <tester@internet.example>\r\nTo: <alice@example.com>\r\n");
    m.extend_from_slice(format!("Message-ID: <{id}>\r\nSubject: framing\r\n\r\n").as_bytes());
    m.extend_from_slice(b"first body line");
    m.extend_from_slice(variant);
    m.extend_from_slice(SMUGGLED_DATA);
    m
}

/// A Message-ID for one case: `frame-<listener>-<how>-<variant #>@e2e.test`.
fn case_id(side: Side, how: &str, i: usize) -> String {
    format!(
        "frame-{}-{how}-{i}@e2e.test",
        side.listener().to_lowercase()
    )
}

fn codes(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.code).collect()
}

/// Sends the envelope, waits for 354, sends the payload, and returns the
/// one reply to it; then QUIT must be answered 221 (a smuggled command
/// would have answered first).
fn data_alone(w: &World, side: Side, id: &str, variant: &Variant) -> Reply {
    let mut conn = open(w, side, 10);
    conn.start_data("tester@internet.example", "alice@example.com");
    conn.send_raw(&payload(id, variant.bytes)).expect("payload");
    let reply = conn.read_reply().expect("one reply to the end of data");
    let quit = conn.cmd("QUIT").expect("reply to QUIT");
    assert_eq!(
        quit.code, 221,
        "{side}, DATA, {}: the reply after the end of data must be QUIT's, got {quit} (a smuggled command ran)",
        variant.name
    );
    reply
}

/// The envelope, then one `BDAT n LAST` chunk holding the payload (the fake
/// end of data is only content there: BDAT has no dot), one reply to it,
/// then QUIT answered 221.
fn bdat_alone(w: &World, side: Side, id: &str, variant: &Variant) -> Reply {
    let mut conn = open(w, side, 11);
    assert_eq!(
        conn.cmd("MAIL FROM:<tester@internet.example>")
            .expect("MAIL")
            .code,
        250
    );
    assert_eq!(
        conn.cmd("RCPT TO:<alice@example.com>").expect("RCPT").code,
        250
    );
    let body = payload(id, variant.bytes);
    let mut chunk = format!("BDAT {} LAST\r\n", body.len()).into_bytes();
    chunk.extend_from_slice(&body);
    conn.send_raw(&chunk).expect("BDAT chunk");
    let reply = conn.read_reply().expect("one reply to BDAT LAST");
    let quit = conn.cmd("QUIT").expect("reply to QUIT");
    assert_eq!(
        quit.code, 221,
        "{side}, BDAT, {}: the reply after BDAT LAST must be QUIT's, got {quit}",
        variant.name
    );
    reply
}

/// Strict or Lenient, DATA or BDAT, every variant on both listeners. Strict
/// refuses what holds a bare CR or LF with 550 5.6.0 and keeps nothing;
/// Lenient takes each as one message. A variant without a bare CR or LF
/// (the NUL tricks) is one message too, refused or accepted whole. Returns
/// the Message-IDs that must reach the next hop.
fn every_variant(w: &World, mode: &str, bdat: bool) -> Vec<String> {
    let how = if bdat { "bdat" } else { "data" };
    let mut delivered = Vec::new();
    for side in Side::BOTH {
        for (i, variant) in VARIANTS.iter().enumerate() {
            let id = case_id(side, &format!("{mode}-{how}"), i);
            let reply = if bdat {
                bdat_alone(w, side, &id, variant)
            } else {
                data_alone(w, side, &id, variant)
            };
            let case = format!("{mode}, {side}, {how}, {}", variant.name);
            match (mode, variant.bare) {
                ("strict", true) => {
                    assert_eq!(reply.code, 550, "{case}: {reply}");
                    assert!(
                        reply.text().starts_with("5.6.0"),
                        "{case}: enhanced status 5.6.0: {reply}"
                    );
                }
                ("lenient", true) => {
                    assert_eq!(reply.code, 250, "{case}: one message, accepted: {reply}");
                    delivered.push(id);
                }
                _ => {
                    assert!(
                        reply.code == 250 || (500..600).contains(&reply.code),
                        "{case}: accepted or refused whole: {reply}"
                    );
                    if reply.code == 250 {
                        delivered.push(id);
                    }
                }
            }
        }
    }
    delivered
}

/// The end of every such test: a normal client on both listeners, then the
/// next hop holds exactly the legitimate messages, and a Lenient message
/// arrived whole: the smuggled commands are a line of its body.
fn still_served_and_nothing_smuggled(w: &World, mut delivered: Vec<String>, tag: &str) {
    assert_both_served(w, tag, (40, 41), &mut delivered);
    assert_sink_holds_exactly(w, &delivered, &[SMUGGLED_RCPT]);
    for m in w.sink.messages() {
        if m.message_id().is_some_and(|id| id.starts_with("frame-")) {
            let raw = String::from_utf8_lossy(&m.raw);
            assert!(
                raw.contains("\r\nMAIL FROM:<ceo@example.com>\r\n"),
                "{}: the smuggled commands must arrive as body lines of the one message:\n{raw}",
                m.file.display()
            );
            assert_eq!(m.rcpts, ["alice@example.com"], "{}", m.file.display());
        }
    }
}

#[test]
fn strict_data_refuses_every_fake_end_of_data_on_both_listeners() {
    let w = hostile_world();
    let delivered = every_variant(&w, "strict", false);
    still_served_and_nothing_smuggled(&w, delivered, "strict-data");
}

#[test]
fn strict_bdat_refuses_bare_cr_and_lf_on_both_listeners() {
    let w = hostile_world();
    let delivered = every_variant(&w, "strict", true);
    still_served_and_nothing_smuggled(&w, delivered, "strict-bdat");
}

#[test]
fn lenient_data_keeps_each_fake_end_of_data_inside_one_message() {
    let w = hostile_world();
    set_crlf(&w, "lenient");
    let delivered = every_variant(&w, "lenient", false);
    still_served_and_nothing_smuggled(&w, delivered, "lenient-data");
}

#[test]
fn lenient_bdat_normalises_and_the_next_hop_sees_one_message() {
    let w = hostile_world();
    set_crlf(&w, "lenient");
    let delivered = every_variant(&w, "lenient", true);
    still_served_and_nothing_smuggled(&w, delivered, "lenient-bdat");
}

/// MAIL, RCPT, DATA and the whole payload in one write: the content came
/// before the 354, so the server refuses it (554 5.5.0, protocol
/// synchronization) and hangs up, in either CR/LF mode.
fn pipelined_data(w: &World, side: Side, id: &str, variant: &Variant) -> (Vec<Reply>, bool) {
    let mut conn = open(w, side, 12);
    let mut all =
        b"MAIL FROM:<tester@internet.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n".to_vec();
    all.extend_from_slice(&payload(id, variant.bytes));
    conn.send_raw(&all).expect("pipelined payload");
    replies_until_close(&mut conn, Duration::from_secs(30))
}

/// MAIL, RCPT and `BDAT n LAST` with its chunk, then a second transaction,
/// all in one write: what follows BDAT LAST before its reply is refused
/// (554 5.5.0) and the connection closed.
fn pipelined_bdat(w: &World, side: Side, id: &str, variant: &Variant) -> (Vec<Reply>, bool) {
    let mut conn = open(w, side, 13);
    let body = payload(id, variant.bytes);
    let mut all =
        b"MAIL FROM:<tester@internet.example>\r\nRCPT TO:<alice@example.com>\r\n".to_vec();
    all.extend_from_slice(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
    all.extend_from_slice(&body);
    all.extend_from_slice(&smuggled_bdat());
    conn.send_raw(&all).expect("pipelined BDAT");
    replies_until_close(&mut conn, Duration::from_secs(30))
}

/// The replies to a pipelined attack: MAIL and RCPT accepted, then
/// `554 5.5.0` instead of any reply to the message, and the connection
/// closed (the one message is dropped with the rest).
fn assert_synchronization_refused(case: &str, replies: &[Reply], closed: bool) {
    assert_eq!(
        codes(replies),
        [250, 250, 554],
        "{case}: MAIL and RCPT accepted, then 554: {replies:?}"
    );
    assert!(
        replies[2].text().starts_with("5.5.0"),
        "{case}: 554 5.5.0 protocol synchronization: {replies:?}"
    );
    assert!(closed, "{case}: the connection is closed after 554 5.5.0");
}

/// One pipelining violation sent for a variant: the replies until the
/// connection closed, and whether it closed.
type PipelinedCase = fn(&World, Side, &str, &Variant) -> (Vec<Reply>, bool);

/// Sends every variant with `send` (a pipelining violation), in both CR/LF
/// modes on both listeners, and asserts each is refused with 554 5.5.0 and
/// the connection closed; then normal clients are served and nothing was
/// smuggled through.
fn assert_every_pipelined_case_refused(what: &str, send: PipelinedCase) {
    let w = hostile_world();
    for mode in ["strict", "lenient"] {
        set_crlf(&w, mode);
        for side in Side::BOTH {
            for (i, variant) in VARIANTS.iter().enumerate() {
                let id = case_id(side, &format!("{mode}-pipelined-{what}"), i);
                let (replies, closed) = send(&w, side, &id, variant);
                let case = format!("{mode}, {side}, pipelined {what}, {}", variant.name);
                assert_synchronization_refused(&case, &replies, closed);
            }
        }
    }
    still_served_and_nothing_smuggled(&w, Vec::new(), &format!("pipelined-{what}"));
}

#[test]
fn data_content_before_354_is_refused_554_5_5_0_in_both_modes() {
    assert_every_pipelined_case_refused("data", pipelined_data);
}

#[test]
fn commands_after_bdat_last_are_refused_554_5_5_0_in_both_modes() {
    assert_every_pipelined_case_refused("bdat", pipelined_bdat);
}

#[test]
fn commands_pipelined_after_quit_never_run_on_both_listeners() {
    let w = hostile_world();
    for side in Side::BOTH {
        let mut conn = open(&w, side, 16);
        let mut all = b"QUIT\r\n".to_vec();
        all.extend_from_slice(SMUGGLED_DATA);
        conn.send_raw(&all)
            .expect("QUIT and a transaction behind it");
        let (replies, closed) = replies_until_close(&mut conn, Duration::from_secs(30));
        assert!(closed, "{side}: QUIT closes the connection: {replies:?}");
        assert!(
            matches!(codes(&replies).as_slice(), [221] | [554]),
            "{side}: one reply (221, or 554 5.5.0), nothing for the commands behind QUIT: {replies:?}"
        );
    }
    still_served_and_nothing_smuggled(&w, Vec::new(), "after-quit");
}

/// `STARTTLS` with plaintext commands behind it in the same packet: the
/// plaintext must not run (RFC 3207: discarded, or the session refused),
/// so after the handshake there is no transaction and nothing injected
/// reaches the next hop. Python's ssl module does the TLS side.
const STARTTLS_SCRIPT: &str = r#"
import json, socket, ssl, sys
host, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=30, source_address=(source, 0))
f = s.makefile("rb")
def reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return {"code": 0, "text": "closed", "lines": lines}
        lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return {"code": int(line[:3]), "text": lines[-1][4:], "lines": lines}
out = {"banner": reply(f)}
s.sendall(b"EHLO injector.e2e.test\r\n")
out["ehlo"] = reply(f)
s.sendall(b"STARTTLS\r\nMAIL FROM:<ceo@example.com>\r\nRCPT TO:<smuggled@example.com>\r\nDATA\r\n")
out["starttls"] = reply(f)
if out["starttls"]["code"] == 220:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        t = ctx.wrap_socket(s, server_hostname=host)
        tf = t.makefile("rb")
        t.sendall(b"EHLO injector.e2e.test\r\n")
        out["tls_ehlo"] = reply(tf)
        t.sendall(b"DATA\r\n")
        out["tls_data"] = reply(tf)
        t.sendall(b"RCPT TO:<alice@example.com>\r\n")
        out["tls_rcpt"] = reply(tf)
        t.sendall(b"QUIT\r\n")
        out["tls_quit"] = reply(tf)
    except Exception as e:
        out["tls_error"] = type(e).__name__ + ": " + str(e)
else:
    out["after"] = reply(f)
print(json.dumps(out))
"#;

#[test]
fn starttls_with_pipelined_plaintext_runs_nothing_on_both_listeners() {
    let w = hostile_world();
    for (side, x) in [(Side::Incoming, 14), (Side::Outgoing, 15)] {
        let addr = side.addr(&w);
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(STARTTLS_SCRIPT)
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .arg(w.net.client(x).to_string())
            .output()
            .expect("run python3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "STARTTLS script failed on {side}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("script output {stdout:?}: {e}"));
        let code = |k: &str| v[k]["code"].as_u64();
        assert_eq!(code("banner"), Some(220), "{side}: {v}");
        assert_eq!(code("ehlo"), Some(250), "{side}: {v}");
        match code("starttls") {
            // Discarded: TLS starts on a clean slate.
            Some(220) => {
                assert!(v.get("tls_error").is_none(), "{side}: handshake: {v}");
                assert_eq!(code("tls_ehlo"), Some(250), "{side}: {v}");
                assert_eq!(
                    code("tls_data"),
                    Some(503),
                    "{side}: the injected MAIL/RCPT must not have run: {v}"
                );
                assert_eq!(
                    code("tls_rcpt"),
                    Some(503),
                    "{side}: the injected MAIL must not have run: {v}"
                );
                assert_eq!(code("tls_quit"), Some(221), "{side}: {v}");
            }
            // Refused: the pipelined plaintext ends the session.
            Some(554) => {
                assert!(
                    v["starttls"]["text"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("5.5.0")),
                    "{side}: {v}"
                );
                assert_eq!(code("after"), Some(0), "{side}: then closed: {v}");
            }
            other => panic!("{side}: STARTTLS answered {other:?}: {v}"),
        }
    }
    still_served_and_nothing_smuggled(&w, Vec::new(), "starttls");
}
