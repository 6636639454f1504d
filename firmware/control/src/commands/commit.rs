//! `commit`, `clear`, `commitlog` and `rollback`: moving staged changes into
//! force, dropping them, and the history of what was committed (the store's
//! protocol is in `config::store`).

use std::fmt::Write as _;

use super::args::{check_text, invalid, number, usage};
use super::{CliError, CommandContext};
use crate::config::StoreError;

pub(super) use breakwater_control_proto::usage::COMMIT as USAGE;

/// AsyncOS prints commit times as `Fri May 23 11:42:12 2014 GMT`.
const TIME_FORMAT: &str = "%a %b %d %H:%M:%S %Y GMT";

pub(super) fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(|| format!("@{secs}"), |t| t.format(TIME_FORMAT).to_string())
}

pub(super) fn commit(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let comment = args.join(" ");
    let comment = comment.trim();
    // The comment is one column of `commitlog`: keep it one line.
    check_text("The commit comment", comment, 255)?;
    // Connection limits the daemon could not open files for would fail as
    // EMFILE under load, far from the change that caused it.
    if let Some(staged) = ctx.store.staged()? {
        let limit = crate::open_files::limit().map_err(|e| invalid(e.to_string()))?;
        crate::open_files::check(&staged, limit).map_err(|e| invalid(e.to_string()))?;
    }
    let record = match ctx.store.commit(ctx.user, comment, None) {
        Ok(r) => r,
        Err(StoreError::NothingToCommit) => return Err(invalid("There are no changes to commit.")),
        Err(e) => return Err(e.into()),
    };
    (ctx.on_commit)(&record.config);
    Ok(format!("Changes committed: {}", time(record.time)))
}

pub(super) fn clear(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    if !args.is_empty() {
        return Err(usage(USAGE));
    }
    Ok(if ctx.store.clear()? {
        "Changes cleared.".to_string()
    } else {
        "There are no uncommitted changes.".to_string()
    })
}

pub(super) fn commitlog(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    if !args.is_empty() {
        return Err(usage(USAGE));
    }
    let history = ctx.store.history()?;
    let user_width = history
        .iter()
        .map(|r| r.user.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let num_width = history
        .last()
        .map_or(1, |r| r.number.to_string().len())
        .max(1);
    let mut out = format!(
        "{:>num_width$}  {:<28}  {:<user_width$}  Comment",
        "#", "Date", "User"
    );
    for r in &history {
        let _ = write!(
            out,
            "\n{:>num_width$}  {:<28}  {:<user_width$}  {}",
            r.number,
            time(r.time),
            r.user,
            r.comment
        );
    }
    Ok(out.trim_end().to_string())
}

pub(super) fn rollback(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let [n] = args else {
        return Err(usage(USAGE));
    };
    let n = number("the commit number", n, 1u64, u64::MAX)?;
    // Staging over uncommitted edits would silently lose them.
    if ctx.store.staged()?.is_some() {
        return Err(invalid(
            "There are uncommitted changes; run \"commit\" or \"clear\" before rolling back.",
        ));
    }
    let record = match ctx.store.commit_record(n) {
        Ok(r) => r,
        Err(StoreError::NoSuchCommit(n)) => {
            return Err(invalid(format!(
                "There is no commit number {n} (see commitlog)."
            )));
        }
        Err(e) => return Err(e.into()),
    };
    ctx.store.stage(&record.config)?;
    Ok(format!(
        "The configuration of commit {} ({}, {}: \"{}\") is staged.\n\
         Run \"commit\" to roll back to it, or \"clear\" to keep the current configuration.",
        record.number,
        time(record.time),
        record.user,
        record.comment
    ))
}

#[cfg(test)]
mod tests {
    use super::super::CliError;
    use super::super::testutil::Fixture;

    #[test]
    fn commit_applies_staged_changes_and_calls_on_commit() {
        let f = Fixture::new();
        f.run("dnsconfig timeout 9").unwrap();
        assert!(f.applied.lock().unwrap().is_empty());
        let out = f.run("commit \"shorter DNS timeout\"").unwrap();
        assert!(
            out.starts_with("Changes committed: ") && out.ends_with(" GMT"),
            "{out}"
        );
        assert_eq!(f.store.committed().unwrap().dns.timeout_secs, 9);
        assert!(f.staged().is_none());
        let applied = f.applied.lock().unwrap();
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].dns.timeout_secs, 9);
        let history = f.store.history().unwrap();
        assert_eq!(
            (history[1].user.as_str(), history[1].comment.as_str()),
            ("admin", "shorter DNS timeout")
        );
    }

    #[test]
    fn commit_without_changes_is_an_error_and_calls_nothing() {
        let f = Fixture::new();
        let err = f.run("commit").unwrap_err();
        assert_eq!(err.to_string(), "There are no changes to commit.");
        assert!(f.applied.lock().unwrap().is_empty());
        f.run("dnsconfig timeout 9").unwrap();
        assert!(matches!(
            f.run("commit \"two\nlines\""),
            Err(CliError::Invalid(_))
        ));
        assert!(f.staged().is_some());
    }

    #[test]
    fn commit_refuses_connection_limits_beyond_the_open_file_limit() {
        let f = Fixture::new();
        // Far more than any process may open: 2 x (20,000 + 100,000) + margin.
        for line in [
            "listenerconfig edit IncomingMail setup --max-concurrency 10000",
            "listenerconfig edit OutgoingMail setup --max-concurrency 10000",
            "listenerconfig limits --max-connections-total 100000",
            "deliveryconfig setup --max-outbound-connections 100000",
        ] {
            f.run(line).unwrap();
        }
        let limit = crate::open_files::limit().unwrap();
        if limit >= crate::open_files::needed(&f.staged().unwrap()) {
            return; // a host that allows it: nothing to refuse
        }
        let err = f.run("commit").unwrap_err().to_string();
        assert!(
            err.contains("need up to 240256 open files")
                && err.contains(&format!("may open {limit}"))
                && err.contains("--max-outbound-connections (100000)"),
            "{err}"
        );
        assert!(f.applied.lock().unwrap().is_empty());
        assert!(f.staged().is_some(), "the changes stay staged to be fixed");
        f.run("deliveryconfig setup --max-outbound-connections 500")
            .unwrap();
        f.run("listenerconfig limits --max-connections-total 1000")
            .unwrap();
        f.run("commit").unwrap();
    }

    #[test]
    fn clear_discards_staged_changes() {
        let f = Fixture::new();
        assert_eq!(f.run("clear").unwrap(), "There are no uncommitted changes.");
        f.run("smtproutes new example.com mx.example").unwrap();
        assert_eq!(f.run("clear").unwrap(), "Changes cleared.");
        assert!(f.staged().is_none());
        assert!(f.working().smtp_routes.is_empty());
    }

    #[test]
    fn commitlog_lists_commits_and_rollback_stages_an_old_config() {
        let f = Fixture::new();
        f.run("dnsconfig timeout 9").unwrap();
        f.run("commit second").unwrap();
        let log = f.run("commithistory").unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "{log}");
        assert!(lines[0].starts_with("#  Date"), "{log}");
        assert!(
            lines[1].starts_with("1  ") && lines[1].ends_with("admin  factory"),
            "{log}"
        );
        assert!(lines[2].ends_with("admin  second"), "{log}");

        assert!(f.run("rollback 3").is_err());
        assert!(f.run("rollback x").is_err());
        assert!(f.staged().is_none());
        f.run("rollback 1").unwrap();
        assert_eq!(f.staged().unwrap().dns.timeout_secs, 5);
        // A second rollback would overwrite the first one's staged config.
        assert!(f.run("rollback 2").is_err());
        f.run("commit \"roll back\"").unwrap();
        assert_eq!(f.store.committed().unwrap().dns.timeout_secs, 5);
        assert_eq!(f.applied.lock().unwrap().len(), 2);
    }
}
