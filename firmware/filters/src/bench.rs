//! Throughput of header/envelope-only filter lists (issue 5's benchmark).
//!
//! One "evaluation" is one message run through the whole list of
//! `n_filters` filters, including building its `MessageContext` (the header
//! index is built once per message, as in the work queue).

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::context::{MessageContext, NoLookups};
use super::eval::evaluate;
use super::parser::parse;
use crate::ids::Mid;

/// A list of `n` realistic header/envelope filters, mostly not matching
/// (as in production, where most filters leave most mail alone).
pub fn header_filter_script(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let rule = match i % 8 {
            0 => format!("header('X-Campaign-{i}') == '^promo-{i}$'"),
            1 => format!("subject == '(?:invoice|payment) #{i}\\\\b'"),
            2 => format!("mail-from == '@partner{i}\\\\.example\\\\.com$'"),
            3 => format!("rcpt-to == '^list-{i}@' and rcpt-count > 50"),
            4 => format!("sendergroup == 'GROUP_{i}' or recv-listener == 'Listener{i}'"),
            5 => format!("remote-ip == '198.51.{}.0/24'", i % 256),
            6 => format!("header('X-Mailer') == 'BulkMailer {i}' and not (recv-int == 'Data1')"),
            _ => format!("header('List-Id') == '<list{i}\\\\.example\\\\.org>'"),
        };
        let _ = writeln!(
            s,
            "bench_{i}: if ({rule}) {{ insert-header('X-Bench', '{i}'); }}"
        );
    }
    s
}

/// Evaluations (messages through all `n_filters` filters) per second on
/// one core, over `iterations` passes of `corpus`.
pub fn bench_header_filters(n_filters: usize, corpus: &[Vec<u8>], iterations: usize) -> f64 {
    let filters = match parse(&header_filter_script(n_filters.max(1))) {
        Ok(f) => f,
        Err(_) => return 0.0, // the generated script is covered by a test
    };
    let now = Utc
        .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let mut rng = StdRng::seed_from_u64(5);
    let mut evaluations = 0u64;
    let mut actions = 0usize;
    let start = Instant::now();
    for _ in 0..iterations {
        for (i, raw) in corpus.iter().enumerate() {
            let mut ctx = MessageContext::new(Mid(i as u64), raw, now);
            ctx.envelope_sender = "alice@sender.example.org".to_string();
            ctx.recipients = vec!["bob@your_domain.com".to_string()];
            ctx.sender_group = Some("UNKNOWNLIST".to_string());
            ctx.listener = "IncomingMail".to_string();
            ctx.interface = "Data1".to_string();
            ctx.remote_ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
            let verdict = evaluate(&filters, &ctx, &NoLookups, &mut rng);
            actions += verdict.actions.len();
            evaluations += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(actions);
    if secs == 0.0 {
        return f64::INFINITY;
    }
    evaluations as f64 / secs
}
