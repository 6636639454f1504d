//! Tests of the filter language on a corpus of realistic messages
//! (`firmware/tests/corpus/*.eml`).

mod docs;
mod eval;
mod hostile;
mod parse;
mod pasted;
mod rewrite;

use std::net::{IpAddr, Ipv4Addr};

use chrono::{TimeZone, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{Lookups, MessageContext, Verdict, evaluate, parse};
use crate::ids::Mid;

macro_rules! corpus {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(pub(crate) const $name: &[u8] = include_bytes!(concat!("../../../tests/corpus/", $file));)*
        pub(crate) const ALL: &[&[u8]] = &[$($name),*];
    };
}

corpus! {
    SEED_OK => "seed_outbound_ok.eml",
    SEED_WRONG => "seed_outbound_wrong.eml",
    PLAIN => "plain_no_auth.eml",
    MULTIPART => "multipart_attachments.eml",
    ENCODED_SUBJECT => "encoded_subject.eml",
    NESTED => "nested_alternative.eml",
    SPAM => "spam_marked.eml",
    BASE64_TEXT => "base64_text.eml",
}

/// DNS list with one listed address (answered `127.0.0.2` and
/// `127.0.0.4`); a subject seen 1500 times this hour.
pub(crate) struct TestLookups;

impl Lookups for TestLookups {
    fn dnslist(&self, zone: &str, ip: IpAddr) -> Vec<IpAddr> {
        if zone == "bl.example.net" && ip == IpAddr::V4(Ipv4Addr::new(203, 0, 113, 200)) {
            vec![
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)),
            ]
        } else {
            Vec::new()
        }
    }

    fn header_repeats(&self, target: &str, value: &str, _direction: Option<&str>) -> u64 {
        if target == "subject" && value.contains("WON") {
            1500
        } else {
            1
        }
    }
}

/// An inbound context: IncomingMail on Data1, UNKNOWNLIST.
pub(crate) fn inbound(raw: &[u8]) -> MessageContext<'_> {
    let now = Utc
        .with_ymd_and_hms(2024, 5, 14, 13, 54, 19)
        .single()
        .expect("valid date");
    let mut ctx = MessageContext::new(Mid(94011), raw, now);
    ctx.envelope_sender = "bob@sender.example.org".into();
    ctx.recipients = vec!["alice@your_domain.com".into()];
    ctx.sender_group = Some("UNKNOWNLIST".into());
    ctx.listener = "IncomingMail".into();
    ctx.interface = "Data1".into();
    ctx.remote_ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    ctx.remote_host = Some("mail.sender.example.org".into());
    ctx.policy = Some("DEFAULT".into());
    ctx.hostname = "esa1.your_domain.com".into();
    ctx
}

/// The seed's outbound context: OutgoingMail on Data2, RELAY_O365.
pub(crate) fn outbound(raw: &[u8]) -> MessageContext<'_> {
    let mut ctx = inbound(raw);
    ctx.envelope_sender = "alice@your_domain.com".into();
    ctx.recipients = vec!["partner@external.example".into()];
    ctx.sender_group = Some("RELAY_O365".into());
    ctx.listener = "OutgoingMail".into();
    ctx.interface = "Data2".into();
    ctx.remote_ip = IpAddr::V4(Ipv4Addr::new(40, 107, 22, 101));
    ctx.remote_host = Some("mail-am6eur05on2101.outbound.protection.outlook.com".into());
    ctx
}

pub(crate) fn run(script: &str, ctx: &MessageContext<'_>) -> Verdict {
    let filters = parse(script).unwrap_or_else(|e| panic!("{script}\n{e}"));
    evaluate(&filters, ctx, &TestLookups, &mut StdRng::seed_from_u64(7))
}

/// Does the one-filter `rule` match? (`if (rule) { tag-message('hit'); }`)
pub(crate) fn matches(rule: &str, ctx: &MessageContext<'_>) -> bool {
    let v = run(&format!("t: if ({rule}) {{ tag-message('hit'); }}"), ctx);
    !v.actions.is_empty()
}

#[test]
fn bench_runs_with_tiny_sizes() {
    let corpus: Vec<Vec<u8>> = ALL.iter().map(|m| m.to_vec()).collect();
    let rate = super::bench_header_filters(16, &corpus, 2);
    assert!(rate > 0.0);
    assert_eq!(
        parse(&super::header_filter_script(100)).map(|f| f.len()),
        Ok(100)
    );
}

/// `BENCH_FILTERS=100 BENCH_ITERS=2000 cargo test --release -p breakwater
/// filters::tests::bench_scaled -- --nocapture`
#[test]
fn bench_scaled() {
    let Ok(iters) = std::env::var("BENCH_ITERS").map(|v| v.parse::<usize>().unwrap_or(1)) else {
        return;
    };
    let n = std::env::var("BENCH_FILTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let corpus: Vec<Vec<u8>> = ALL.iter().map(|m| m.to_vec()).collect();
    let rate = super::bench_header_filters(n, &corpus, iters);
    println!(
        "{n} header/envelope filters: {rate:.0} messages/s, {:.0} filter evaluations/s",
        rate * n as f64
    );
}
