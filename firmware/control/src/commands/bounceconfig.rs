//! `bounceconfig`: bounce profiles — how long and how often delivery is
//! retried, and whether a hard bounce sends a DSN to the sender.
//! Destination control rows name the profile their domain uses.

use super::args::{check_name, invalid, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::{BounceProfile, Config};
use crate::table::{Pinned, Table, TableRow};

pub(super) use breakwater_control_proto::usage::BOUNCECONFIG as USAGE;

/// A bounce profile's settings.
#[rustfmt::skip]
const SETTINGS: &[Setting<BounceProfile>] = &[
    ("max_retries", Number(0, 10_000, |p| &mut p.max_retries)),
    ("max_queue_lifetime", Number(1, 30 * 24 * 3600, |p| &mut p.max_queue_secs)),
    ("initial_retry", Number(1, 7 * 24 * 3600, |p| &mut p.initial_retry_secs)),
    ("max_retry_timeout", Number(1, 7 * 24 * 3600, |p| &mut p.max_retry_secs)),
    ("", Check(|p| {
        if p.max_retry_secs < p.initial_retry_secs {
            return Err(invalid(format!(
                "The maximum retry wait ({}s) must be at least the initial one ({}s).",
                p.max_retry_secs, p.initial_retry_secs
            )));
        }
        Ok(())
    })),
    ("hard_bounce_message", OnOff(|p| &mut p.hard_bounce_message)),
    ("delay_warning", OnOff(|p| &mut p.delay_warning)),
];

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print" | "list"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("new"), [_, name, rest @ ..]) => {
            check_name("bounce profile", name)?;
            let opts = settings::parse(rest, SETTINGS, &[], USAGE)?;
            let mut cfg = ctx.store.working()?;
            let mut p = BounceProfile {
                name: name.clone(),
                ..Default::default()
            };
            settings::apply(SETTINGS, &opts, &mut p)?;
            profiles().add(&mut cfg.bounce_profiles, p, None)?;
            stage(ctx, &cfg, &format!("Bounce profile {name} added."))
        }
        (Some("edit"), [_, name, rest @ ..]) => {
            let opts = settings::parse(rest, SETTINGS, &[], USAGE)?;
            if !opts.any() {
                return Err(usage(USAGE));
            }
            let mut cfg = ctx.store.working()?;
            let p = profiles().get_mut(&mut cfg.bounce_profiles, name)?;
            settings::apply(SETTINGS, &opts, p)?;
            let msg = format!("Bounce profile {} updated.", p.name);
            stage(ctx, &cfg, &msg)
        }
        (Some("delete"), [_, name]) => {
            let mut cfg = ctx.store.working()?;
            let p = profiles().delete(&mut cfg.bounce_profiles, name)?;
            let used = cfg.destination_controls.iter().any(|d| {
                d.bounce_profile
                    .as_deref()
                    .is_some_and(|b| b.eq_ignore_ascii_case(&p.name))
            });
            if used {
                return Err(invalid(format!(
                    "Bounce profile '{}' is used by a destination control entry.",
                    p.name
                )));
            }
            // Its "send complete original" switch goes with it.
            cfg.call_ahead.delete_bounce_profile(&p.name);
            stage(ctx, &cfg, &format!("Bounce profile {} deleted.", p.name))
        }
        _ => Err(usage(USAGE)),
    }
}

impl TableRow for BounceProfile {
    fn key(&self) -> &str {
        &self.name
    }
}

/// The bounce profiles; `Default` (the one rows without a profile use)
/// stays.
fn profiles() -> Table<BounceProfile> {
    Table {
        pinned: Some(Pinned {
            is: |p| is_default(&p.name),
            named: is_default,
            last: false,
            what: "the Default bounce profile",
            why_kept: "destinations without a profile of their own use it",
        }),
        duplicate_hint: "; use \"bounceconfig edit\"",
        ..Table::new("bounce profile named '{}'", "")
    }
}

fn is_default(name: &str) -> bool {
    name.eq_ignore_ascii_case("default")
}

pub(super) fn render(cfg: &Config) -> String {
    let mut out = String::from("Bounce profiles:\n");
    for p in &cfg.bounce_profiles {
        out.push_str(&format!(
            "\n{}\n  Maximum retries: {}\n  Maximum time in queue: {} seconds\n  Initial retry wait: {} seconds\n  Maximum retry wait: {} seconds\n  Hard bounce message: {}\n  Delay warnings: {}\n",
            p.name,
            p.max_retries,
            p.max_queue_secs,
            p.initial_retry_secs,
            p.max_retry_secs,
            if p.hard_bounce_message { "On" } else { "Off" },
            if p.delay_warning { "On" } else { "Off" },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn profiles_are_created_edited_and_used_by_destinations() {
        let f = Fixture::new();
        f.run("bounceconfig new quick --max_retries 2 --initial_retry 1 --max_retry_timeout 2 --hard_bounce_message on").unwrap();
        f.run("destconfig new example.com --bounce_profile quick")
            .unwrap();
        let cfg = f.staged().unwrap();
        let p = cfg.bounce_profile(&cfg.destination("example.com").bounce_profile);
        assert_eq!(
            (p.name.as_str(), p.max_retries, p.initial_retry_secs),
            ("quick", 2, 1)
        );
        assert_eq!(cfg.bounce_profile("Default").max_retries, 100);
        assert!(
            f.run("bounceconfig print")
                .unwrap()
                .contains("Maximum time in queue: 259200 seconds")
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "bounceconfig new Default",
            "bounceconfig edit nope --max_retries 1",
            "bounceconfig edit Default --initial_retry 100 --max_retry_timeout 10",
            "bounceconfig edit Default --hard_bounce_message maybe",
            "bounceconfig delete Default",
            "bounceconfig",
        ]);
    }
}
