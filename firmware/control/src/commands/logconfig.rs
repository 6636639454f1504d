//! `logconfig`: rotation of `mail_logs` (the same limits apply to the system
//! log; see `crate::logging::LogHandle::set_settings`).

use super::args::{format_size, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::Config;

pub(super) use breakwater_control_proto::usage::LOGCONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("mail_logs"), [_, rest @ ..]) => {
            let opts = settings::parse_some(rest, MAIL_LOGS, &[], USAGE)?;
            let mut cfg = ctx.store.working()?;
            settings::apply(MAIL_LOGS, &opts, &mut cfg)?;
            let message = format!("mail_logs: {}.", rotation(&cfg));
            stage(ctx, &cfg, &message)
        }
        _ => Err(usage(USAGE)),
    }
}

/// 100k keeps a line or two of headroom per file; 1G per file is already
/// more than a small appliance's log partition.
#[rustfmt::skip]
const MAIL_LOGS: &[Setting<Config>] = &[
    ("max-file-size", Size(100 * 1024, 1024 * 1024 * 1024, |c| &mut c.mail_logs.max_file_bytes)),
    ("max-files", Number(1, 1000, |c| &mut c.mail_logs.max_files)),
];

fn rotation(cfg: &Config) -> String {
    format!(
        "roll over at {}, keep {} files",
        format_size(cfg.mail_logs.max_file_bytes),
        cfg.mail_logs.max_files
    )
}

pub(super) fn render(cfg: &Config) -> String {
    format!(
        "Currently configured logs:\n1. mail_logs: {}",
        rotation(cfg)
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn mail_logs_settings_are_staged() {
        for (line, bytes, files) in [
            (
                "logconfig mail_logs --max-file-size 5M --max-files 20",
                5 * 1024 * 1024,
                20,
            ),
            ("logconfig mail_logs --max-file-size=512k", 512 * 1024, 10),
            ("logconfig MAIL_LOGS --max-files 3", 10 * 1024 * 1024, 3),
        ] {
            let f = Fixture::new();
            f.run(line).unwrap();
            let logs = f.staged().unwrap().mail_logs;
            assert_eq!(
                (logs.max_file_bytes, logs.max_files),
                (bytes, files),
                "{line}"
            );
        }
        assert_eq!(
            Fixture::new().run("logconfig print").unwrap(),
            "Currently configured logs:\n1. mail_logs: roll over at 10M, keep 10 files"
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "logconfig mail_logs",
            "logconfig mail_logs --max-file-size 1k",
            "logconfig mail_logs --max-file-size lots",
            "logconfig mail_logs --max-files 0",
            "logconfig mail_logs extra",
            "logconfig system_logs --max-files 3",
        ]);
    }
}
