//! `antispamconfig`: the rspamd engine the work queue asks about each
//! message (AsyncOS's `antispamconfig` for its anti-spam engine): on or
//! off, its address, the scanning timeout, how many scans run at once,
//! the maximum message size to scan, and how often a message held while
//! the engine is down is scanned again. What each mail policy does with a
//! verdict is `policyconfig edit ... antispam`.

use super::args::{format_size, invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::antispam::{
    AntiSpamSettings, MAX_MAX_CONCURRENT, MAX_MAX_MESSAGE_SIZE, MAX_TIMEOUT_SECS,
};

pub(super) use breakwater_control_proto::usage::ANTISPAMCONFIG as USAGE;

const VALUED: &[&str] = &[
    "host",
    "port",
    "timeout",
    "max_concurrent",
    "max_message_size",
    "retry",
];

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let word = |i: usize| args.get(i).map(|a| a.to_ascii_lowercase());
    let mut cfg = ctx.store.working()?;
    match (word(0).as_deref(), args.len()) {
        (None, 0) | (Some("print"), 1) => Ok(render(&cfg.antispam)),
        (Some(w @ ("enable" | "disable")), 1) => {
            let on = w == "enable";
            if cfg.antispam.enabled == on {
                return Err(invalid(format!("Anti-spam scanning is already {w}d.")));
            }
            cfg.antispam.enabled = on;
            stage(
                ctx,
                &cfg,
                if on {
                    "Anti-spam scanning enabled: messages go to rspamd after commit."
                } else {
                    "Anti-spam scanning disabled."
                },
            )
        }
        (Some("setup"), _) => {
            let opts = parse_opts(&args[1..], VALUED, &[], USAGE)?;
            if !opts.positional.is_empty() || !opts.any() {
                return Err(usage(USAGE));
            }
            let s = &mut cfg.antispam;
            if let Some(h) = opts.value("host") {
                s.host = h.trim().to_string();
            }
            if let Some(p) = opts.number("port", 1u16, u16::MAX)? {
                s.port = p;
            }
            if let Some(t) = opts.number("timeout", 1u32, MAX_TIMEOUT_SECS)? {
                s.timeout_secs = t;
            }
            if let Some(n) = opts.number("max_concurrent", 1u32, MAX_MAX_CONCURRENT)? {
                s.max_concurrent = n;
            }
            if let Some(n) = opts.size("max_message_size", 1, MAX_MAX_MESSAGE_SIZE)? {
                s.max_message_size = n;
            }
            if let Some(n) = opts.number("retry", 1u32, 86_400)? {
                s.retry_secs = n;
            }
            s.validate().map_err(|e| invalid(e.to_string()))?;
            stage(ctx, &cfg, "Anti-spam engine settings updated.")
        }
        _ => Err(usage(USAGE)),
    }
}

fn render(s: &AntiSpamSettings) -> String {
    format!(
        "Anti-Spam engine: rspamd\n\
         Anti-spam scanning: {}\n\
         Engine address: {}:{}\n\
         Scanning timeout: {} seconds\n\
         Maximum parallel scans: {}\n\
         Maximum message size to scan: {}\n\
         Retry interval while the engine is down (policies that hold): {} seconds\n",
        if s.enabled { "Enabled" } else { "Disabled" },
        s.host,
        s.port,
        s.timeout_secs,
        s.max_concurrent,
        format_size(s.max_message_size),
        s.retry_secs
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn the_engine_is_set_up_enabled_and_printed() {
        let f = Fixture::new();
        let out = f.run("antispamconfig").unwrap();
        assert!(out.contains("Anti-spam scanning: Disabled"), "{out}");
        assert!(out.contains("Engine address: 127.0.0.1:11333"), "{out}");
        assert!(out.contains("Maximum message size to scan: 1M"), "{out}");
        f.run("antispamconfig setup --host 127.0.0.5 --port 11999 --timeout 5 --max_concurrent 4 --max_message_size 2M --retry 10")
            .unwrap();
        f.run("antispamconfig enable").unwrap();
        let s = f.staged().unwrap().antispam;
        assert!(s.enabled);
        assert_eq!(
            (s.host.as_str(), s.port, s.timeout_secs, s.max_concurrent),
            ("127.0.0.5", 11999, 5, 4)
        );
        assert_eq!((s.max_message_size, s.retry_secs), (2 * 1024 * 1024, 10));
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "antispamconfig disable",
            "antispamconfig setup",
            "antispamconfig setup --timeout 0",
            "antispamconfig setup --timeout 601",
            "antispamconfig setup --port 0",
            "antispamconfig setup --max_concurrent 0",
            "antispamconfig setup --max_message_size 0",
            "antispamconfig setup --host bad_host!",
            "antispamconfig setup --bogus 1",
            "antispamconfig sideways",
        ]);
    }
}
