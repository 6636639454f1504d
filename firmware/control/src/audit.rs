//! The audit log (`audit_logs`): one line per configuration commit, saying
//! who committed, from where, what changed and the commit comment.
//!
//! Written by the control server (it alone knows the session's origin)
//! through the logging crate's `AUDIT_LOGS_TARGET`, so the line is in
//! `audit_logs/audit.current`, rotates like the other logs, is read with
//! `tail`/`grep` and can be pushed by syslog (`logconfig subscribe`).
//! Values are never written, only the names of what changed: a commit may
//! carry private keys and passphrase hashes.

use serde_json::Value;

use crate::config::{CommitRecord, Config};

/// How many changed items one line names before it says "and N more".
const MAX_ITEMS: usize = 20;

/// Where a request came from, as the audit line names it: a session's tty
/// (`web`, `api`, `ssh` or the console's tty) or, with no session, the
/// control socket's owner on the box itself.
pub fn origin(session_tty: Option<&str>) -> String {
    match session_tty {
        Some(t @ ("web" | "api" | "ssh")) => t.to_string(),
        Some(tty) => format!("console ({tty})"),
        None => "local cli".to_string(),
    }
}

/// Writes the audit line of `record` (`before`: the configuration it
/// replaced, `None` for the first commit).
pub fn record_commit(record: &CommitRecord, before: Option<&Config>, origin: &str) {
    breakwater_logging::audit(&line(record, before, origin), false);
}

/// The audit line's text (without the log's time and level).
pub fn line(record: &CommitRecord, before: Option<&Config>, origin: &str) -> String {
    let what = match before {
        Some(before) => changes(before, &record.config),
        None => "initial configuration".to_string(),
    };
    format!(
        "Commit {} by {} from {}: {what}; comment: {:?}",
        record.number, record.user, origin, record.comment
    )
}

/// Audits the newest commit of `store` (called right after a commit:
/// whatever command made it, `commit`, `loadconfig` or the web UI).
pub fn record_latest(store: &crate::config::ConfigStore, origin: &str) {
    match store.history() {
        Ok(history) => {
            let mut recent = history.iter().rev();
            if let Some(latest) = recent.next() {
                record_commit(latest, recent.next().map(|r| &r.config), origin);
            }
        }
        Err(e) => breakwater_logging::audit(&format!("Commit not audited: {e}"), true),
    }
}

/// The names of what differs: top-level settings, and for lists of named
/// items (`listeners`, `bounce_profiles`, ...) which items.
pub fn changes(before: &Config, after: &Config) -> String {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return "changes not summarised".to_string();
    };
    let mut items = Vec::new();
    for (key, new) in &b {
        let old = a.get(key).unwrap_or(&Value::Null);
        if old == new {
            continue;
        }
        match (old, new) {
            (Value::Array(old), Value::Array(new))
                if named(old) && named(new) && !(old.is_empty() && new.is_empty()) =>
            {
                for n in new {
                    match old.iter().find(|o| o.get("name") == n.get("name")) {
                        None => items.push(format!("{key}[{}] added", name_of(n))),
                        Some(o) if o != n => items.push(format!("{key}[{}] changed", name_of(n))),
                        Some(_) => {}
                    }
                }
                for o in old {
                    if !new.iter().any(|n| n.get("name") == o.get("name")) {
                        items.push(format!("{key}[{}] removed", name_of(o)));
                    }
                }
                if items.is_empty() {
                    items.push(format!("{key} reordered"));
                }
            }
            _ => items.push(format!("{key} changed")),
        }
    }
    if items.is_empty() {
        return "no change".to_string();
    }
    let more = items.len().saturating_sub(MAX_ITEMS);
    items.truncate(MAX_ITEMS);
    let mut text = items.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

fn named(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(Value::is_string))
}

fn name_of(item: &Value) -> &str {
    item.get("name").and_then(Value::as_str).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_settings_and_items_not_values() {
        let before = breakwater_config::factory::dev_factory_for_tests();
        let mut after = before.clone();
        after.hostname = "secret.example.com".into();
        after.listeners[0].name = "Renamed".into();
        let text = changes(&before, &after);
        assert!(text.contains("hostname changed"), "{text}");
        assert!(text.contains("listeners[Renamed] added"), "{text}");
        assert!(text.contains("removed"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(changes(&before, &before), "no change");
    }

    #[test]
    fn origins() {
        assert_eq!(origin(Some("ssh")), "ssh");
        assert_eq!(origin(Some("ttyS0")), "console (ttyS0)");
        assert_eq!(origin(None), "local cli");
    }
}
