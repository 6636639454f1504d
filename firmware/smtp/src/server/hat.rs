//! The Host Access Table: which sender group a connecting client belongs to.
//!
//! Members are matched in the order the administrator listed the groups,
//! first match wins, against the members the configuration parsed when it
//! was read (see `config::hat`): nothing is parsed per connection.

use std::net::IpAddr;

pub use crate::config::hat::{HatMember, HostMember, MemberError};
use crate::config::{ListenerConfig, MailFlowPolicy, SenderGroup};

/// The outcome of the HAT for one connection.
#[derive(Debug, Clone)]
pub struct HatMatch {
    pub group: String,
    /// The member text that matched, as AsyncOS logs it (`match <entry>`).
    pub entry: String,
    pub policy: MailFlowPolicy,
}

/// Classifies a client into its listener's first matching sender group.
pub fn classify(listener: &ListenerConfig, ip: IpAddr, verified: Option<&str>) -> Option<HatMatch> {
    listener.hat.iter().find_map(|g: &SenderGroup| {
        let entry = g.members.iter().find(|m| m.matches(ip, verified))?;
        let policy = listener.policy(&g.policy)?.clone();
        Some(HatMatch {
            group: g.name.clone(),
            entry: entry.as_str().to_string(),
            policy,
        })
    })
}
