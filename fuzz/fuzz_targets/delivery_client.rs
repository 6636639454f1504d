//! Drives the delivery client's protocol core (sans I/O) through a whole
//! connection (greeting, EHLO, STARTTLS when offered, one transaction,
//! QUIT) against arbitrary bytes as the next hop's replies, read in chunks
//! whose size the first byte chooses; the second byte picks the envelope
//! and body. Properties: no panic; what the core holds stays within one
//! reply's limit plus one read; every step ends (the core never asks for
//! nothing); a transaction answers every recipient given, once.
#![no_main]

use breakwater::delivery::client_core::{ClientCore, ClientError, Finished, MAX_REPLY, Next};
use libfuzzer_sys::fuzz_target;

/// Polls and feeds until the step ends; `None` when it failed.
fn step(core: &mut ClientCore, input: &mut &[u8], chunk: usize) -> Option<Finished> {
    // Each round writes, reads a chunk or ends: the input bounds the reads,
    // the protocol (a handful of commands a step) bounds the rest.
    for _ in 0..(input.len() + 64) {
        let next = match core.poll() {
            Ok(next) => next,
            Err(_) => return None,
        };
        match next {
            Next::Done(finished) => return Some(finished),
            Next::Write(bytes) => assert!(!bytes.is_empty(), "an empty write"),
            Next::UpgradeTls => core.tls_established("gw.test"),
            Next::Read { .. } => {
                if input.is_empty() {
                    let eof = ClientError::Io(std::io::ErrorKind::UnexpectedEof.into());
                    if core.fail(eof).is_err() {
                        return None;
                    }
                    continue;
                }
                let n = input.len().min(chunk);
                let fed = core.feed(&input[..n]);
                *input = &input[n..];
                if fed.is_err() {
                    return None;
                }
            }
        }
        assert!(
            core.buffered() <= MAX_REPLY + chunk,
            "{} bytes held",
            core.buffered()
        );
    }
    panic!("a step that never ends");
}

fuzz_target!(|data: &[u8]| {
    let [size, pick, rest @ ..] = data else {
        return;
    };
    let chunk = usize::from(*size).max(1);
    let mut input: &[u8] = rest;
    let recipients: &[&str] = match pick % 3 {
        0 => &["bob@example.com"],
        1 => &["bob@example.com", "not an address", "jos\u{e9}@example.com"],
        _ => &["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
    };
    let body: &[u8] = if pick & 4 != 0 {
        b"Subject: x\r\n\r\n.\r\n..\r\nbare\nlf\rcr\xc3\xa9"
    } else {
        b"Subject: x\r\n\r\nhi\r\n"
    };
    let mut core = ClientCore::new();
    if !matches!(step(&mut core, &mut input, chunk), Some(Finished::Greeting(_))) {
        return;
    }
    core.hello("gw.test");
    if !matches!(step(&mut core, &mut input, chunk), Some(Finished::Hello)) {
        return;
    }
    core.starttls();
    if !matches!(step(&mut core, &mut input, chunk), Some(Finished::StartTls(_))) {
        return;
    }
    core.send("sender@example.org", recipients, body);
    match step(&mut core, &mut input, chunk) {
        Some(Finished::Sent(replies, _)) => assert_eq!(replies.len(), recipients.len()),
        Some(other) => panic!("a transaction ended with {other:?}"),
        None => return,
    }
    core.quit();
    assert!(matches!(step(&mut core, &mut input, chunk), Some(Finished::Quit)));
});
