//! [`MailEvent`]: one variant per line shape the firmware writes to
//! `mail_logs`, with typed fields. The same declaration gives both
//! directions: `Display` writes the line's message (the part after
//! `<time> <Level>: `, byte for byte what the AsyncOS guides print) and
//! [`MailEvent::parse`] reads it back for `findevent` and message tracking.
//!
//! Each variant is declared once as a template of literal text and fields
//! (`"Start MID " mid " ICID " icid`), so the writer and the parser cannot
//! drift apart. Parsing is exact: a field is the text up to the first
//! occurrence of the literal after it (the last field of a line takes the
//! rest, or everything before a closing literal), and every field must
//! read back to the same text it came from (no `+7`, no `007`), so for any
//! line that parses, `parse(line).to_string() == line`. Variants are tried
//! in declaration order: a more specific shape comes before a general one
//! that would also match it (`... TLS failed: ...; delivering in plain
//! text` before `... TLS failed: ...`).
//!
//! Depends on the identifier types and std only, so the sans-I/O SMTP
//! session can report its lines as values; writing them goes through
//! `MailEvent::log` in the firmware's `logging` (the one writer).

use std::fmt;
use std::net::IpAddr;

use crate::ids::{Dcid, Icid, Mid, Rid};

/// RIDs as AsyncOS logs them: `[0, 1, 2]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RidList(pub Vec<Rid>);

impl fmt::Display for RidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        f.write_str("]")
    }
}

impl From<&[Rid]> for RidList {
    fn from(rids: &[Rid]) -> Self {
        Self(rids.to_vec())
    }
}

impl From<Rid> for RidList {
    fn from(rid: Rid) -> Self {
        Self(vec![rid])
    }
}

/// The `TDC: ` prefix of lines about the Threat Defense Connector's copies
/// (empty for every other destination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TdcTag(pub bool);

impl fmt::Display for TdcTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "TDC: " } else { "" })
    }
}

/// `yes` / `no`, as in `verified yes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YesNo(pub bool);

impl fmt::Display for YesNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "yes" } else { "no" })
    }
}

/// Which mail policies a message is under: `incoming` or `outgoing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        })
    }
}

/// A value that appears in a line: written with `Display`, read back only
/// from exactly the text `Display` gives it.
pub trait LogField: fmt::Display + Sized {
    /// The value `text` shows, or `None` when `text` is not exactly how
    /// such a value is written.
    fn parse_field(text: &str) -> Option<Self>;

    /// A value built from test seeds (the round-trip property test).
    #[cfg(test)]
    fn sample(n: u64, text: &str) -> Self;
}

/// Decimal digits, without sign or leading zeros (as `Display` writes).
fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

macro_rules! numeric_field {
    ($($t:ty => $from:expr, $sample:expr;)+) => {$(
        impl LogField for $t {
            fn parse_field(text: &str) -> Option<Self> {
                number(text).and_then($from)
            }
            #[cfg(test)]
            fn sample(n: u64, _: &str) -> Self {
                $sample(n)
            }
        }
    )+};
}

numeric_field! {
    Mid => |n| Some(Mid(n)), Mid;
    Icid => |n| Some(Icid(n)), Icid;
    Dcid => |n| Some(Dcid(n)), Dcid;
    Rid => |n| u32::try_from(n).ok().map(Rid), |n| Rid(n as u32);
    u64 => Some, |n| n;
    u16 => |n| u16::try_from(n).ok(), |n| n as u16;
}

impl LogField for i64 {
    fn parse_field(text: &str) -> Option<Self> {
        text.parse().ok().filter(|n: &i64| n.to_string() == text)
    }
    #[cfg(test)]
    fn sample(n: u64, _: &str) -> Self {
        n as i64
    }
}

impl LogField for String {
    fn parse_field(text: &str) -> Option<Self> {
        Some(text.to_string())
    }
    #[cfg(test)]
    fn sample(_: u64, text: &str) -> Self {
        text.to_string()
    }
}

impl LogField for IpAddr {
    fn parse_field(text: &str) -> Option<Self> {
        text.parse()
            .ok()
            .filter(|ip: &IpAddr| ip.to_string() == text)
    }
    #[cfg(test)]
    fn sample(n: u64, _: &str) -> Self {
        if n.is_multiple_of(2) {
            IpAddr::from((n as u32).to_be_bytes())
        } else {
            IpAddr::from(u128::from(n).to_be_bytes())
        }
    }
}

impl LogField for RidList {
    fn parse_field(text: &str) -> Option<Self> {
        let inner = text.strip_prefix('[')?.strip_suffix(']')?;
        if inner.is_empty() {
            return Some(Self::default());
        }
        inner
            .split(", ")
            .map(Rid::parse_field)
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }
    #[cfg(test)]
    fn sample(n: u64, _: &str) -> Self {
        Self((0..n % 4).map(|i| Rid((n / 4 + i) as u32)).collect())
    }
}

impl LogField for TdcTag {
    fn parse_field(text: &str) -> Option<Self> {
        match text {
            "" => Some(Self(false)),
            "TDC: " => Some(Self(true)),
            _ => None,
        }
    }
    #[cfg(test)]
    fn sample(n: u64, _: &str) -> Self {
        Self(n % 2 == 1)
    }
}

impl LogField for YesNo {
    fn parse_field(text: &str) -> Option<Self> {
        match text {
            "yes" => Some(Self(true)),
            "no" => Some(Self(false)),
            _ => None,
        }
    }
    #[cfg(test)]
    fn sample(n: u64, _: &str) -> Self {
        Self(n % 2 == 1)
    }
}

impl LogField for Direction {
    fn parse_field(text: &str) -> Option<Self> {
        match text {
            "incoming" => Some(Self::Incoming),
            "outgoing" => Some(Self::Outgoing),
            _ => None,
        }
    }
    #[cfg(test)]
    fn sample(n: u64, _: &str) -> Self {
        if n % 2 == 1 {
            Self::Outgoing
        } else {
            Self::Incoming
        }
    }
}

/// Writes a template's pieces.
macro_rules! display_pieces {
    ($f:ident;) => {};
    ($f:ident; $lit:literal $($rest:tt)*) => {
        $f.write_str($lit)?;
        display_pieces!($f; $($rest)*);
    };
    ($f:ident; $id:ident $($rest:tt)*) => {
        fmt::Display::fmt($id, $f)?;
        display_pieces!($f; $($rest)*);
    };
}

/// Reads a template's pieces from `$rest`, then builds the variant.
macro_rules! parse_pieces {
    ($rest:ident; $v:ident { $($field:ident),* };) => {
        if $rest.is_empty() {
            Some(MailEvent::$v { $($field),* })
        } else {
            None
        }
    };
    ($rest:ident; $v:ident $fs:tt; $lit:literal $($more:tt)*) => {{
        let $rest = $rest.strip_prefix($lit)?;
        parse_pieces!($rest; $v $fs; $($more)*)
    }};
    ($rest:ident; $v:ident $fs:tt; $id:ident) => {{
        let $id = LogField::parse_field($rest)?;
        let $rest = "";
        parse_pieces!($rest; $v $fs;)
    }};
    ($rest:ident; $v:ident $fs:tt; $id:ident $lit:literal) => {{
        let $id = LogField::parse_field($rest.strip_suffix($lit)?)?;
        let $rest = "";
        parse_pieces!($rest; $v $fs;)
    }};
    ($rest:ident; $v:ident $fs:tt; $id:ident $lit:literal $($more:tt)+) => {{
        let (head, tail) = $rest.split_at($rest.find($lit)?);
        let $id = LogField::parse_field(head)?;
        let $rest = tail;
        parse_pieces!($rest; $v $fs; $lit $($more)+)
    }};
}

macro_rules! mail_events {
    (@warn warning) => { true };
    (@warn) => { false };
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident { $($field:ident : $ty:ty),* $(,)? } => [$($piece:tt)+] $(, $level:ident)?;
    )+) => {
        /// One `mail_logs` line, by its shape (see the module comment).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum MailEvent {
            $( $(#[doc = $doc])* $variant { $($field: $ty),* }, )+
        }

        impl fmt::Display for MailEvent {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( MailEvent::$variant { $($field),* } => {
                        display_pieces!(f; $($piece)+);
                        Ok(())
                    } )+
                }
            }
        }

        impl MailEvent {
            /// Every variant's name, in parse order.
            pub const KINDS: &[&str] = &[$(stringify!($variant)),+];

            /// The event a line's message (the text after `<Level>: `)
            /// states, or `None` for text no variant writes.
            pub fn parse(message: &str) -> Option<MailEvent> {
                $(
                    let parsed = (|| -> Option<MailEvent> {
                        let rest = message;
                        parse_pieces!(rest; $variant { $($field),* }; $($piece)+)
                    })();
                    if parsed.is_some() {
                        return parsed;
                    }
                )+
                None
            }

            /// The variant's name (the golden file's labels).
            pub fn kind(&self) -> &'static str {
                match self {
                    $( MailEvent::$variant { .. } => stringify!($variant), )+
                }
            }

            /// The level the line is written at: `Warning` for the few
            /// lines AsyncOS alerts on, `Info` for the rest.
            pub fn is_warning(&self) -> bool {
                match self {
                    $( MailEvent::$variant { .. } => mail_events!(@warn $($level)?), )+
                }
            }

            /// Variant number `index` (of [`Self::KINDS`]) with fields built
            /// from `seeds`, one seed per field in declaration order.
            #[cfg(test)]
            pub(crate) fn sample(index: usize, seeds: &[(u64, String)]) -> Option<MailEvent> {
                let mut seeds = seeds.iter().cycle();
                let mut i = 0usize;
                $(
                    if i == index {
                        return Some(MailEvent::$variant { $($field: {
                            let (n, t) = seeds.next()?;
                            <$ty as LogField>::sample(*n, t)
                        }),* });
                    }
                    i += 1;
                )+
                let _ = i;
                None
            }
        }
    };
}

mail_events! {
    // ---- Reception (smtp_in). ----
    /// A connection refused at accept (listener or per-IP limit).
    ConnectionRefused { address: IpAddr, listener: String, reason: String } =>
        ["Connection from " address " on " listener " refused: " reason];
    /// A new incoming connection and its reverse DNS.
    NewSmtpIcid {
        icid: Icid, interface: String, interface_address: String, address: IpAddr,
        host: String, verified: YesNo,
    } => ["New SMTP ICID " icid " interface " interface " (" interface_address ") address "
          address " reverse dns host " host " verified " verified];
    /// No HAT sender group matched the client.
    NoSenderGroup { icid: Icid } => ["ICID " icid " REJECT no sender group matches"];
    /// The HAT's verdict: behaviour (`ACCEPT`, `RELAY`, ...), sender group
    /// and the member that matched.
    SenderGroupMatch { icid: Icid, behavior: String, group: String, entry: String } =>
        ["ICID " icid " " behavior " SG " group " match " entry
         " SBRS not enabled country not enabled"];
    /// A connection closed (by QUIT, or by the gateway).
    IcidClose { icid: Icid } => ["ICID " icid " close"];
    /// The client went away without QUIT (AsyncOS's "ICID n lost").
    IcidLost { icid: Icid } => ["ICID " icid " lost"];
    /// A connection refused after the HAT (its limit, memory budget).
    IcidRefused { icid: Icid, reason: String } => ["ICID " icid " refused: " reason];
    /// A reply could not be written in time.
    WriteFailed { icid: Icid } => ["ICID " icid " write failed or timed out"];
    /// The daemon is stopping; the connection got a 421.
    IcidShutdown { icid: Icid } => ["ICID " icid " shutdown"];
    /// The client was idle too long (or the session's total time ran out).
    IcidTimeout { icid: Icid } => ["ICID " icid " timeout"];
    /// The reception memory budget ran out during DATA.
    BudgetSpent { icid: Icid } => ["ICID " icid " reception memory budget spent; message deferred"];
    /// Commands sent before the reply that had to come first.
    ImproperPipelining { icid: Icid, what: String } =>
        ["ICID " icid " improper pipelining: " what];
    /// STARTTLS done.
    IcidTlsSuccess { icid: Icid, protocol: String, cipher: String } =>
        ["ICID " icid " TLS success protocol " protocol " cipher " cipher];
    /// STARTTLS failed.
    IcidTlsFailed { icid: Icid, reason: String } => ["ICID " icid " TLS failed: " reason];
    /// The queue refused a received message.
    NotQueued { icid: Icid, reason: String } => ["ICID " icid " message not queued: " reason];
    /// A `MAIL FROM` address that does not parse.
    SenderRejected { icid: Icid, reason: String } => ["ICID " icid " sender rejected: " reason];
    /// A transaction begins.
    StartMid { mid: Mid, icid: Icid } => ["Start MID " mid " ICID " icid];
    /// The envelope sender.
    From { mid: Mid, icid: Icid, address: String } =>
        ["MID " mid " ICID " icid " From: <" address ">"];
    /// Incoming (a public listener: incoming mail policies) or outgoing
    /// (a private one: outgoing mail policies); Message Tracking's
    /// "Message: Incoming/Outgoing".
    MessageDirection { mid: Mid, direction: Direction } =>
        ["MID " mid " direction: " direction];
    /// A `RCPT TO` address that does not parse.
    RecipientRejected { mid: Mid, icid: Icid, reason: String } =>
        ["MID " mid " ICID " icid " recipient rejected: " reason];
    /// A recipient refused for a routing trick (`%`, `!`, source route).
    ToRejectedTrick { mid: Mid, icid: Icid, address: String, trick: String } =>
        ["MID " mid " ICID " icid " To: <" address "> Rejected: " trick];
    /// A recipient the RAT refused.
    ToRejectedByRat { mid: Mid, icid: Icid, address: String } =>
        ["MID " mid " ICID " icid " To: <" address "> Rejected by RAT"];
    /// A recipient over the policy's recipients-per-hour limit.
    ToRejectedRate { mid: Mid, icid: Icid, address: String } =>
        ["MID " mid " ICID " icid " To: <" address
         "> Rejected by Receiving Control: recipients per hour exceeded"];
    /// An accepted recipient.
    To { mid: Mid, icid: Icid, rid: Rid, address: String } =>
        ["MID " mid " ICID " icid " RID " rid " To: <" address ">"];
    /// A transaction ended without a message (RSET, QUIT, close, ...):
    /// AsyncOS's `Message aborted MID n Receiving aborted by sender`,
    /// always followed by [`MailEvent::FinishedAborted`], so every started
    /// MID finishes in the log.
    Aborted { mid: Mid, why: String } =>
        ["Message aborted MID " mid " Receiving aborted by " why];
    /// A message refused at the end of DATA.
    MessageRejected { mid: Mid, reason: String } => ["MID " mid " rejected: " reason];
    /// The message's `Message-ID` header.
    MessageId { mid: Mid, message_id: String } => ["MID " mid " Message-ID '<" message_id ">'"];
    /// The message's `Subject` header.
    Subject { mid: Mid, subject: String } => ["MID " mid " Subject '" subject "'"];
    /// The message is received.
    Ready { mid: Mid, size: u64, from: String } =>
        ["MID " mid " ready " size " bytes from <" from ">"];
    /// The message is durable in the queue.
    Queued { mid: Mid } => ["MID " mid " queued for delivery"];

    // ---- The work queue: filters, policies, quarantines, bounces. ----
    /// A DNS list query failed; the message counts as not listed.
    DnslistFailed { mid: Mid, zone: String, reason: String } =>
        ["MID " mid " dnslist '" zone "' query failed (" reason "): not listed"];
    /// A scan limit left part of the message unseen by the filters.
    FiltersPartial { mid: Mid, hit: String } =>
        ["MID " mid " message filters saw part of the message only: " hit
         " (rules on its MIME parts see what was scanned; valid is false)"];
    /// A filter's `log-entry` action.
    CustomLogEntry { mid: Mid, text: String } => ["MID " mid " Custom Log Entry: " text];
    /// A filter's `archive` action.
    Archived { mid: Mid, mbox: String, filter: String } =>
        ["MID " mid " archived to '" mbox "' by filter '" filter "'"];
    /// A filter's `alt-rcpt-to` gave the message a new MID.
    Rewritten { mid: Mid, new_mid: Mid, filter: String } =>
        ["MID " mid " rewritten to MID " new_mid " by alt-rcpt-to filter '" filter "'"];
    /// A filter's `drop` action.
    DroppedByFilter { mid: Mid, filter: String } =>
        ["Message aborted MID " mid " Dropped by filter '" filter "'"];
    /// The message left the system without delivery.
    FinishedAborted { mid: Mid } => ["Message finished MID " mid " aborted"];
    /// Every recipient is done with.
    FinishedDone { mid: Mid } => ["Message finished MID " mid " done"];
    /// A filter's `quarantine` action.
    Quarantined { mid: Mid, quarantine: String, reason: String } =>
        ["MID " mid " quarantined to \"" quarantine "\" (" reason ")"];
    /// Released from a quarantine.
    Released { mid: Mid, quarantine: String, why: String } =>
        ["MID " mid " released from quarantine \"" quarantine "\" (" why ")"];
    /// Deleted from a quarantine.
    QuarantineDeleted { mid: Mid, quarantine: String, why: String } =>
        ["MID " mid " deleted from quarantine \"" quarantine "\" (" why ")"];
    /// Recipients under different mail policies: a copy per policy.
    Split { mid: Mid, new_mid: Mid, policy: String, table: String } =>
        ["MID " mid " was split creating MID " new_mid " due to a per-recipient policy "
         policy " in the " table " table"];
    /// The mail policy that applies to all of a message's recipients.
    PolicyMatched { mid: Mid, policy: String, table: String } =>
        ["MID " mid " matched all recipients for per-recipient policy " policy " in the "
         table " table"];
    /// A filter made a copy (`bcc`, `bcc-scan`, `duplicate-quarantine`).
    Generated { mid: Mid, original: Mid, kind: String, filter: String } =>
        ["MID " mid " generated based on MID " original " by " kind " filter '" filter "'"];
    /// Recipients routed to `/dev/null`.
    DevNull { mid: Mid, rids: RidList } =>
        ["MID " mid " RID " rids " dropped by the /dev/null SMTP route"];
    /// A soft bounce: the next attempt's time.
    Pending { mid: Mid, rids: RidList, till: String } =>
        ["Message " mid " to RID " rids " pending till " till];
    /// A delivery status notification.
    BounceGenerated { mid: Mid, original: Mid } =>
        ["MID " mid " was generated for bounce of MID " original];
    /// An alert message (`alertconfig`).
    AlertGenerated { mid: Mid, severity: String, class: String, summary: String } =>
        ["MID " mid " generated for " severity " " class " alert: " summary];
    /// `deleterecipients` and friends.
    DeletedByAdmin { mid: Mid } => ["MID " mid " deleted from the queue by the administrator"];
    /// `redirectrecipients` ended.
    RedirectEnded {} => ["Redirection of queued mail ended by the administrator"];
    /// `redirectrecipients HOST[:PORT]`.
    Redirected { host: String, port: u16 } =>
        ["All queued mail redirected to " host ":" port " by the administrator"];

    // ---- The Threat Defense Connector. ----
    /// A copy for Cisco Secure Email Threat Defense.
    TdcEnqueued { mid: Mid, message_id: String, original: Mid } =>
        ["TDC: MID " mid " with Message-ID '<" message_id
         ">' enqueued for delivery to Cisco Secure Email Threat Defense (copy of MID " original ")"];
    /// A copy older than the connector's age limit.
    TdcExpired { mid: Mid, max_age: i64 } =>
        ["TDC: MID " mid " delivery failed to Cisco Secure Email Threat Defense: message expired after "
         max_age " seconds in the.tdc.queue"];
    /// A copy that could not be delivered.
    TdcFailed { mid: Mid, detail: String } =>
        ["TDC: MID " mid " delivery failed to Cisco Secure Email Threat Defense: " detail];
    /// The one retry of a copy.
    TdcRetry { mid: Mid, text: String } =>
        ["TDC: MID " mid " delivery to Cisco Secure Email Threat Defense will be retried once: " text];
    /// A copy delivered.
    TdcDelivered { mid: Mid } =>
        ["TDC: MID " mid " successfully delivered for scanning with Cisco Secure Email Threat Defense"];
    /// A connector delivery begins.
    TdcDeliveryStart { dcid: Dcid, mid: Mid } => ["TDC: Delivery start DCID " dcid " MID " mid];

    // ---- Delivery. ----
    /// A DNS answer that says the destination does not exist, as AsyncOS
    /// logs it before the hard bounce: `DNS Error example.com MX - NXDomain`.
    DnsError { name: String, qtype: String, error: String } =>
        ["DNS Error " name " " qtype " - " error];
    /// Every next hop of a domain is unusable for good.
    HardBouncedDomain { tdc: TdcTag, reason: String, domain: String } =>
        [tdc "Hard bounced - " reason " (domain " domain ")"];
    /// The next hops of a domain are unknown for now.
    DelayedDomain { tdc: TdcTag, domain: String, reason: String } =>
        [tdc "Delayed: domain " domain " - " reason];
    /// A private next hop refused by `deliveryconfig`.
    NextHopRefused { tdc: TdcTag, host: String, address: IpAddr, domain: String, why: String } =>
        [tdc "Next hop " host " [" address "] for " domain " refused: it is " why
         " (deliveryconfig setup --allow-private-next-hops)"];
    /// No connection to a next hop.
    ConnectionError {
        tdc: TdcTag, dcid: Dcid, domain: String, address: IpAddr, port: u16, details: String,
    } => [tdc "Connection Error: DCID " dcid " domain: " domain " IP: " address " port: " port
          " details: " details];
    /// A delivery connection is open.
    NewSmtpDcid { tdc: TdcTag, dcid: Dcid, interface: String, address: IpAddr, port: u16 } =>
        [tdc "New SMTP DCID " dcid " interface " interface " address " address " port " port];
    /// The all-destinations connection limit is reached.
    OutboundLimit { open: u64, destination: String } =>
        [open " outbound connections open (the limit for all destinations): delivery to "
         destination " waits for one to close"];
    /// A destination's recipients-per-connection limit.
    RecipientLimit { dcid: Dcid, destination: String, secs: u64 } =>
        ["DCID " dcid " recipient limit for " destination " reached; delivery resumes in " secs "s"];
    /// DANE does not apply through an SMTP route.
    DaneSkipped { destination: String } =>
        ["DANE skipped for " destination ": delivery is by SMTP route"];
    /// DANE not applicable; the TLS setting decides.
    DaneNotApplicable { host: String, why: String } =>
        ["DANE not applicable to " host ": " why "; using the TLS setting"];
    /// DANE failed before a connection.
    DaneFailedHost { host: String, why: String } => ["DANE failed for " host ": " why];
    /// DANE authenticated the server.
    DaneSuccess { dcid: Dcid, host: String } => ["DCID " dcid " DANE success for " host];
    /// Every TLSA record unusable: encryption without authentication.
    DaneUnusable { dcid: Dcid, host: String } =>
        ["DCID " dcid " DANE TLSA records of " host " are unusable; TLS without authentication"];
    /// DANE failed on a connection.
    DaneFailed { dcid: Dcid, why: String } => ["DCID " dcid " DANE failed: " why];
    /// TLS failed; delivery falls back to plain text.
    DcidTlsFailedPlain { dcid: Dcid, reason: String } =>
        ["DCID " dcid " TLS failed: " reason "; delivering in plain text"];
    /// TLS failed.
    DcidTlsFailed { dcid: Dcid, reason: String } => ["DCID " dcid " TLS failed: " reason];
    /// Verification failed; delivery over unverified TLS.
    TlsUnverified { dcid: Dcid } =>
        ["DCID " dcid " TLS certificate not verified; delivering over unverified TLS"];
    /// TLS is up.
    DcidTlsSuccess { dcid: Dcid, protocol: String, cipher: String } =>
        ["DCID " dcid " TLS success protocol " protocol " cipher " cipher];
    /// A TLS-required destination could not get TLS (an alert too).
    TlsRequiredFailed { dcid: Dcid, destination: String, why: String } =>
        ["DCID " dcid " TLS was required but could not be successfully negotiated for "
         destination ": " why], warning;
    /// A delivery connection closed.
    DcidClose { dcid: Dcid } => ["DCID " dcid " close"];
    /// A delivery begins.
    DeliveryStart { dcid: Dcid, mid: Mid, rids: RidList } =>
        ["Delivery start DCID " dcid " MID " mid " to RID " rids];
    /// The server accepted the message for these recipients.
    MessageDone { dcid: Dcid, mid: Mid, rids: RidList } =>
        ["Message done DCID " dcid " MID " mid " to RID " rids];
    /// The server's reply to the message.
    Response { mid: Mid, rids: RidList, text: String } =>
        ["MID " mid " RID " rids " Response '" text "'"];
    /// A temporary failure of one recipient (DCID 0: no connection was
    /// made). One line per recipient, its RID bare (`to RID 0`), as
    /// AsyncOS writes bounce lines.
    Delayed { tdc: TdcTag, dcid: Dcid, mid: Mid, rid: Rid, reason: String } =>
        [tdc "Delayed: DCID " dcid " MID " mid " to RID " rid " - " reason];
    /// A permanent failure of one recipient: at delivery, or before it
    /// (a filter's `bounce()`, expiry, the administrator) with DCID 0.
    Bounced { tdc: TdcTag, dcid: Dcid, mid: Mid, rid: Rid, reason: String } =>
        [tdc "Bounced: DCID " dcid " MID " mid " to RID " rid " - " reason];
    // --- bounce verification (issue 17) ---
    /// A bounce to a recipient without a valid tag, refused at RCPT
    /// (AsyncOS's wording).
    InvalidBounceRejected { mid: Mid, icid: Icid, address: String } =>
        ["MID " mid " ICID " icid " invalid bounce, rcpt address <" address
         "> rejected by bounce verification."];
    /// The same, accepted with the custom header (the invalid-bounce
    /// action "add a custom header and deliver").
    InvalidBounceFlagged { mid: Mid, icid: Icid, address: String } =>
        ["MID " mid " ICID " icid " invalid bounce, rcpt address <" address
         "> flagged by bounce verification."];
    /// A tagged recipient whose tag verified: it continues as `original`.
    BounceTagVerified { mid: Mid, icid: Icid, address: String, original: String } =>
        ["MID " mid " ICID " icid " rcpt address <" address
         "> bounce verification tag valid, rewritten to <" original ">"];
    /// The envelope sender tagged for delivery to `destination`.
    BounceTagAdded { mid: Mid, destination: String, address: String } =>
        ["MID " mid " bounce verification tag added for " destination ": <" address ">"];
    // --- end bounce verification ---

    // --- antispam (issue 17) ---
    /// The engine's own verdict (AsyncOS: `interim verdict using engine:
    /// CASE spam positive`; the engine here is `rspamd`), with its score.
    SpamInterim { mid: Mid, engine: String, verdict: String } =>
        ["MID " mid " interim verdict using engine: " engine " spam " verdict];
    /// The verdict after the policy's thresholds.
    SpamVerdict { mid: Mid, engine: String, verdict: String } =>
        ["MID " mid " using engine: " engine " spam " verdict];
    /// rspamd's score and the rules that fired most.
    SpamScore { mid: Mid, score: String, required: String, symbols: String } =>
        ["MID " mid " rspamd score " score " required " required " symbols " symbols];
    /// Bigger than `antispamconfig`'s maximum message size to scan.
    SpamSkippedSize { mid: Mid, size: u64, max: u64 } =>
        ["MID " mid " not scanned for spam: " size " bytes is over the maximum message size to scan ("
         max " bytes)"];
    /// A filter's `skip-spamcheck`.
    SpamSkippedFilter { mid: Mid } => ["MID " mid " not scanned for spam: skip-spamcheck"];
    /// The engine could not be asked; delivered with the unscanned header.
    SpamUnscanned { mid: Mid, engine: String, reason: String } =>
        ["MID " mid " antispam scan failed using engine: " engine " (" reason
         "): delivered unscanned"], warning;
    /// The engine could not be asked; kept in the queue for another scan.
    SpamRetry { mid: Mid, engine: String, reason: String, secs: u64 } =>
        ["MID " mid " antispam scan failed using engine: " engine " (" reason
         "): held for another scan in " secs " seconds"], warning;
    /// Dropped by the policy's anti-virus action (anti-virus, issue 17;
    /// before `SpamDropped`, which reads any engine name after `Dropped by`).
    AvDropped { mid: Mid, verdict: String } =>
        ["Message aborted MID " mid " Dropped by antivirus (" verdict ")"];
    /// Dropped by the policy's spam action (AsyncOS: `Dropped by CASE`).
    SpamDropped { mid: Mid, engine: String } => ["Message aborted MID " mid " Dropped by " engine];
    /// The verdict one split message's policy acted on (AsyncOS: `MID n
    /// antispam positive`). After the other `antispam` lines: it reads
    /// any text after the word.
    Antispam { mid: Mid, verdict: String } => ["MID " mid " antispam " verdict];

    // --- dkim signing (issue 17) ---
    /// A message signed at delivery by a signing profile, as AsyncOS logs
    /// it: `MID 12 DKIM: signing with example_com - matches a@example.com`.
    DkimSigning { mid: Mid, profile: String, address: String } =>
        ["MID " mid " DKIM: signing with " profile " - matches " address];
    /// A message eligible for signing that goes out unsigned (too large,
    /// an unusable key): `MID 12 DKIM: cannot sign - message too large`.
    DkimCannotSign { mid: Mid, why: String } => ["MID " mid " DKIM: cannot sign - " why];
    // --- sender auth (issue 17) ---
    /// SPF verdict for the HELO identity.
    SpfHelo { icid: Icid, identity: String, result: String } =>
        ["ICID " icid " SPF: helo identity " identity " " result];
    /// SPF verdict for the MAIL FROM identity.
    SpfMailFrom { mid: Mid, identity: String, result: String } =>
        ["MID " mid " SPF: mailfrom identity " identity " " result];
    /// One DKIM signature's verdict (`pass signature verified (d=.. s=.. i=..)`).
    DkimVerdict { mid: Mid, verdict: String } => ["MID " mid " DKIM: " verdict];
    /// The message was refused at end of data by its domain's DMARC policy
    /// (before `DmarcVerdict`, which reads any text after `DMARC: `).
    DmarcRejected { mid: Mid, reply: String } =>
        ["MID " mid " DMARC: Message rejected by DMARC policy: " reply];
    /// The DMARC verdict on the From domain.
    DmarcVerdict { mid: Mid, verdict: String } => ["MID " mid " DMARC: " verdict];
    /// Verification ran out of its DNS time budget.
    SenderAuthBudget { mid: Mid, secs: u64 } =>
        ["MID " mid " sender authentication: DNS budget of " secs " seconds spent"];
    // --- call-ahead (issue 17) ---
    /// A recipient SMTP Call-Ahead refused: the next hop does not know it,
    /// or it did not answer and the profile rejects then. `reply` is what
    /// the client was told.
    ToRejectedByCallAhead { mid: Mid, icid: Icid, address: String, reply: String } =>
        ["MID " mid " ICID " icid " To: <" address "> Rejected by SMTP Call-Ahead: '"
         reply "'"];

    // --- antivirus (issue 17) ---
    /// The engine's verdict before the policy's action: `CLEAN`, `VIRAL`,
    /// `ENCRYPTED` or `UNSCANNABLE`, as AsyncOS logs it.
    AvInterim { mid: Mid, engine: String, verdict: String } =>
        ["MID " mid " interim AV verdict using " engine " " verdict];
    /// No virus found.
    AvNegative { mid: Mid } => ["MID " mid " antivirus negative"];
    /// A virus found, by signature name.
    AvPositive { mid: Mid, name: String } => ["MID " mid " antivirus positive '" name "'"];
    /// Encrypted content the engine could not look into.
    AvEncrypted { mid: Mid } => ["MID " mid " antivirus encrypted"];
    /// The engine could not scan it (size, engine error, timeout).
    AvUnscannable { mid: Mid, why: String } => ["MID " mid " antivirus unscannable: " why];
    /// The engine is down and the policy is fail-closed: kept, scanned again.
    AvDeferred { mid: Mid, why: String, secs: u64 } =>
        ["MID " mid " anti-virus scan deferred: " why "; scanning again in " secs "s"], warning;
    // --- end antivirus ---
    // --- spam notification (issue 17) ---
    /// A Spam Quarantine notification (digest) queued for one recipient.
    SpamNotification { mid: Mid, address: String, count: u64 } =>
        ["MID " mid " Spam Quarantine notification to <" address "> listing " count
         " messages"];
    // --- arc (issue 17) ---
    /// The ARC chain's verdict (RFC 8617): `pass (i=2 d=lists.example)`,
    /// `fail (...)` or `none`, on the same model as the DKIM line.
    ArcVerdict { mid: Mid, verdict: String } => ["MID " mid " ARC: " verdict];
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Field text that cannot form any template's literal text (no space,
    /// quote, bracket or colon), so a sampled event has one reading.
    fn seeds() -> impl Strategy<Value = Vec<(u64, String)>> {
        prop::collection::vec((any::<u64>(), "[a-z0-9@.\\-]{1,12}"), 1..8)
    }

    proptest! {
        #[test]
        fn every_variant_round_trips(index in 0..MailEvent::KINDS.len(), seeds in seeds()) {
            let event = MailEvent::sample(index, &seeds).expect("index is in range");
            let line = event.to_string();
            prop_assert_eq!(MailEvent::parse(&line), Some(event), "line {:?}", line);
        }

        #[test]
        fn what_parses_prints_back_byte_identical(line in "[ -~]{0,80}") {
            if let Some(e) = MailEvent::parse(&line) {
                prop_assert_eq!(e.to_string(), line);
            }
        }
    }

    #[test]
    fn numbers_read_back_only_as_written() {
        assert_eq!(MailEvent::parse("Start MID 007 ICID 1"), None);
        assert_eq!(MailEvent::parse("Start MID +7 ICID 1"), None);
        assert_eq!(
            MailEvent::parse("Start MID 0 ICID 1"),
            Some(MailEvent::StartMid {
                mid: Mid(0),
                icid: Icid(1)
            })
        );
        assert_eq!(
            MailEvent::parse("Connection from ::0001 on in refused: x"),
            None
        );
    }

    #[test]
    fn specific_shapes_win_over_general_ones() {
        let e = MailEvent::parse("DCID 3 TLS failed: bad; delivering in plain text");
        assert!(
            matches!(e, Some(MailEvent::DcidTlsFailedPlain { .. })),
            "{e:?}"
        );
        let e = MailEvent::parse(
            "TDC: MID 4 delivery failed to Cisco Secure Email Threat Defense: message expired after 60 seconds in the.tdc.queue",
        );
        assert!(
            matches!(e, Some(MailEvent::TdcExpired { max_age: 60, .. })),
            "{e:?}"
        );
    }
}
