//! `antivirusconfig`: the ClamAV engine the gateway scans with (AsyncOS's
//! command of that name configures its engines; the per-policy settings
//! are `policyconfig edit <dir> <policy> antivirus ...`).

use super::args::{invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::antivirus::{self, AntiVirusSettings};

pub(super) use breakwater_control_proto::usage::ANTIVIRUSCONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let word = |i: usize| args.get(i).map(|a| a.to_ascii_lowercase());
    let mut cfg = ctx.store.working()?;
    match (word(0).as_deref(), args.len()) {
        (None, 0) | (Some("print"), 1) => Ok(render(&cfg.antivirus)),
        (Some(w @ ("enable" | "disable")), 1) => {
            let on = w == "enable";
            if cfg.antivirus.enabled == on {
                return Err(invalid(format!("Anti-virus scanning is already {w}d.")));
            }
            cfg.antivirus.enabled = on;
            stage(
                ctx,
                &cfg,
                if on {
                    "Anti-virus scanning enabled."
                } else {
                    "Anti-virus scanning disabled."
                },
            )
        }
        (Some("setup"), _) => {
            let opts = parse_opts(
                &args[1..],
                &["host", "port", "timeout", "max-parallel", "max-size"],
                &[],
                USAGE,
            )?;
            if !opts.positional.is_empty() || !opts.any() {
                return Err(usage(USAGE));
            }
            let av = &mut cfg.antivirus;
            if let Some(h) = opts.value("host") {
                av.host = h.to_string();
            }
            if let Some(p) = opts.number("port", 1u16, u16::MAX)? {
                av.port = p;
            }
            if let Some(t) = opts.number(
                "timeout",
                antivirus::MIN_SCAN_TIMEOUT_SECS,
                antivirus::MAX_SCAN_TIMEOUT_SECS,
            )? {
                av.timeout_secs = t;
            }
            if let Some(n) = opts.number("max-parallel", 1u32, antivirus::MAX_MAX_PARALLEL_SCANS)? {
                av.max_parallel_scans = n;
            }
            if let Some(n) = opts.size("max-size", 1, antivirus::MAX_MAX_SCAN_BYTES)? {
                av.max_scan_bytes = n;
            }
            if !av.host.starts_with('/') {
                av.validate().map_err(|e| invalid(e.to_string()))?;
            }
            stage(ctx, &cfg, "Anti-virus engine settings changed.")
        }
        _ => Err(usage(USAGE)),
    }
}

fn render(av: &AntiVirusSettings) -> String {
    let engine = if av.host.starts_with('/') {
        av.host.clone()
    } else {
        format!("{}:{}", av.host, av.port)
    };
    format!(
        "Anti-Virus scanning: {}\nEngine: ClamAV at {engine}\nScanning timeout: {} seconds\nMaximum parallel scans: {}\nMaximum message size to scan: {} bytes\n",
        if av.enabled { "Enabled" } else { "Disabled" },
        av.timeout_secs,
        av.max_parallel_scans,
        av.max_scan_bytes,
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn the_engine_is_set_up_enabled_and_printed() {
        let f = Fixture::new();
        let out = f.run("antivirusconfig").unwrap();
        assert!(out.contains("Anti-Virus scanning: Disabled"), "{out}");
        assert!(out.contains("ClamAV at 127.0.0.1:3310"), "{out}");
        f.run("antivirusconfig setup --host 127.0.0.9 --port 13310 --timeout 5 --max-parallel 2 --max-size 1M")
            .unwrap();
        f.run("antivirusconfig enable").unwrap();
        let av = f.staged().unwrap().antivirus;
        assert!(av.enabled);
        assert_eq!((av.host.as_str(), av.port), ("127.0.0.9", 13310));
        assert_eq!((av.timeout_secs, av.max_parallel_scans), (5, 2));
        assert_eq!(av.max_scan_bytes, 1024 * 1024);
        assert!(f.run("antivirusconfig enable").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        let f = Fixture::new();
        f.assert_refused(&[
            "antivirusconfig setup --timeout 0",
            "antivirusconfig setup --max-parallel 0",
            "antivirusconfig setup --port 0",
            "antivirusconfig setup --host a,b",
            "antivirusconfig setup",
            "antivirusconfig frobnicate",
        ]);
    }
}
