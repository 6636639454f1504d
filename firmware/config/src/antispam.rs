//! Anti-spam: the rspamd engine the work queue asks (`antispamconfig`) and
//! each mail policy's "Anti-Spam" column (`policyconfig ... antispam`).
//!
//! AsyncOS keeps the engine's settings (`antispamconfig`) apart from what
//! each mail policy does with a verdict: positive and suspected spam each
//! get an action (deliver, drop, bounce, spam quarantine), an optional
//! subject tag and an optional custom header. Breakwater does the same
//! with rspamd as the engine. The per-policy settings live here, keyed by
//! table and policy name, rather than in `PolicySettings`: that struct is
//! stored positionally inside `Config` and cannot grow (see
//! `store::config_store`); this whole struct is one field at `Config`'s
//! end (config version 8).
//!
//! The engine ships disabled: a box without rspamd would otherwise add the
//! "unscanned" header to every message. DEFAULT of the incoming table has
//! anti-spam on and DEFAULT of the outgoing table off, as AsyncOS ships;
//! custom policies follow DEFAULT until set.

use serde::{Deserialize, Serialize};

use crate::policy::DEFAULT_POLICY;

/// rspamd's normal worker port.
pub const DEFAULT_PORT: u16 = 11333;
/// Seconds one scan may take, connection included (AsyncOS's anti-spam
/// scanning timeout is 60 s).
pub const DEFAULT_TIMEOUT_SECS: u32 = 60;
/// Longest timeout accepted: 10 minutes.
pub const MAX_TIMEOUT_SECS: u32 = 600;
/// Scans in flight at once: a flood facing a slow engine waits for a
/// permit instead of opening a connection per message.
pub const DEFAULT_MAX_CONCURRENT: u32 = 16;
/// Most parallel scans accepted.
pub const MAX_MAX_CONCURRENT: u32 = 1024;
/// AsyncOS's "Maximum Message Size to Scan" for IronPort Anti-Spam: 1 MB
/// (bigger messages are not scanned, which is logged).
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 1024 * 1024;
/// Largest scan size accepted: 100 MB (past that rspamd's own
/// `max_message` refuses the upload anyway).
pub const MAX_MAX_MESSAGE_SIZE: u64 = 100 * 1024 * 1024;
/// Seconds between two scans of a message held because the engine was
/// down (`engine-down hold`).
pub const DEFAULT_RETRY_SECS: u32 = 60;
/// The header a message delivered unscanned carries (fail-open).
pub const UNSCANNED_HEADER: &str = "X-Breakwater-Spam-Status";

/// `antispamconfig`'s settings and the policies' anti-spam columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AntiSpamSettings {
    /// Whether messages are scanned at all.
    pub enabled: bool,
    /// The rspamd normal worker's address (an IP address or a host name).
    pub host: String,
    pub port: u16,
    pub timeout_secs: u32,
    pub max_concurrent: u32,
    /// Bytes; a bigger message is not scanned.
    pub max_message_size: u64,
    pub retry_secs: u32,
    /// The incoming and outgoing policies' settings, DEFAULT included.
    /// A policy without an entry has its factory setting
    /// ([`PolicyAntiSpam::factory`]).
    pub policies: Vec<PolicyEntry>,
}

impl Default for AntiSpamSettings {
    fn default() -> Self {
        AntiSpamSettings {
            enabled: false,
            host: "127.0.0.1".to_string(),
            port: DEFAULT_PORT,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            retry_secs: DEFAULT_RETRY_SECS,
            policies: Vec::new(),
        }
    }
}

/// Which mail policy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Direction> {
        match s.to_ascii_lowercase().as_str() {
            "incoming" | "inbound" => Some(Direction::Incoming),
            "outgoing" | "outbound" => Some(Direction::Outgoing),
            _ => None,
        }
    }
}

/// One policy's anti-spam setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEntry {
    pub direction: Direction,
    pub policy: String,
    pub setting: PolicyAntiSpam,
}

/// A policy's "Anti-Spam" column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyAntiSpam {
    /// DEFAULT's setting (custom policies only).
    UseDefault,
    Disabled,
    Enabled(SpamActions),
}

impl PolicyAntiSpam {
    /// What a policy without an entry has: DEFAULT incoming scans, DEFAULT
    /// outgoing does not, custom policies follow DEFAULT.
    pub fn factory(direction: Direction, policy: &str) -> PolicyAntiSpam {
        if !policy.eq_ignore_ascii_case(DEFAULT_POLICY) {
            PolicyAntiSpam::UseDefault
        } else if direction == Direction::Incoming {
            PolicyAntiSpam::Enabled(SpamActions::default())
        } else {
            PolicyAntiSpam::Disabled
        }
    }

    /// The policy list's "Anti-Spam" column, in AsyncOS's words.
    pub fn column(&self) -> &'static str {
        match self {
            PolicyAntiSpam::UseDefault => "(use default)",
            PolicyAntiSpam::Disabled => "Disabled",
            PolicyAntiSpam::Enabled(_) => "rspamd",
        }
    }
}

/// What a policy does with each verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpamActions {
    pub positive: VerdictAction,
    pub suspect: VerdictAction,
    /// Score thresholds; `None` takes rspamd's own action (`reject` is
    /// positive, `add header` and `rewrite subject` suspect).
    pub positive_score: Option<Score>,
    pub suspect_score: Option<Score>,
    pub engine_down: EngineDown,
}

impl Default for SpamActions {
    fn default() -> Self {
        SpamActions {
            positive: VerdictAction {
                action: SpamAction::Deliver,
                subject_tag: Some("[SPAM] ".to_string()),
                header: None,
            },
            suspect: VerdictAction {
                action: SpamAction::Deliver,
                subject_tag: Some("[SUSPECTED SPAM] ".to_string()),
                header: None,
            },
            positive_score: None,
            suspect_score: None,
            engine_down: EngineDown::Deliver,
        }
    }
}

/// The action for one verdict (AsyncOS: "Apply This Action to Message").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictAction {
    pub action: SpamAction,
    /// Prepended to the subject (deliver and quarantine).
    pub subject_tag: Option<String>,
    /// A custom header, `(name, value)`.
    pub header: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpamAction {
    Deliver,
    Drop,
    Bounce,
    /// Held in the Spam quarantine.
    Quarantine,
}

impl SpamAction {
    pub fn parse(s: &str) -> Option<SpamAction> {
        match s.to_ascii_lowercase().as_str() {
            "deliver" => Some(SpamAction::Deliver),
            "drop" => Some(SpamAction::Drop),
            "bounce" => Some(SpamAction::Bounce),
            "quarantine" | "spam-quarantine" => Some(SpamAction::Quarantine),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            SpamAction::Deliver => "Deliver",
            SpamAction::Drop => "Drop",
            SpamAction::Bounce => "Bounce",
            SpamAction::Quarantine => "Spam Quarantine",
        }
    }
}

/// What happens when the engine cannot be reached or does not answer in
/// time (see `docs/decisions/0019-antispam.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineDown {
    /// Fail open: delivered with `X-Breakwater-Spam-Status: unscanned`.
    Deliver,
    /// Fail closed: kept in the queue and scanned again every
    /// `retry_secs`.
    Hold,
}

impl EngineDown {
    pub fn parse(s: &str) -> Option<EngineDown> {
        match s.to_ascii_lowercase().as_str() {
            "deliver" | "open" => Some(EngineDown::Deliver),
            "hold" | "closed" => Some(EngineDown::Hold),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            EngineDown::Deliver => "Deliver with header",
            EngineDown::Hold => "Hold and retry",
        }
    }
}

/// A spam score in hundredths (config values are integers so `Config`
/// stays `Eq`): `Score(550)` is 5.50.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Score(pub i64);

impl Score {
    /// `5`, `5.5`, `-1.25`: at most two decimals.
    pub fn parse(s: &str) -> Option<Score> {
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || frac.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 9 {
            return None;
        }
        let w: i64 = whole.parse().ok()?;
        let f: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().ok()?
        };
        let v = w * 100 + f;
        Some(Score(if neg { -v } else { v }))
    }

    /// The score as rspamd reports it.
    pub fn from_f64(v: f64) -> Score {
        Score((v * 100.0).round() as i64)
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// Why a setting is refused; the text is the CLI's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AntiSpamError {
    #[error("Invalid engine address '{0}': enter an IP address or a host name.")]
    Host(String),
    #[error("The port must be between 1 and 65535.")]
    Port,
    #[error("The scanning timeout must be between 1 and {MAX_TIMEOUT_SECS} seconds.")]
    Timeout,
    #[error("The maximum number of parallel scans must be between 1 and {MAX_MAX_CONCURRENT}.")]
    Concurrency,
    #[error("The maximum message size to scan must be between 1 and {MAX_MAX_MESSAGE_SIZE} bytes.")]
    Size,
    #[error("The retry interval must be between 1 and 86400 seconds.")]
    Retry,
    #[error("DEFAULT cannot use the default settings: enable or disable anti-spam.")]
    DefaultUsesDefault,
    #[error("The suspected spam threshold must be below the positive spam threshold.")]
    Thresholds,
    #[error("Invalid header '{0}': a header name is letters, digits and '-'.")]
    Header(String),
    #[error("A subject tag or header value may not contain line breaks.")]
    LineBreak,
}

impl AntiSpamSettings {
    /// Checks every setting (run by `Config::validate` on each commit).
    pub fn validate(&self) -> Result<(), AntiSpamError> {
        let host_ok = !self.host.is_empty()
            && (self.host.parse::<std::net::IpAddr>().is_ok()
                || crate::values::HostName::parse(&self.host).is_ok());
        if !host_ok {
            return Err(AntiSpamError::Host(self.host.clone()));
        }
        if self.port == 0 {
            return Err(AntiSpamError::Port);
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err(AntiSpamError::Timeout);
        }
        if !(1..=MAX_MAX_CONCURRENT).contains(&self.max_concurrent) {
            return Err(AntiSpamError::Concurrency);
        }
        if !(1..=MAX_MAX_MESSAGE_SIZE).contains(&self.max_message_size) {
            return Err(AntiSpamError::Size);
        }
        if !(1..=86_400).contains(&self.retry_secs) {
            return Err(AntiSpamError::Retry);
        }
        for e in &self.policies {
            if e.policy.eq_ignore_ascii_case(DEFAULT_POLICY)
                && e.setting == PolicyAntiSpam::UseDefault
            {
                return Err(AntiSpamError::DefaultUsesDefault);
            }
            if let PolicyAntiSpam::Enabled(a) = &e.setting {
                a.validate()?;
            }
        }
        Ok(())
    }

    /// The policy's own setting (its entry, or its factory setting).
    pub fn own(&self, direction: Direction, policy: &str) -> PolicyAntiSpam {
        self.policies
            .iter()
            .find(|e| e.direction == direction && e.policy.eq_ignore_ascii_case(policy))
            .map(|e| e.setting.clone())
            .unwrap_or_else(|| PolicyAntiSpam::factory(direction, policy))
    }

    /// The actions in force for a policy (DEFAULT's when it follows
    /// DEFAULT); `None` when anti-spam is off for it.
    pub fn effective(&self, direction: Direction, policy: &str) -> Option<SpamActions> {
        let own = match self.own(direction, policy) {
            PolicyAntiSpam::UseDefault => self.own(direction, DEFAULT_POLICY),
            s => s,
        };
        match own {
            PolicyAntiSpam::Enabled(a) => Some(a),
            _ => None,
        }
    }

    /// Sets a policy's setting.
    pub fn set(&mut self, direction: Direction, policy: &str, setting: PolicyAntiSpam) {
        match self
            .policies
            .iter_mut()
            .find(|e| e.direction == direction && e.policy.eq_ignore_ascii_case(policy))
        {
            Some(e) => e.setting = setting,
            None => self.policies.push(PolicyEntry {
                direction,
                policy: policy.to_string(),
                setting,
            }),
        }
    }

    /// A policy was renamed (`policyconfig rename`): its setting follows.
    pub fn rename_policy(&mut self, direction: Direction, old: &str, new: &str) {
        for e in &mut self.policies {
            if e.direction == direction && e.policy.eq_ignore_ascii_case(old) {
                e.policy = new.to_string();
            }
        }
    }

    /// A policy was deleted: its setting goes with it.
    pub fn delete_policy(&mut self, direction: Direction, policy: &str) {
        self.policies
            .retain(|e| !(e.direction == direction && e.policy.eq_ignore_ascii_case(policy)));
    }
}

impl SpamActions {
    fn validate(&self) -> Result<(), AntiSpamError> {
        if let (Some(p), Some(s)) = (self.positive_score, self.suspect_score)
            && s >= p
        {
            return Err(AntiSpamError::Thresholds);
        }
        for v in [&self.positive, &self.suspect] {
            if v.subject_tag.as_deref().is_some_and(has_line_break) {
                return Err(AntiSpamError::LineBreak);
            }
            if let Some((name, value)) = &v.header {
                check_header_name(name)?;
                if has_line_break(value) {
                    return Err(AntiSpamError::LineBreak);
                }
            }
        }
        Ok(())
    }
}

fn has_line_break(s: &str) -> bool {
    s.contains(['\r', '\n'])
}

/// A header name as RFC 5322 allows, restricted to what administrators
/// type (letters, digits, '-').
pub fn check_header_name(name: &str) -> Result<(), AntiSpamError> {
    if name.is_empty()
        || name.len() > 76
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(AntiSpamError::Header(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_incoming_scans_outgoing_does_not_and_custom_follows_default() {
        let mut s = AntiSpamSettings::default();
        assert!(!s.enabled);
        assert!(s.effective(Direction::Incoming, "DEFAULT").is_some());
        assert!(s.effective(Direction::Outgoing, "DEFAULT").is_none());
        assert!(s.effective(Direction::Incoming, "SALES").is_some());
        s.set(Direction::Incoming, "DEFAULT", PolicyAntiSpam::Disabled);
        assert!(s.effective(Direction::Incoming, "SALES").is_none());
        assert_eq!(
            s.own(Direction::Incoming, "SALES").column(),
            "(use default)"
        );
        s.set(
            Direction::Incoming,
            "SALES",
            PolicyAntiSpam::Enabled(SpamActions::default()),
        );
        assert!(s.effective(Direction::Incoming, "sales").is_some());
        s.rename_policy(Direction::Incoming, "SALES", "EAST");
        assert!(s.effective(Direction::Incoming, "EAST").is_some());
        s.delete_policy(Direction::Incoming, "EAST");
        assert!(s.effective(Direction::Incoming, "EAST").is_none());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn settings_out_of_range_are_refused_with_the_cli_answer() {
        let mut s = AntiSpamSettings {
            timeout_secs: 0,
            ..Default::default()
        };
        assert_eq!(s.validate(), Err(AntiSpamError::Timeout));
        s.timeout_secs = 5;
        s.host = "bad host".into();
        assert!(matches!(s.validate(), Err(AntiSpamError::Host(_))));
        s.host = "rspamd.example.com".into();
        s.set(Direction::Incoming, "DEFAULT", PolicyAntiSpam::UseDefault);
        assert_eq!(s.validate(), Err(AntiSpamError::DefaultUsesDefault));
        let mut a = SpamActions {
            positive_score: Some(Score(500)),
            suspect_score: Some(Score(600)),
            ..Default::default()
        };
        s.set(
            Direction::Incoming,
            "DEFAULT",
            PolicyAntiSpam::Enabled(a.clone()),
        );
        assert_eq!(s.validate(), Err(AntiSpamError::Thresholds));
        a.suspect_score = Some(Score(300));
        a.positive.header = Some(("X Bad".into(), "v".into()));
        s.set(Direction::Incoming, "DEFAULT", PolicyAntiSpam::Enabled(a));
        assert!(matches!(s.validate(), Err(AntiSpamError::Header(_))));
    }

    #[test]
    fn scores_read_and_print_with_two_decimals() {
        assert_eq!(Score::parse("5"), Some(Score(500)));
        assert_eq!(Score::parse("5.5"), Some(Score(550)));
        assert_eq!(Score::parse("-1.25"), Some(Score(-125)));
        assert_eq!(Score::parse("1.234"), None);
        assert_eq!(Score::parse("x"), None);
        assert_eq!(Score::parse(""), None);
        assert_eq!(Score(-125).to_string(), "-1.25");
        assert_eq!(Score::from_f64(15.0).to_string(), "15.00");
    }
}
