//! Where mail goes and how it is delivered: SMTP routes, DNS, delivery
//! settings, destination controls and bounce profiles (`smtproutes`,
//! `dnsconfig`, `deliveryconfig`, `destconfig`, `bounceconfig`). Part of
//! the configuration model; `model` re-exports it.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::values::NextHop;

/// One next hop of an SMTP route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHost {
    pub host: NextHop,
    pub port: u16,
    /// 0 is tried first; equal priorities share the load round-robin.
    pub priority: u8,
}

/// Where an SMTP route sends mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteTarget {
    Hosts(Vec<RouteHost>),
    /// `/dev/null`: accept and discard.
    DevNull,
    /// `USEDNS`: deliver by MX, e.g. for a subdomain of a routed domain.
    UseDns,
}

/// A receiving domain and its next hops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpRoute {
    /// `example.com` (exact), `.example.com` (subdomains) or `ALL`.
    pub domain: String,
    pub target: RouteTarget,
}

/// Name servers the gateway asks (tests point this at dnsmasq on loopback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// Empty: use the host's resolver configuration.
    pub servers: Vec<SocketAddr>,
    pub timeout_secs: u32,
    pub cache_size: u32,
    /// DNSSEC trust anchors as zone-file DNSKEY records
    /// (`example. IN DNSKEY 257 3 13 <key>`). A root (`.`) key replaces
    /// IANA's built-in root keys; keys for other names are added to them.
    pub trust_anchors: Vec<String>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout_secs: 5,
            cache_size: 8192,
            trust_anchors: Vec::new(),
        }
    }
}

/// Delivery settings (`deliveryconfig`). Per-destination limits live in
/// the destination control table, retry timing in bounce profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryConfig {
    /// The interface outgoing connections bind.
    pub interface: String,
    pub connect_timeout_secs: u32,
    pub command_timeout_secs: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            interface: "Data 2".to_string(),
            connect_timeout_secs: 30,
            command_timeout_secs: 120,
        }
    }
}

/// Idle delivery connections kept for the next message to the same next
/// hop (`deliveryconfig setup --connection-cache-secs ...`), as Postfix's
/// connection cache (`smtp_connection_cache_time_limit`, 2 s) does. A
/// steady trickle of messages then costs one TCP handshake, greeting,
/// EHLO (and STARTTLS) per connection, not per message.
///
/// Stored at the end of `Config` (postcard, positional, config version 9):
/// fields are never added to this struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionCache {
    /// How long a connection waits, idle after a delivered message, for
    /// the next job to its next hop; 0 turns the cache off (QUIT as soon
    /// as the destination's queue is empty).
    pub idle_secs: u32,
    /// Idle connections kept per destination; more are closed.
    pub max_idle_per_destination: u32,
    /// Idle connections kept for all destinations together.
    pub max_idle: u32,
}

impl ConnectionCache {
    /// The longest idle time `deliveryconfig` accepts: a next hop's own
    /// idle timeout (RFC 5321 §4.5.3.2.7: 5 minutes) is longer, but a
    /// cached connection only bridges gaps between messages.
    pub const MAX_IDLE_SECS: u32 = 300;
}

impl Default for ConnectionCache {
    fn default() -> Self {
        Self {
            idle_secs: 2,
            // Measured (decision 0023): 10 per destination let a 50-session
            // relay load open a connection for every third message, as
            // bursts left more connections idle than were kept; 50 kept it
            // to one per 22 messages.
            max_idle_per_destination: 50,
            max_idle: 500,
        }
    }
}

/// TLS towards a destination (`destconfig --use_tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboundTls {
    None,
    /// STARTTLS when offered; plain text if not offered or if it fails.
    Preferred,
    /// Never plain text: delay, then bounce.
    Required,
    /// As Preferred, and the certificate is checked; unverified TLS is
    /// still used.
    PreferredVerify,
    /// TLS with a certificate that verifies (chain and host name), or no
    /// delivery.
    RequiredVerify,
}

impl OutboundTls {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "none" | "no" | "off" => OutboundTls::None,
            "preferred" => OutboundTls::Preferred,
            "required" => OutboundTls::Required,
            "preferred-verify" => OutboundTls::PreferredVerify,
            "required-verify" => OutboundTls::RequiredVerify,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            OutboundTls::None => "None",
            OutboundTls::Preferred => "Preferred",
            OutboundTls::Required => "Required",
            OutboundTls::PreferredVerify => "Preferred (Verify)",
            OutboundTls::RequiredVerify => "Required (Verify)",
        }
    }

    pub fn required(self) -> bool {
        matches!(self, OutboundTls::Required | OutboundTls::RequiredVerify)
    }

    pub fn verify(self) -> bool {
        matches!(
            self,
            OutboundTls::PreferredVerify | OutboundTls::RequiredVerify
        )
    }
}

/// DANE (RFC 7672) towards a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dane {
    None,
    Opportunistic,
    Mandatory,
}

/// Which address family to try first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpPreference {
    Ipv4Only,
    Ipv4Preferred,
    Ipv6Preferred,
    Ipv6Only,
}

impl IpPreference {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "ipv4-only" | "ipv4only" => IpPreference::Ipv4Only,
            "ipv4-preferred" | "ipv4" => IpPreference::Ipv4Preferred,
            "ipv6-preferred" | "ipv6" => IpPreference::Ipv6Preferred,
            "ipv6-only" | "ipv6only" => IpPreference::Ipv6Only,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            IpPreference::Ipv4Only => "IPv4 Only",
            IpPreference::Ipv4Preferred => "IPv4 Preferred",
            IpPreference::Ipv6Preferred => "IPv6 Preferred",
            IpPreference::Ipv6Only => "IPv6 Only",
        }
    }
}

/// At most `recipients` per `minutes` to one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientLimit {
    pub recipients: u32,
    pub minutes: u32,
}

/// What connection and recipient limits count against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitScope {
    /// The whole destination domain.
    Domain,
    /// Each mail exchanger IP of the domain on its own.
    Host,
}

/// Settings for one destination, all resolved (the Default row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationSettings {
    pub ip_preference: IpPreference,
    pub max_concurrency: u32,
    pub max_messages_per_connection: u32,
    pub recipient_limit: Option<RecipientLimit>,
    pub limit_scope: LimitScope,
    pub tls: OutboundTls,
    pub dane: Dane,
    pub bounce_profile: String,
    pub bounce_verification: bool,
    /// A certificate from the certificate list to present when asked
    /// (Microsoft 365 certificate-based connectors).
    pub client_certificate: Option<String>,
}

impl DestinationSettings {
    /// AsyncOS's "Destination Limits" cell, as `destconfig print` and the
    /// web UI's Destination Controls show it.
    pub fn limits_text(&self) -> String {
        let rate = match self.recipient_limit {
            Some(l) => format!("{} recipients per {} minutes", l.recipients, l.minutes),
            None => "No recipient limit".to_string(),
        };
        let scope = match self.limit_scope {
            LimitScope::Domain => "",
            LimitScope::Host => " (per host)",
        };
        format!(
            "{} concurrent connections{scope}, {} messages per connection, {rate}",
            self.max_concurrency, self.max_messages_per_connection
        )
    }
}

impl Default for DestinationSettings {
    /// The seed's Default row.
    fn default() -> Self {
        Self {
            ip_preference: IpPreference::Ipv6Preferred,
            max_concurrency: 500,
            max_messages_per_connection: 50,
            recipient_limit: None,
            limit_scope: LimitScope::Domain,
            tls: OutboundTls::None,
            dane: Dane::None,
            bounce_profile: "Default".to_string(),
            bounce_verification: false,
            client_certificate: None,
        }
    }
}

/// A row of the destination control table: `None` takes the Default row's
/// value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationControl {
    /// `example.com`, or `.example.com` for its subdomains.
    pub domain: String,
    pub ip_preference: Option<IpPreference>,
    pub max_concurrency: Option<u32>,
    pub max_messages_per_connection: Option<u32>,
    /// `Some(None)`: no limit, whatever the Default row says.
    pub recipient_limit: Option<Option<RecipientLimit>>,
    pub limit_scope: Option<LimitScope>,
    pub tls: Option<OutboundTls>,
    pub dane: Option<Dane>,
    pub bounce_profile: Option<String>,
    pub bounce_verification: Option<bool>,
    pub client_certificate: Option<Option<String>>,
}

impl DestinationControl {
    /// This row's settings over `default`.
    pub fn settings(&self, default: &DestinationSettings) -> DestinationSettings {
        let mut s = default.clone();
        self.apply(&mut s);
        s
    }

    pub(crate) fn apply(&self, base: &mut DestinationSettings) {
        macro_rules! take {
            ($($f:ident),*) => { $(if let Some(v) = &self.$f { base.$f = v.clone(); })* };
        }
        take!(
            ip_preference,
            max_concurrency,
            max_messages_per_connection,
            recipient_limit,
            limit_scope,
            tls,
            dane,
            bounce_profile,
            bounce_verification,
            client_certificate
        );
    }
}

/// Retry timing and bounce behaviour (`bounceconfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceProfile {
    pub name: String,
    pub max_retries: u32,
    pub max_queue_secs: u32,
    pub initial_retry_secs: u32,
    pub max_retry_secs: u32,
    /// Send a DSN to the sender on a hard bounce.
    pub hard_bounce_message: bool,
    pub delay_warning: bool,
}

impl Default for BounceProfile {
    /// AsyncOS's Default bounce profile.
    fn default() -> Self {
        Self {
            name: "Default".to_string(),
            max_retries: 100,
            max_queue_secs: 259_200,
            initial_retry_secs: 60,
            max_retry_secs: 3600,
            hard_bounce_message: true,
            delay_warning: false,
        }
    }
}
