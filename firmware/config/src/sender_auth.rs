//! Sender authentication on incoming mail (issue 17): SPF/SIDF, DKIM and
//! DMARC verification, set per listener mail flow policy as AsyncOS's HAT
//! mail flow policy has them, and AsyncOS's DMARC verification profiles.
//!
//! Mail flow policies are stored structs that cannot gain fields (old
//! stored configs would no longer decode), so the per-policy switches live
//! here keyed by (listener, policy name); a policy without an entry uses
//! [`FlowPolicyAuth::default`] (everything off, as AsyncOS ships its
//! policies). Version 8 of the stored config appended this struct.

use serde::{Deserialize, Serialize};

/// The DMARC verification profile AsyncOS predefines.
pub const DEFAULT_DMARC_PROFILE: &str = "DEFAULT";
/// Factory budget for all of a message's DNS work (SPF, DKIM keys, DMARC
/// record): 20 s, mail-auth's own SPF ceiling.
pub const DEFAULT_DNS_BUDGET_SECS: u32 = 20;
/// Signatures verified per message at most (Postfix's OpenDKIM caps
/// signatures too; each one costs a key lookup).
pub const DEFAULT_MAX_DKIM_SIGNATURES: u32 = 5;
/// At most this many DMARC verification profiles.
pub const MAX_DMARC_PROFILES: usize = 64;

/// AsyncOS's SPF/SIDF conformance levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SpfConformance {
    /// RFC 7208 SPF: HELO and MAIL FROM identities.
    #[default]
    SpfOnly,
    /// SPF plus the purported responsible address (treated as MAIL FROM;
    /// Sender ID is obsolete, RFC 6686).
    SidfCompatible,
    /// As SIDF-compatible, and a TempError counts as a failure.
    SidfStrict,
}

impl SpfConformance {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "spf" | "spf-only" => Some(Self::SpfOnly),
            "sidf-compatible" => Some(Self::SidfCompatible),
            "sidf-strict" => Some(Self::SidfStrict),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Self::SpfOnly => "spf-only",
            Self::SidfCompatible => "sidf-compatible",
            Self::SidfStrict => "sidf-strict",
        }
    }
}

/// A mail flow policy's sender authentication switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowPolicyAuth {
    pub listener: String,
    /// The mail flow policy's name (as stored on the listener).
    pub policy: String,
    /// "Use SPF/SIDF Verification".
    pub spf: bool,
    pub spf_conformance: SpfConformance,
    /// "Use DKIM Verification".
    pub dkim: bool,
    /// "DMARC Verification": the profile applied, when on.
    pub dmarc_profile: Option<String>,
}

impl FlowPolicyAuth {
    pub fn new(listener: &str, policy: &str) -> Self {
        FlowPolicyAuth {
            listener: listener.to_string(),
            policy: policy.to_string(),
            spf: false,
            spf_conformance: SpfConformance::SpfOnly,
            dkim: false,
            dmarc_profile: None,
        }
    }

    /// Anything to verify at all.
    pub fn any(&self) -> bool {
        self.spf || self.dkim || self.dmarc_profile.is_some()
    }
}

/// What a DMARC verification profile does with a message whose domain's
/// policy is p=reject or p=quarantine (AsyncOS: "Message Action").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DmarcAction {
    /// Accept: the administrator overrides the domain's policy.
    NoAction,
    /// Hold the message in this quarantine.
    Quarantine(String),
    /// Refuse at end of data with this code and text.
    Reject { code: u16, text: String },
}

impl DmarcAction {
    pub fn describe(&self) -> String {
        match self {
            Self::NoAction => "none".to_string(),
            Self::Quarantine(q) => format!("quarantine {q}"),
            Self::Reject { code, text } => format!("reject {code} {text}"),
        }
    }
}

/// An AsyncOS DMARC verification profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcProfile {
    pub name: String,
    /// For a domain publishing p=reject.
    pub on_reject: DmarcAction,
    /// For a domain publishing p=quarantine.
    pub on_quarantine: DmarcAction,
    /// A temporary failure (the DMARC record could not be fetched):
    /// accept (AsyncOS's default) or refuse with 451.
    pub on_temperror_accept: bool,
}

impl DmarcProfile {
    /// AsyncOS's `DEFAULT` profile: reject with `550 5.7.1 DMARC
    /// unauthenticated mail is prohibited` (AsyncOS writes `#5.7.1`), quarantine in Policy.
    pub fn predefined(name: &str) -> Self {
        DmarcProfile {
            name: name.to_string(),
            on_reject: DmarcAction::Reject {
                code: 550,
                text: "5.7.1 DMARC unauthenticated mail is prohibited".to_string(),
            },
            on_quarantine: DmarcAction::Quarantine("Policy".to_string()),
            on_temperror_accept: true,
        }
    }
}

/// All of the sender authentication configuration (`Config::sender_auth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SenderAuthSettings {
    pub flow_policies: Vec<FlowPolicyAuth>,
    pub dmarc_profiles: Vec<DmarcProfile>,
    /// Seconds of DNS work per message for all checks together; when it is
    /// spent, the checks not done are TempError.
    pub dns_budget_secs: u32,
    /// DKIM signatures verified per message; later ones are ignored.
    pub max_dkim_signatures: u32,
}

impl Default for SenderAuthSettings {
    fn default() -> Self {
        SenderAuthSettings {
            flow_policies: Vec::new(),
            dmarc_profiles: vec![DmarcProfile::predefined(DEFAULT_DMARC_PROFILE)],
            dns_budget_secs: DEFAULT_DNS_BUDGET_SECS,
            max_dkim_signatures: DEFAULT_MAX_DKIM_SIGNATURES,
        }
    }
}

impl SenderAuthSettings {
    /// The switches of `policy` on `listener` (all off when unset).
    pub fn for_policy(&self, listener: &str, policy: &str) -> FlowPolicyAuth {
        self.flow_policies
            .iter()
            .find(|p| {
                p.listener.eq_ignore_ascii_case(listener) && p.policy.eq_ignore_ascii_case(policy)
            })
            .cloned()
            .unwrap_or_else(|| FlowPolicyAuth::new(listener, policy))
    }

    /// The entry of `policy` on `listener`, created when missing.
    pub fn policy_mut(&mut self, listener: &str, policy: &str) -> &mut FlowPolicyAuth {
        let at = self.flow_policies.iter().position(|p| {
            p.listener.eq_ignore_ascii_case(listener) && p.policy.eq_ignore_ascii_case(policy)
        });
        let at = match at {
            Some(i) => i,
            None => {
                self.flow_policies
                    .push(FlowPolicyAuth::new(listener, policy));
                self.flow_policies.len() - 1
            }
        };
        &mut self.flow_policies[at]
    }

    pub fn profile(&self, name: &str) -> Option<&DmarcProfile> {
        self.dmarc_profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// A listener was renamed: its policies' switches follow it.
    pub fn rename_listener(&mut self, from: &str, to: &str) {
        for p in &mut self.flow_policies {
            if p.listener.eq_ignore_ascii_case(from) {
                p.listener = to.to_string();
            }
        }
    }

    /// Drops the switches of policies that no longer exist (`exists`
    /// answers for (listener, policy)), after a delete.
    pub fn prune(&mut self, exists: impl Fn(&str, &str) -> bool) {
        self.flow_policies
            .retain(|p| exists(&p.listener, &p.policy) && p.any());
    }

    /// Problems `validate` reports, as (field, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.dns_budget_secs == 0 || self.dns_budget_secs > 300 {
            out.push((
                "sender_auth.dns_budget_secs".to_string(),
                "must be 1 to 300 seconds".to_string(),
            ));
        }
        if self.max_dkim_signatures == 0 || self.max_dkim_signatures > 50 {
            out.push((
                "sender_auth.max_dkim_signatures".to_string(),
                "must be 1 to 50".to_string(),
            ));
        }
        if self.dmarc_profiles.len() > MAX_DMARC_PROFILES {
            out.push((
                "sender_auth.dmarc_profiles".to_string(),
                format!("at most {MAX_DMARC_PROFILES} profiles"),
            ));
        }
        for (i, p) in self.dmarc_profiles.iter().enumerate() {
            for a in [&p.on_reject, &p.on_quarantine] {
                if let DmarcAction::Reject { code, text } = a
                    && (!(500..=599).contains(code)
                        || text.len() > 400
                        || text.contains(['\r', '\n']))
                {
                    out.push((
                        format!("sender_auth.dmarc_profiles[{i}]"),
                        "a reject needs a 5xx code and a one-line text of at most 400 characters"
                            .to_string(),
                    ));
                }
            }
        }
        for (i, p) in self.flow_policies.iter().enumerate() {
            if let Some(name) = &p.dmarc_profile
                && self.profile(name).is_none()
            {
                out.push((
                    format!("sender_auth.flow_policies[{i}]"),
                    format!("DMARC verification profile '{name}' does not exist"),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_policies_verify_nothing_and_default_profile_rejects() {
        let s = SenderAuthSettings::default();
        assert!(!s.for_policy("IncomingMail", "ACCEPTED").any());
        let p = s.profile("default").expect("predefined profile");
        assert_eq!(
            p.on_reject,
            DmarcAction::Reject {
                code: 550,
                text: "5.7.1 DMARC unauthenticated mail is prohibited".into()
            }
        );
        assert!(s.problems().is_empty());
    }

    #[test]
    fn switches_follow_renames_and_deletes() {
        let mut s = SenderAuthSettings::default();
        s.policy_mut("IncomingMail", "ACCEPTED").spf = true;
        s.policy_mut("IncomingMail", "spare").dkim = true;
        s.rename_listener("IncomingMail", "Inbound");
        assert!(s.for_policy("inbound", "accepted").spf);
        s.prune(|_, p| p != "spare");
        assert_eq!(s.flow_policies.len(), 1);
    }

    #[test]
    fn unknown_profile_and_bad_limits_are_problems() {
        let mut s = SenderAuthSettings::default();
        s.policy_mut("IncomingMail", "ACCEPTED").dmarc_profile = Some("nope".into());
        s.dns_budget_secs = 0;
        let p = s.problems();
        assert_eq!(p.len(), 2, "{p:?}");
    }

    #[test]
    fn conformance_words_round_trip() {
        for c in [
            SpfConformance::SpfOnly,
            SpfConformance::SidfCompatible,
            SpfConformance::SidfStrict,
        ] {
            assert_eq!(SpfConformance::parse(c.word()), Some(c));
        }
    }
}
