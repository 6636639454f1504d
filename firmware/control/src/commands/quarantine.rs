//! `quarantineconfig`: the local quarantines filters hold messages in
//! (`quarantine('Policy')`), their size caps and overflow action; and
//! `quarantine`: the held messages themselves (list, show, release,
//! delete), which the running work queue answers (see `crate::quarantine`).

use super::args::{check_name, invalid, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::quarantine_settings as qs;
use crate::config::quarantine_settings::SpamNotification;
use crate::config::{Config, OverflowAction, QuarantineConfig};
use crate::table::{Table, TableRow};

pub(super) use breakwater_control_proto::usage::QUARANTINECONFIG as USAGE;

use breakwater_control_proto::usage::QUARANTINE as HELD_USAGE;

/// A quarantine's settings (`--retention` is read apart: a period in
/// minutes may need `quarantine_settings`).
#[rustfmt::skip]
const SETTINGS: &[Setting<QuarantineConfig>] = &[
    ("max_size", Size(1024 * 1024, 64 * 1024 * 1024 * 1024, |q| &mut q.max_bytes)),
    ("action", Parse(|q, o| set_action(q, "--action", o))),
    ("overflow", Parse(|q, o| set_action(q, "--overflow", o))),
];

/// The Spam Quarantine notification (`quarantineconfig notify`).
#[rustfmt::skip]
const NOTIFY_SETTINGS: &[Setting<SpamNotification>] = &[
    ("enable", OnOff(|n| &mut n.enabled)),
    ("from", Parse(|n, o| {
        let from = if o.eq_ignore_ascii_case("default") { "" } else { o };
        if let Some(p) = qs::notification_from_problem(from) {
            return Err(invalid(format!("--from: {p}")));
        }
        n.from = from.to_string();
        Ok(())
    })),
    ("subject", Parse(|n, o| {
        set_text("subject", o, &mut n.subject)
    })),
    ("title", Parse(|n, o| set_text("title", o, &mut n.title))),
    ("interval", Parse(|n, o| {
        n.interval_minutes = qs::parse_retention(o)
            .map_err(|e| invalid(format!("--interval: {}", e.replace("retention period", "interval"))))?;
        Ok(())
    })),
];

fn set_text(what: &str, o: &str, to: &mut String) -> Result<(), CliError> {
    if let Some(p) = qs::notification_text_problem(what, o) {
        return Err(invalid(format!("--{what}: {p}")));
    }
    *to = o.to_string();
    Ok(())
}

fn render_notify(cfg: &Config) -> String {
    let n = &cfg.quarantine_settings.spam_notification;
    format!(
        "Spam Quarantine notification: {}\nFrom address: {}\nSubject: {}\nTitle: {}\nInterval: {}\n",
        if n.enabled { "enabled" } else { "disabled" },
        n.from_for(&cfg.hostname),
        n.subject,
        n.title,
        qs::format_minutes(n.interval_minutes)
    )
}

/// AsyncOS's "Default Action": on expiry and, for a full quarantine, on
/// its oldest messages.
fn set_action(q: &mut QuarantineConfig, flag: &str, o: &str) -> Result<(), CliError> {
    q.overflow = match o.to_ascii_lowercase().as_str() {
        "release" => OverflowAction::Release,
        "delete" => OverflowAction::Delete,
        _ => return Err(invalid(format!("{flag}: '{o}' is not release or delete."))),
    };
    Ok(())
}

/// Applies `--retention PERIOD` when given.
fn apply_retention(
    cfg: &mut Config,
    q: &mut QuarantineConfig,
    opts: &super::args::Opts,
) -> Result<(), CliError> {
    if let Some(v) = opts.value("retention") {
        let minutes = qs::parse_retention(v).map_err(|e| invalid(format!("--retention: {e}")))?;
        qs::set_retention(cfg, q, minutes);
    }
    Ok(())
}

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print" | "list"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("new"), [_, name, rest @ ..]) => {
            check_name("quarantine", name)?;
            let opts = settings::parse(rest, SETTINGS, &["retention"], USAGE)?;
            if !opts.positional.is_empty() {
                return Err(usage(USAGE));
            }
            let mut cfg = ctx.store.working()?;
            if qs::quarantine(&cfg, name).is_some() {
                return Err(invalid(format!(
                    "A quarantine named '{name}' already exists."
                )));
            }
            let mut q = QuarantineConfig {
                name: name.clone(),
                ..QuarantineConfig::predefined().remove(0)
            };
            settings::apply(SETTINGS, &opts, &mut q)?;
            apply_retention(&mut cfg, &mut q, &opts)?;
            quarantines().add(&mut cfg.quarantines, q, None)?;
            stage(ctx, &cfg, &format!("Quarantine {name} added."))
        }
        (Some("edit"), [_, name, rest @ ..]) => {
            let opts = settings::parse_some(rest, SETTINGS, &["retention"], USAGE)?;
            let mut cfg = ctx.store.working()?;
            // A predefined quarantine a config stored before it does not
            // list (Spam) is stored once edited.
            if let Some(p) = qs::quarantine(&cfg, name)
                && !cfg.quarantines.iter().any(|q| q.name == p.name)
            {
                cfg.quarantines.push(p);
            }
            let mut q = quarantines().get_mut(&mut cfg.quarantines, name)?.clone();
            settings::apply(SETTINGS, &opts, &mut q)?;
            apply_retention(&mut cfg, &mut q, &opts)?;
            let msg = format!("Quarantine {} updated.", q.name);
            *quarantines().get_mut(&mut cfg.quarantines, name)? = q;
            stage(ctx, &cfg, &msg)
        }
        (Some("notify"), [_]) => Ok(render_notify(&ctx.store.working()?)),
        (Some("notify"), [_, rest @ ..]) => {
            let opts = settings::parse_some(rest, NOTIFY_SETTINGS, &[], USAGE)?;
            let mut cfg = ctx.store.working()?;
            settings::apply(
                NOTIFY_SETTINGS,
                &opts,
                &mut cfg.quarantine_settings.spam_notification,
            )?;
            let msg = render_notify(&cfg);
            stage(
                ctx,
                &cfg,
                &format!("{msg}Spam Quarantine notification updated."),
            )
        }
        (Some("delete"), [_, name]) => {
            if qs::is_predefined(name) {
                return Err(invalid(format!(
                    "The {name} quarantine is predefined and cannot be deleted."
                )));
            }
            let mut cfg = ctx.store.working()?;
            let q = quarantines().delete(&mut cfg.quarantines, name)?;
            qs::forget(&mut cfg, &q.name);
            // Filters that name it now warn (and their holds still work).
            let warnings =
                super::filters::warnings(&cfg, &super::filters::compile(&cfg.message_filters));
            stage(
                ctx,
                &cfg,
                &format!("{warnings}Quarantine {} deleted.", q.name),
            )
        }
        _ => Err(usage(USAGE)),
    }
}

impl TableRow for QuarantineConfig {
    fn key(&self) -> &str {
        &self.name
    }
}

fn quarantines() -> Table<QuarantineConfig> {
    Table::new("quarantine named '{}'", "")
}

/// `quarantine list|show|release|delete`, answered by the running gateway.
pub(super) fn held(args: &[String]) -> Result<String, CliError> {
    if args.is_empty() {
        return Err(usage(HELD_USAGE));
    }
    // The running daemon answers these in its work queue (see
    // `workqueue::operator`); reaching this means there is none.
    Err(invalid(
        "The quarantines are reachable only on the running gateway.",
    ))
}

fn render(cfg: &Config) -> String {
    let mut out = String::from("Quarantine           Maximum size  Retention  Default action\n");
    for q in qs::quarantines(cfg) {
        out.push_str(&format!(
            "{:<20} {:>12}  {:>9}  {}\n",
            q.name,
            super::args::format_size(q.max_bytes),
            qs::format_minutes(qs::retention_minutes(cfg, &q)),
            q.overflow.word()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn quarantines_are_predefined_added_and_edited() {
        let f = Fixture::new();
        let out = f.run("quarantineconfig print").unwrap();
        for name in ["Policy", "Virus", "Outbreak", "Spam"] {
            assert!(out.contains(name), "{out}");
        }
        f.run("quarantineconfig new Hold --max_size 10M --retention 48 --overflow delete")
            .unwrap();
        f.run("quarantineconfig edit Hold --max_size 20M").unwrap();
        let q = f.staged().unwrap().quarantines.pop().unwrap();
        assert_eq!(
            (q.name.as_str(), q.max_bytes, q.retention_hours),
            ("Hold", 20 << 20, 48)
        );
        f.run("quarantineconfig edit Hold --retention 30m --action release")
            .unwrap();
        let cfg = f.staged().unwrap();
        let q = cfg.quarantines.last().unwrap();
        assert_eq!(
            crate::config::quarantine_settings::retention_minutes(&cfg, q),
            30
        );
        assert!(f.run("quarantineconfig print").unwrap().contains("30m"));
        f.run("quarantineconfig delete Hold").unwrap();
        assert!(
            f.staged()
                .unwrap()
                .quarantine_settings
                .retention_minutes
                .is_empty()
        );
        // Without a running gateway the held messages cannot be reached.
        assert!(f.run("quarantine list").is_err());
    }

    #[test]
    fn the_spam_notification_is_set_and_printed() {
        let f = Fixture::new();
        let out = f.run("quarantineconfig notify").unwrap();
        assert!(out.contains("notification: disabled"), "{out}");
        assert!(
            out.contains("Subject: Spam Quarantine Notification"),
            "{out}"
        );
        let args = |line: &str| line.split('|').map(str::to_string).collect::<Vec<_>>();
        f.run_args(&args(
            "quarantineconfig|notify|--enable|on|--from|spam-digest@example.com|--subject|Your spam|--interval|12h",
        ))
        .unwrap();
        assert!(
            f.run_args(&args("quarantineconfig|notify|--subject| "))
                .is_err()
        );
        let n = f.staged().unwrap().quarantine_settings.spam_notification;
        assert!(n.enabled);
        assert_eq!(
            (n.from.as_str(), n.subject.as_str(), n.interval_minutes),
            ("spam-digest@example.com", "Your spam", 720)
        );
        f.run("quarantineconfig notify --from default").unwrap();
        let out = f.run("quarantineconfig notify").unwrap();
        assert!(out.contains("From address: quarantine@"), "{out}");
        assert!(out.contains("Interval: 12h"), "{out}");
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "quarantineconfig",
            "quarantineconfig new Policy",
            "quarantineconfig new X --max_size 1",
            "quarantineconfig new X --overflow keep",
            "quarantineconfig edit Nope --max_size 10M",
            "quarantineconfig edit Policy",
            "quarantineconfig delete Nope",
            "quarantineconfig delete Policy",
            "quarantineconfig delete spam",
            "quarantineconfig new spam",
            "quarantineconfig new X --retention 0m",
            "quarantineconfig new X --retention 400d",
            "quarantineconfig new X --action keep",
            "quarantineconfig notify --enable maybe",
            "quarantineconfig notify --from nobody",
            "quarantineconfig notify --interval 0m",
            "quarantineconfig notify extra",
        ]);
    }
}
