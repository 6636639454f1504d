//! Anti-virus: the ClamAV engine the gateway scans with (`antivirusconfig`)
//! and the "Anti-Virus" column of the incoming and outgoing mail policy
//! tables (`policyconfig edit <dir> <policy> antivirus ...`).
//!
//! AsyncOS keeps anti-virus settings inside each mail policy. Our stored
//! [`crate::PolicySettings`] cannot gain fields (postcard is positional),
//! so the per-policy settings live here, keyed by direction and policy
//! name, and follow the policy when it is renamed or deleted
//! ([`AntiVirusSettings::rename_policy`], [`AntiVirusSettings::delete_policy`]).
//! A policy without an entry follows DEFAULT (AsyncOS's "Use Default
//! Settings"); DEFAULT without an entry scans with [`PolicyAntiVirus::default`].
//!
//! Version 8 of the stored config appended [`AntiVirusSettings`] as one
//! field at its end.

use serde::{Deserialize, Serialize};

/// clamd's customary TCP port (`TCPSocket` in clamd.conf).
pub const DEFAULT_CLAMD_PORT: u16 = 3310;
/// Seconds a scan may take, connection included. AsyncOS's default
/// anti-virus scanning timeout is 60 s.
pub const DEFAULT_SCAN_TIMEOUT_SECS: u32 = 60;
pub const MIN_SCAN_TIMEOUT_SECS: u32 = 1;
pub const MAX_SCAN_TIMEOUT_SECS: u32 = 600;
/// Scans in flight at once. clamd's own `MaxThreads` default is 10; one
/// fewer keeps a thread free for its own `PING`s and other clients.
pub const DEFAULT_MAX_PARALLEL_SCANS: u32 = 8;
pub const MAX_MAX_PARALLEL_SCANS: u32 = 256;
/// Larger messages are not scanned (verdict "unscannable"). 25 MiB is
/// clamd's `StreamMaxLength` default; a larger stream would be refused
/// by clamd itself ("INSTREAM size limit exceeded").
pub const DEFAULT_MAX_SCAN_BYTES: u64 = 25 * 1024 * 1024;
pub const MAX_MAX_SCAN_BYTES: u64 = 1024 * 1024 * 1024;

/// Subject tags, as AsyncOS writes them by default.
pub const TAG_INFECTED: &str = "[WARNING: VIRUS DETECTED]";
pub const TAG_UNSCANNABLE: &str = "[WARNING: A/V UNSCANNABLE]";
pub const TAG_ENCRYPTED: &str = "[WARNING: MESSAGE ENCRYPTED]";

/// `antivirusconfig`'s settings plus the per-policy column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AntiVirusSettings {
    /// Scanning on the appliance at all (AsyncOS: the feature enabled).
    pub enabled: bool,
    /// clamd's address: an IP address or a host name.
    pub host: String,
    pub port: u16,
    pub timeout_secs: u32,
    pub max_parallel_scans: u32,
    pub max_scan_bytes: u64,
    /// Per-policy settings; a policy absent here follows DEFAULT.
    pub policies: Vec<PolicyAntiVirus>,
}

impl Default for AntiVirusSettings {
    fn default() -> Self {
        AntiVirusSettings {
            enabled: false,
            host: "127.0.0.1".to_string(),
            port: DEFAULT_CLAMD_PORT,
            timeout_secs: DEFAULT_SCAN_TIMEOUT_SECS,
            max_parallel_scans: DEFAULT_MAX_PARALLEL_SCANS,
            max_scan_bytes: DEFAULT_MAX_SCAN_BYTES,
            policies: Vec::new(),
        }
    }
}

/// Incoming (public listeners) or outgoing (private listeners) table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "incoming" | "inbound" => Some(Direction::Incoming),
            "outgoing" | "outbound" => Some(Direction::Outgoing),
            _ => None,
        }
    }
}

/// What happens to a message with a given verdict (AsyncOS's "Action
/// Applied to Message" plus "Modify message subject").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerdictAction {
    /// Deliver unchanged.
    Deliver,
    /// Deliver with the verdict's subject tag.
    Tag,
    /// Hold in the Virus quarantine.
    Quarantine,
    /// Delete without a DSN.
    Drop,
}

impl VerdictAction {
    pub fn word(self) -> &'static str {
        match self {
            VerdictAction::Deliver => "deliver",
            VerdictAction::Tag => "tag",
            VerdictAction::Quarantine => "quarantine",
            VerdictAction::Drop => "drop",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "deliver" => VerdictAction::Deliver,
            "tag" => VerdictAction::Tag,
            "quarantine" => VerdictAction::Quarantine,
            "drop" => VerdictAction::Drop,
            _ => return None,
        })
    }
}

/// When clamd cannot be reached or does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineDown {
    /// Apply the unscannable action (the message carries
    /// `X-Breakwater-AV-Status: unscanned`).
    FailOpen,
    /// Keep the message in the queue and scan it again later.
    FailClosed,
}

impl EngineDown {
    pub fn word(self) -> &'static str {
        match self {
            EngineDown::FailOpen => "fail-open",
            EngineDown::FailClosed => "fail-closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fail-open" | "open" => Some(EngineDown::FailOpen),
            "fail-closed" | "closed" | "hold" => Some(EngineDown::FailClosed),
            _ => None,
        }
    }
}

/// One policy's "Anti-Virus" settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAntiVirus {
    pub direction: Direction,
    /// The policy's name (`DEFAULT` for the table's default row).
    pub policy: String,
    pub enabled: bool,
    pub infected: VerdictAction,
    pub unscannable: VerdictAction,
    pub encrypted: VerdictAction,
    pub engine_down: EngineDown,
}

impl PolicyAntiVirus {
    /// AsyncOS's defaults: infected messages dropped, unscannable and
    /// encrypted ones delivered with a subject tag; fail-closed, so an
    /// engine outage delays mail rather than letting a virus through.
    pub fn default_for(direction: Direction, policy: &str) -> Self {
        PolicyAntiVirus {
            direction,
            policy: policy.to_string(),
            enabled: true,
            infected: VerdictAction::Drop,
            unscannable: VerdictAction::Tag,
            encrypted: VerdictAction::Tag,
            engine_down: EngineDown::FailClosed,
        }
    }
}

/// A settings error, worded for the CLI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AntiVirusError {
    #[error(
        "The scanning timeout must be between {MIN_SCAN_TIMEOUT_SECS} and {MAX_SCAN_TIMEOUT_SECS} seconds."
    )]
    Timeout,
    #[error("The maximum number of parallel scans must be between 1 and {MAX_MAX_PARALLEL_SCANS}.")]
    Parallel,
    #[error("The maximum message size to scan must be between 1 and {MAX_MAX_SCAN_BYTES} bytes.")]
    Size,
    #[error("Invalid anti-virus engine address '{0}'.")]
    Host(String),
    #[error("The anti-virus engine port must be between 1 and 65535.")]
    Port,
}

impl AntiVirusSettings {
    pub fn validate(&self) -> Result<(), AntiVirusError> {
        if !(MIN_SCAN_TIMEOUT_SECS..=MAX_SCAN_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err(AntiVirusError::Timeout);
        }
        if !(1..=MAX_MAX_PARALLEL_SCANS).contains(&self.max_parallel_scans) {
            return Err(AntiVirusError::Parallel);
        }
        if !(1..=MAX_MAX_SCAN_BYTES).contains(&self.max_scan_bytes) {
            return Err(AntiVirusError::Size);
        }
        if self.port == 0 {
            return Err(AntiVirusError::Port);
        }
        let host_ok = !self.host.is_empty()
            && self.host.len() <= 253
            && self
                .host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !host_ok {
            return Err(AntiVirusError::Host(self.host.clone()));
        }
        Ok(())
    }

    /// The policy's own entry, if it has one.
    pub fn own(&self, direction: Direction, policy: &str) -> Option<&PolicyAntiVirus> {
        self.policies
            .iter()
            .find(|p| p.direction == direction && p.policy.eq_ignore_ascii_case(policy))
    }

    /// The settings in force for a policy: its own, else DEFAULT's, else
    /// the factory defaults.
    pub fn effective(&self, direction: Direction, policy: &str) -> PolicyAntiVirus {
        self.own(direction, policy)
            .or_else(|| self.own(direction, crate::policy::DEFAULT_POLICY))
            .cloned()
            .unwrap_or_else(|| {
                PolicyAntiVirus::default_for(direction, crate::policy::DEFAULT_POLICY)
            })
    }

    /// The entry to edit for a policy, created from what is in force.
    pub fn entry_mut(&mut self, direction: Direction, policy: &str) -> &mut PolicyAntiVirus {
        let i = match self
            .policies
            .iter()
            .position(|p| p.direction == direction && p.policy.eq_ignore_ascii_case(policy))
        {
            Some(i) => i,
            None => {
                let mut e = self.effective(direction, policy);
                e.policy = policy.to_string();
                self.policies.push(e);
                self.policies.len() - 1
            }
        };
        &mut self.policies[i]
    }

    /// `use-default`: the policy follows DEFAULT again.
    pub fn use_default(&mut self, direction: Direction, policy: &str) {
        self.delete_policy(direction, policy);
    }

    /// The policy's column in `policyconfig list`.
    pub fn column(&self, direction: Direction, policy: &str) -> String {
        let is_default = policy.eq_ignore_ascii_case(crate::policy::DEFAULT_POLICY);
        match self.own(direction, policy) {
            None if !is_default => "(use default)".to_string(),
            _ if !self.enabled => "Not Available".to_string(),
            _ => {
                let e = self.effective(direction, policy);
                if e.enabled {
                    "ClamAV".to_string()
                } else {
                    "Disabled".to_string()
                }
            }
        }
    }

    /// A policy renamed by `policyconfig`: its settings follow.
    pub fn rename_policy(&mut self, direction: Direction, old: &str, new: &str) {
        for p in &mut self.policies {
            if p.direction == direction && p.policy.eq_ignore_ascii_case(old) {
                p.policy = new.to_string();
            }
        }
    }

    /// A policy deleted by `policyconfig`: its settings go with it.
    pub fn delete_policy(&mut self, direction: Direction, policy: &str) {
        self.policies
            .retain(|p| !(p.direction == direction && p.policy.eq_ignore_ascii_case(policy)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_policies_follow_default() {
        let mut s = AntiVirusSettings::default();
        s.validate().unwrap();
        assert_eq!(
            s.effective(Direction::Incoming, "SALES").infected,
            VerdictAction::Drop
        );
        s.entry_mut(Direction::Incoming, "DEFAULT").infected = VerdictAction::Quarantine;
        assert_eq!(
            s.effective(Direction::Incoming, "SALES").infected,
            VerdictAction::Quarantine
        );
        assert_eq!(s.column(Direction::Incoming, "SALES"), "(use default)");
        s.entry_mut(Direction::Incoming, "SALES").enabled = false;
        s.enabled = true;
        assert_eq!(s.column(Direction::Incoming, "SALES"), "Disabled");
        assert_eq!(s.column(Direction::Incoming, "DEFAULT"), "ClamAV");
        // Outgoing is its own table.
        assert!(s.effective(Direction::Outgoing, "SALES").enabled);
    }

    #[test]
    fn renames_and_deletes_carry_the_settings() {
        let mut s = AntiVirusSettings::default();
        s.entry_mut(Direction::Incoming, "SALES").encrypted = VerdictAction::Drop;
        s.rename_policy(Direction::Incoming, "sales", "PARTNERS");
        assert_eq!(
            s.own(Direction::Incoming, "PARTNERS").map(|p| p.encrypted),
            Some(VerdictAction::Drop)
        );
        s.delete_policy(Direction::Incoming, "PARTNERS");
        assert!(s.policies.is_empty());
    }

    #[test]
    fn limits_are_refused() {
        let bad = [
            AntiVirusSettings {
                timeout_secs: 0,
                ..Default::default()
            },
            AntiVirusSettings {
                max_parallel_scans: 0,
                ..Default::default()
            },
            AntiVirusSettings {
                max_scan_bytes: 0,
                ..Default::default()
            },
            AntiVirusSettings {
                port: 0,
                ..Default::default()
            },
            AntiVirusSettings {
                host: "a b".into(),
                ..Default::default()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?}");
        }
    }
}
