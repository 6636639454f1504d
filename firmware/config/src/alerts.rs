//! Alerts (`alertconfig`): who receives which alert classes at which
//! severities, the From address, the duplicate-alert intervals and the
//! thresholds that raise alerts. As on AsyncOS, a factory box has no
//! recipients (`systemsetup` asks for one); alerts are e-mail the gateway
//! generates and delivers itself.
//!
//! Stored at the end of `Config` (postcard, positional): fields are never
//! added to these structs; a new class or severity is appended as the last
//! enum variant.

use serde::{Deserialize, Serialize};

use crate::address::Mailbox;

/// What an alert is about (AsyncOS's alert classes that Breakwater has,
/// plus Threat Defense).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertClass {
    System,
    Hardware,
    Updater,
    /// "Mail Delivery / Queue": listeners, queue and data partition use,
    /// certificates.
    MailDelivery,
    ThreatDefense,
}

impl AlertClass {
    pub const ALL: [AlertClass; 5] = [
        AlertClass::System,
        AlertClass::Hardware,
        AlertClass::Updater,
        AlertClass::MailDelivery,
        AlertClass::ThreatDefense,
    ];

    /// The name the CLI and the alert subject use.
    pub fn name(self) -> &'static str {
        match self {
            AlertClass::System => "System",
            AlertClass::Hardware => "Hardware",
            AlertClass::Updater => "Updater",
            AlertClass::MailDelivery => "Mail Delivery",
            AlertClass::ThreatDefense => "Threat Defense",
        }
    }

    /// The one-word form typed at the CLI (`system`, `maildelivery`...);
    /// the display name with spaces works too.
    pub fn parse(word: &str) -> Option<AlertClass> {
        let squashed: String = word
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        Self::ALL.into_iter().find(|c| {
            c.name().replace(' ', "").to_ascii_lowercase() == squashed
                || (squashed == "queue" && *c == AlertClass::MailDelivery)
                || (squashed == "tdc" && *c == AlertClass::ThreatDefense)
        })
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Critical,
    Warning,
    Information,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Critical, Severity::Warning, Severity::Information];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::Warning => "Warning",
            Severity::Information => "Information",
        }
    }

    pub fn parse(word: &str) -> Option<Severity> {
        let w = word.to_ascii_lowercase();
        match w.as_str() {
            "critical" => Some(Severity::Critical),
            "warning" => Some(Severity::Warning),
            "information" | "info" => Some(Severity::Information),
            _ => None,
        }
    }
}

/// One class a recipient receives, at these severities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSubscription {
    pub class: AlertClass,
    pub severities: Vec<Severity>,
}

/// An alert recipient and what it receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecipient {
    pub address: String,
    pub subscriptions: Vec<AlertSubscription>,
}

impl AlertRecipient {
    /// Every class at every severity (AsyncOS's default for a new one).
    pub fn all(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            subscriptions: AlertClass::ALL
                .into_iter()
                .map(|class| AlertSubscription {
                    class,
                    severities: Severity::ALL.to_vec(),
                })
                .collect(),
        }
    }

    pub fn wants(&self, class: AlertClass, severity: Severity) -> bool {
        self.subscriptions
            .iter()
            .any(|s| s.class == class && s.severities.contains(&severity))
    }
}

/// `alertconfig` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettings {
    pub recipients: Vec<AlertRecipient>,
    /// The `From:` of alerts; `None` is AsyncOS's `alert@<hostname>`.
    pub from_address: Option<String>,
    /// Seconds before the same alert is sent again (AsyncOS: 300); the
    /// wait doubles after each repeat up to `max_interval_secs`. 0 sends
    /// every duplicate.
    pub initial_interval_secs: u32,
    /// The cap of that wait (AsyncOS: 3600).
    pub max_interval_secs: u32,
    /// A Mail Delivery alert when the queue holds more than this percent of
    /// its message or byte limit (`queue_limits`).
    pub queue_threshold_percent: u8,
    /// A System alert when the data partition is fuller than this percent.
    pub data_threshold_percent: u8,
    /// A Warning when a certificate expires within this many days.
    pub certificate_expiry_days: u32,
    /// A Threat Defense alert after this many consecutive failed copies.
    pub threat_defense_failures: u32,
    /// Seconds between the checks of the queue, the data partition, the
    /// certificates, the Threat Defense copies and the supervisor's notes.
    pub check_interval_secs: u32,
}

pub const DEFAULT_INITIAL_INTERVAL_SECS: u32 = 300;
pub const DEFAULT_MAX_INTERVAL_SECS: u32 = 3600;
/// Recipients `alertconfig` keeps at most (each alert is one message to all).
pub const MAX_ALERT_RECIPIENTS: usize = 50;

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            recipients: Vec::new(),
            from_address: None,
            initial_interval_secs: DEFAULT_INITIAL_INTERVAL_SECS,
            max_interval_secs: DEFAULT_MAX_INTERVAL_SECS,
            queue_threshold_percent: 90,
            data_threshold_percent: 90,
            certificate_expiry_days: 30,
            threat_defense_failures: 5,
            check_interval_secs: 60,
        }
    }
}

impl AlertSettings {
    /// The `From:` address of alerts on a box named `hostname`.
    pub fn from_for(&self, hostname: &str) -> String {
        self.from_address
            .clone()
            .unwrap_or_else(|| format!("alert@{hostname}"))
    }

    /// The recipients of an alert of `class` at `severity`.
    pub fn recipients_for(&self, class: AlertClass, severity: Severity) -> Vec<String> {
        self.recipients
            .iter()
            .filter(|r| r.wants(class, severity))
            .map(|r| r.address.clone())
            .collect()
    }

    /// Each problem as (field, message), for `Config::validate`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        for (i, r) in self.recipients.iter().enumerate() {
            if let Err(e) = check_address(&r.address) {
                p.push((format!("alerts.recipients[{i}].address"), e));
            }
            if self.recipients[..i]
                .iter()
                .any(|o| o.address.eq_ignore_ascii_case(&r.address))
            {
                p.push((
                    format!("alerts.recipients[{i}].address"),
                    format!("{} is already an alert recipient.", r.address),
                ));
            }
        }
        if self.recipients.len() > MAX_ALERT_RECIPIENTS {
            p.push((
                "alerts.recipients".to_string(),
                format!("At most {MAX_ALERT_RECIPIENTS} alert recipients."),
            ));
        }
        if let Some(Err(e)) = self.from_address.as_deref().map(check_address) {
            p.push(("alerts.from_address".to_string(), e));
        }
        if self.max_interval_secs < self.initial_interval_secs {
            p.push((
                "alerts.max_interval_secs".to_string(),
                "The maximum wait before a duplicate alert must be at least the initial wait."
                    .to_string(),
            ));
        }
        for (field, v) in [
            (
                "alerts.queue_threshold_percent",
                self.queue_threshold_percent,
            ),
            ("alerts.data_threshold_percent", self.data_threshold_percent),
        ] {
            if !(1..=100).contains(&v) {
                p.push((
                    field.to_string(),
                    "Enter a percentage from 1 to 100.".to_string(),
                ));
            }
        }
        if self.check_interval_secs == 0 {
            p.push((
                "alerts.check_interval_secs".to_string(),
                "Enter at least 1 second between alert checks.".to_string(),
            ));
        }
        if self.threat_defense_failures == 0 {
            p.push((
                "alerts.threat_defense_failures".to_string(),
                "Enter at least 1 failed copy.".to_string(),
            ));
        }
        p
    }
}

/// An alert address: a plain mailbox such as `admin@example.com`.
pub fn check_address(text: &str) -> Result<(), String> {
    Mailbox::parse(text, false).map(|_| ()).map_err(|e| {
        format!("Invalid e-mail address '{text}': {e}. Enter one such as admin@example.com.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_severities_parse_as_typed_at_the_cli() {
        assert_eq!(AlertClass::parse("system"), Some(AlertClass::System));
        assert_eq!(
            AlertClass::parse("Mail Delivery"),
            Some(AlertClass::MailDelivery)
        );
        assert_eq!(
            AlertClass::parse("maildelivery"),
            Some(AlertClass::MailDelivery)
        );
        assert_eq!(
            AlertClass::parse("threat-defense"),
            Some(AlertClass::ThreatDefense)
        );
        assert_eq!(AlertClass::parse("antispam"), None);
        assert_eq!(Severity::parse("INFO"), Some(Severity::Information));
        assert_eq!(Severity::parse("minor"), None);
    }

    #[test]
    fn recipients_get_only_what_they_subscribe_to() {
        let mut s = AlertSettings::default();
        assert!(
            s.recipients_for(AlertClass::System, Severity::Critical)
                .is_empty()
        );
        s.recipients.push(AlertRecipient::all("ops@example.com"));
        s.recipients.push(AlertRecipient {
            address: "hw@example.com".into(),
            subscriptions: vec![AlertSubscription {
                class: AlertClass::Hardware,
                severities: vec![Severity::Critical],
            }],
        });
        assert_eq!(
            s.recipients_for(AlertClass::Hardware, Severity::Critical),
            ["ops@example.com", "hw@example.com"]
        );
        assert_eq!(
            s.recipients_for(AlertClass::Hardware, Severity::Warning),
            ["ops@example.com"]
        );
        assert_eq!(s.from_for("gw.example.com"), "alert@gw.example.com");
    }

    #[test]
    fn bad_addresses_duplicates_and_intervals_are_problems() {
        let mut s = AlertSettings::default();
        assert!(s.problems().is_empty());
        s.recipients.push(AlertRecipient::all("not an address"));
        s.recipients.push(AlertRecipient::all("a@example.com"));
        s.recipients.push(AlertRecipient::all("A@example.com"));
        s.from_address = Some("nobody".into());
        s.max_interval_secs = 10;
        s.queue_threshold_percent = 0;
        let fields: Vec<String> = s.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "alerts.recipients[0].address",
                "alerts.recipients[2].address",
                "alerts.from_address",
                "alerts.max_interval_secs",
                "alerts.queue_threshold_percent",
            ]
        );
    }
}
