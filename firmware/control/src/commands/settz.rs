//! `settz`: the appliance's time zone, as AsyncOS's command. Log lines,
//! the `status` and `tophosts` headers, message tracking, DSNs and the
//! `Received:` header show times in it. It is an IANA (Olson) name
//! checked against the database compiled into the firmware
//! (`breakwater_types::clock`); the daemon switches to it at commit.

use breakwater_types::clock;
use chrono::TimeZone as _;

use super::args::{invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;

pub(super) use breakwater_control_proto::usage::SETTZ as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    match args {
        [] => Ok(format!(
            "{}\nTo change it: settz <zone>, an IANA name such as America/Chicago, Europe/Paris or UTC.",
            render(&ctx.store.working()?)
        )),
        [p] if p.eq_ignore_ascii_case("print") => Ok(render(&ctx.store.working()?)),
        [name] => {
            let zone = clock::parse_zone(name.trim()).map_err(|e| invalid(e.to_string()))?;
            // Stored as the database spells it, whatever case was typed.
            let name = zone.name();
            let mut cfg = ctx.store.working()?;
            if cfg.time_zone == name {
                return Err(invalid(format!("The time zone is already {name}.")));
            }
            cfg.time_zone = name.to_string();
            stage(ctx, &cfg, &format!("Time zone set to {name}."))
        }
        _ => Err(usage(USAGE)),
    }
}

/// `Current time zone: America/Chicago (now Sun Dec  6 10:36:48 2026 CST)`.
fn render(cfg: &Config) -> String {
    match clock::parse_zone(&cfg.time_zone) {
        Ok(zone) => {
            let now = zone.from_utc_datetime(&chrono::Utc::now().naive_utc());
            format!(
                "Current time zone: {} (now {})",
                cfg.time_zone,
                now.format(clock::HEADER_TIME_FORMAT)
            )
        }
        Err(_) => format!("Current time zone: {} (unknown)", cfg.time_zone),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn a_zone_is_staged_as_the_database_spells_it_and_applied_at_commit() {
        let f = Fixture::new();
        let shown = f.run("settz").unwrap();
        assert!(shown.starts_with("Current time zone: UTC (now "), "{shown}");
        assert!(shown.contains("settz <zone>"), "{shown}");
        let out = f.run("settz america/chicago").unwrap();
        assert!(
            out.starts_with("Time zone set to America/Chicago."),
            "{out}"
        );
        assert!(out.contains("commit"), "{out}");
        assert_eq!(f.staged().unwrap().time_zone, "America/Chicago");
        assert_eq!(f.store.committed().unwrap().time_zone, "UTC");
        let print = f.run("settz print").unwrap();
        assert!(
            print.starts_with("Current time zone: America/Chicago (now "),
            "{print}"
        );
        assert!(
            print.ends_with(" CST)") || print.ends_with(" CDT)"),
            "{print}"
        );
        f.run("commit").unwrap();
        let applied = f.applied.lock().unwrap();
        assert_eq!(applied.last().unwrap().time_zone, "America/Chicago");
    }

    #[test]
    fn unknown_zones_and_extra_words_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        let err = f.run("settz Mars/Olympus").unwrap_err().to_string();
        assert!(
            err.starts_with("Unknown time zone 'Mars/Olympus': use an IANA (Olson) name"),
            "{err}"
        );
        f.assert_refused(&[
            "settz Mars/Olympus",
            "settz UTC",
            "settz America/Chicago Europe/Paris",
        ]);
    }
}
