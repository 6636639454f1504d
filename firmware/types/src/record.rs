//! The message record: everything the gateway knows about a queued message
//! except its body. Stored in sled (versioned postcard) under the MID.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::ids::{Icid, Mid, Rid};

/// Facts about how and from whom the message was received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reception {
    pub icid: Icid,
    pub listener: String,
    pub interface: String,
    pub sender_group: String,
    pub policy: String,
    pub client_ip: IpAddr,
    pub rdns: Option<String>,
    pub rdns_verified: bool,
    pub helo: String,
    /// TLS protocol and cipher, when the session used STARTTLS.
    pub tls: Option<(String, String)>,
}

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientStatus {
    Pending,
    Delivered,
    /// Refused permanently by the next hop (the delivery engine adds DSNs).
    Bounced,
    /// Discarded on purpose (a `/dev/null` route).
    Dropped,
}

/// One recipient of a queued message and its retry schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub rid: Rid,
    pub address: String,
    pub status: RecipientStatus,
    pub attempts: u32,
    /// Unix seconds of the next attempt; 0 means as soon as possible.
    pub next_attempt: i64,
    pub last_response: Option<String>,
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub mid: Mid,
    /// Unix seconds.
    pub received_at: i64,
    pub reception: Reception,
    pub mail_from: String,
    pub recipients: Vec<Recipient>,
    /// Size of the spooled body including the gateway's Received: header.
    pub body_size: u64,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    /// What the work queue's processing (message filters, mail policies)
    /// decided; `processing.processed` is false until it ran.
    pub processing: Processing,
}

/// The outcome of message filters and mail policies for one message,
/// recorded so that recovery does not run them twice and later stages
/// (delivery, per-policy services) can use it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processing {
    /// Filters and policies have run (set before routing).
    pub processed: bool,
    /// The mail policy the message's recipients matched (after the split,
    /// one per message).
    pub mail_policy: Option<String>,
    /// `alt-mailhost()`: deliver every recipient to this host.
    pub alt_mailhost: Option<String>,
    /// `alt-src-host()`: the interface to send from.
    pub alt_src_host: Option<String>,
    /// `bounce-profile()`.
    pub bounce_profile: Option<String>,
    /// `tag-message()` tags, for later policies.
    pub tags: Vec<String>,
    pub skip_spamcheck: bool,
    pub skip_viruscheck: bool,
    /// Held in a local quarantine; not delivered until released.
    pub hold: Option<Hold>,
    /// This message is a Threat Defense copy of that MID: it goes through
    /// `the.tdc.queue` with the TDC's own retry rules and never bounces.
    pub tdc_copy_of: Option<Mid>,
}

/// Why and since when a message is held in a quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub quarantine: String,
    /// The filter that quarantined it.
    pub filter: String,
    /// Unix seconds.
    pub since: i64,
}

impl MessageRecord {
    pub fn pending(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.status == RecipientStatus::Pending)
    }

    pub fn is_finished(&self) -> bool {
        self.pending().next().is_none()
    }

    pub fn recipient_mut(&mut self, rid: Rid) -> Option<&mut Recipient> {
        self.recipients.iter_mut().find(|r| r.rid == rid)
    }
}
