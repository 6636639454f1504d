//! What the local quarantines need beyond their stored [`QuarantineConfig`]
//! (whose shape is fixed: the stored configuration is positional): the
//! predefined quarantines every appliance has, whatever version stored its
//! configuration (the Spam quarantine came after Policy, Virus and
//! Outbreak), and retention periods shorter than whole hours.
//!
//! AsyncOS's "Default Action" of a quarantine is one choice applied both
//! when a message's retention period ends and, when "free up space" is on,
//! to the oldest messages of a full quarantine: here it is
//! `QuarantineConfig::overflow`.
//!
//! A struct of its own appended at the end of `Config` (version 8).

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::policy::QuarantineConfig;

/// The shortest retention period (`quarantineconfig --retention 1m`).
pub const MIN_RETENTION_MINUTES: u32 = 1;
/// The longest: a year, as `--retention` in hours allows.
pub const MAX_RETENTION_MINUTES: u32 = 365 * 24 * 60;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineSettings {
    /// Retention periods given in minutes, which `retention_hours` cannot
    /// hold; a quarantine without an entry keeps its messages
    /// `retention_hours`.
    pub retention_minutes: Vec<QuarantineRetention>,
    /// The Spam Quarantine's end-user digest (AsyncOS's "Spam
    /// Notification"). Appended in the release that added this struct, so
    /// no stored configuration lacks it.
    #[serde(default)]
    pub spam_notification: SpamNotification,
}

/// AsyncOS's default notification subject and body title.
pub const DEFAULT_NOTIFICATION_SUBJECT: &str = "Spam Quarantine Notification";
/// A day, AsyncOS's daily notification schedule.
pub const DEFAULT_NOTIFICATION_INTERVAL_MINUTES: u32 = 24 * 60;

/// The periodic digest each recipient of held spam receives: the messages
/// quarantined in `Spam` for them since the last digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpamNotification {
    pub enabled: bool,
    /// The digest's From address; empty: `quarantine@<hostname>`.
    pub from: String,
    pub subject: String,
    /// The title above the list in the body.
    pub title: String,
    /// Minutes between two digests.
    pub interval_minutes: u32,
}

impl Default for SpamNotification {
    fn default() -> Self {
        SpamNotification {
            enabled: false,
            from: String::new(),
            subject: DEFAULT_NOTIFICATION_SUBJECT.to_string(),
            title: DEFAULT_NOTIFICATION_SUBJECT.to_string(),
            interval_minutes: DEFAULT_NOTIFICATION_INTERVAL_MINUTES,
        }
    }
}

impl SpamNotification {
    /// The From address digests carry.
    pub fn from_for(&self, hostname: &str) -> String {
        if self.from.is_empty() {
            format!("quarantine@{hostname}")
        } else {
            self.from.clone()
        }
    }
}

/// Why a notification text (subject, title) or From address is refused.
pub fn notification_text_problem(what: &str, text: &str) -> Option<String> {
    if text.trim().is_empty() {
        Some(format!("the {what} cannot be empty."))
    } else if text.chars().any(char::is_control) || text.len() > 200 {
        Some(format!(
            "the {what} must be one line of at most 200 characters."
        ))
    } else {
        None
    }
}

/// Why a From address is refused (empty is the default).
pub fn notification_from_problem(from: &str) -> Option<String> {
    let ok = from.is_empty()
        || (from.len() <= 254
            && from.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && !d.is_empty() && !from.contains(char::is_whitespace)
            })
            && !from.contains(['<', '>', ',', '"']));
    (!ok).then(|| format!("'{from}' is not an email address."))
}

/// A quarantine's retention period in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRetention {
    pub quarantine: String,
    pub minutes: u32,
}

/// Whether `name` is one of AsyncOS's predefined quarantines, which cannot
/// be deleted.
pub fn is_predefined(name: &str) -> bool {
    QuarantineConfig::predefined()
        .iter()
        .any(|q| q.name.eq_ignore_ascii_case(name))
}

/// Every quarantine of the appliance: the configured ones, then the
/// predefined ones a configuration stored before them does not list.
pub fn quarantines(cfg: &Config) -> Vec<QuarantineConfig> {
    let mut all = cfg.quarantines.clone();
    for p in QuarantineConfig::predefined() {
        if !all.iter().any(|q| q.name.eq_ignore_ascii_case(&p.name)) {
            all.push(p);
        }
    }
    all
}

/// The quarantine named `name` (case-insensitively), predefined ones
/// included.
pub fn quarantine(cfg: &Config, name: &str) -> Option<QuarantineConfig> {
    quarantines(cfg)
        .into_iter()
        .find(|q| q.name.eq_ignore_ascii_case(name))
}

/// How long `q` keeps a message, in minutes.
pub fn retention_minutes(cfg: &Config, q: &QuarantineConfig) -> u32 {
    cfg.quarantine_settings
        .retention_minutes
        .iter()
        .find(|r| r.quarantine.eq_ignore_ascii_case(&q.name))
        .map_or(q.retention_hours.saturating_mul(60), |r| r.minutes)
}

/// Sets `q`'s retention to `minutes`: whole hours in `retention_hours`
/// (older readers see them), anything else also as an entry here.
pub fn set_retention(cfg: &mut Config, q: &mut QuarantineConfig, minutes: u32) {
    forget(cfg, &q.name);
    q.retention_hours = minutes.div_ceil(60).max(1);
    if !minutes.is_multiple_of(60) {
        cfg.quarantine_settings
            .retention_minutes
            .push(QuarantineRetention {
                quarantine: q.name.clone(),
                minutes,
            });
    }
}

/// Drops the settings of a deleted quarantine (quarantines cannot be
/// renamed, as in AsyncOS).
pub fn forget(cfg: &mut Config, name: &str) {
    cfg.quarantine_settings
        .retention_minutes
        .retain(|r| !r.quarantine.eq_ignore_ascii_case(name));
}

/// `retention` as a user writes it: `30m`, `12h`, `14d`, or a bare number
/// of hours (AsyncOS's unit).
pub fn parse_retention(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (digits, per) = match s.char_indices().last() {
        Some((i, 'm' | 'M')) => (&s[..i], 1),
        Some((i, 'h' | 'H')) => (&s[..i], 60),
        Some((i, 'd' | 'D')) => (&s[..i], 24 * 60),
        _ => (s, 60),
    };
    let n: u32 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a period such as 30m, 12h or 14d."))?;
    let minutes = n.saturating_mul(per);
    if !(MIN_RETENTION_MINUTES..=MAX_RETENTION_MINUTES).contains(&minutes) {
        return Err(format!(
            "'{s}': the retention period must be 1 minute to 365 days."
        ));
    }
    Ok(minutes)
}

/// A period in minutes as `parse_retention` reads it back: `30m`, `12h`,
/// `14d`.
pub fn format_minutes(minutes: u32) -> String {
    if minutes.is_multiple_of(24 * 60) {
        format!("{}d", minutes / (24 * 60))
    } else if minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// The problems of `cfg.quarantine_settings` as (field, message).
pub fn problems(cfg: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in &cfg.quarantine_settings.retention_minutes {
        let field = format!("quarantine_settings.retention_minutes.{}", r.quarantine);
        if quarantine(cfg, &r.quarantine).is_none() {
            out.push((field, format!("no quarantine is named '{}'.", r.quarantine)));
        } else if !(MIN_RETENTION_MINUTES..=MAX_RETENTION_MINUTES).contains(&r.minutes) {
            out.push((
                field,
                "the retention period must be 1 minute to 365 days.".to_string(),
            ));
        }
    }
    let n = &cfg.quarantine_settings.spam_notification;
    let field = "quarantine_settings.spam_notification";
    if let Some(p) = notification_from_problem(&n.from) {
        out.push((format!("{field}.from"), p));
    }
    for (what, text) in [("subject", &n.subject), ("title", &n.title)] {
        if let Some(p) = notification_text_problem(what, text) {
            out.push((format!("{field}.{what}"), p));
        }
    }
    if !(MIN_RETENTION_MINUTES..=MAX_RETENTION_MINUTES).contains(&n.interval_minutes) {
        out.push((
            format!("{field}.interval_minutes"),
            "the notification interval must be 1 minute to 365 days.".to_string(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SPAM_QUARANTINE;

    #[test]
    fn the_spam_quarantine_exists_on_configs_stored_before_it() {
        let mut cfg = crate::factory::dev_factory_for_tests();
        assert!(quarantine(&cfg, SPAM_QUARANTINE).is_some());
        cfg.quarantines.retain(|q| q.name != SPAM_QUARANTINE);
        let spam = quarantine(&cfg, "spam").expect("Spam is predefined");
        assert_eq!(spam.name, SPAM_QUARANTINE);
        assert_eq!(
            quarantines(&cfg).len(),
            QuarantineConfig::predefined().len()
        );
        assert!(is_predefined("Policy") && !is_predefined("Hold"));
    }

    #[test]
    fn retention_in_minutes_hours_and_days() {
        assert_eq!(parse_retention("30m"), Ok(30));
        assert_eq!(parse_retention("12"), Ok(720));
        assert_eq!(parse_retention("2d"), Ok(2880));
        assert!(parse_retention("0m").is_err());
        assert!(parse_retention("400d").is_err());
        assert!(parse_retention("soon").is_err());
        assert_eq!(format_minutes(90), "90m");
        assert_eq!(format_minutes(120), "2h");
        assert_eq!(format_minutes(2880), "2d");

        let mut cfg = crate::factory::dev_factory_for_tests();
        let mut q = quarantine(&cfg, "Policy").expect("predefined");
        set_retention(&mut cfg, &mut q, 5);
        assert_eq!((q.retention_hours, retention_minutes(&cfg, &q)), (1, 5));
        set_retention(&mut cfg, &mut q, 180);
        assert_eq!((q.retention_hours, retention_minutes(&cfg, &q)), (3, 180));
        assert!(cfg.quarantine_settings.retention_minutes.is_empty());
        set_retention(&mut cfg, &mut q, 5);
        forget(&mut cfg, "policy");
        assert_eq!(retention_minutes(&cfg, &q), 60);
    }

    #[test]
    fn spam_notification_defaults_and_problems() {
        let mut cfg = crate::factory::dev_factory_for_tests();
        let n = &cfg.quarantine_settings.spam_notification;
        assert!(!n.enabled);
        assert_eq!(n.subject, "Spam Quarantine Notification");
        assert_eq!(n.from_for("mail.example"), "quarantine@mail.example");
        assert!(problems(&cfg).is_empty());
        let n = &mut cfg.quarantine_settings.spam_notification;
        n.from = "not an address".to_string();
        n.subject = "two\r\nlines".to_string();
        n.interval_minutes = 0;
        let fields: Vec<String> = problems(&cfg).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "quarantine_settings.spam_notification.from",
                "quarantine_settings.spam_notification.subject",
                "quarantine_settings.spam_notification.interval_minutes"
            ]
        );
    }
}
