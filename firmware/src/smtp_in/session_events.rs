//! What a session reports instead of logging: one [`SessionEvent`] per
//! `mail_logs` line, with typed fields. `Display` writes the line exactly
//! as AsyncOS-style `mail_logs` shows it; the driver writes it.

use std::fmt;

use crate::ids::{Icid, Mid, Rid};

/// Why the driver could not make a message durable, as the session needs
/// it: the text for the log, and whether storage (the queue or the flash)
/// is full, which the client is told as 452 4.3.1 rather than 451.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotQueued {
    pub reason: String,
    pub storage_full: bool,
}

/// One thing that happened in a session, worth a `mail_logs` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The client broke the pipelining rules (the session closes).
    ImproperPipelining {
        icid: Icid,
        what: &'static str,
    },
    TlsSuccess {
        icid: Icid,
        protocol: String,
        cipher: String,
    },
    TlsFailed {
        icid: Icid,
        reason: String,
    },
    /// The driver could not make the message durable.
    NotQueued {
        icid: Icid,
        reason: String,
    },
    /// MAIL FROM's address did not parse.
    SenderRejected {
        icid: Icid,
        reason: String,
    },
    /// A transaction started (MAIL FROM accepted).
    Start {
        mid: Mid,
        icid: Icid,
    },
    From {
        mid: Mid,
        icid: Icid,
        address: String,
    },
    /// RCPT TO's address did not parse.
    RecipientRejected {
        mid: Mid,
        icid: Icid,
        reason: String,
    },
    /// A source route, percent hack or similar relay trick.
    RoutingTrick {
        mid: Mid,
        icid: Icid,
        address: String,
        trick: String,
    },
    RejectedByRat {
        mid: Mid,
        icid: Icid,
        address: String,
    },
    /// The sender group's recipients-per-hour limit.
    RecipientsPerHourExceeded {
        mid: Mid,
        icid: Icid,
        address: String,
    },
    /// A recipient accepted.
    Recipient {
        mid: Mid,
        icid: Icid,
        rid: Rid,
        address: String,
    },
    /// The transaction ended without a message (RSET, QUIT, close...).
    Aborted {
        mid: Mid,
        icid: Icid,
        why: &'static str,
    },
    /// The reception memory budget could not hold another message.
    BudgetSpent {
        icid: Icid,
    },
    /// The message data was refused at its end (size, bare CR/LF, headers).
    Rejected {
        mid: Mid,
        why: String,
    },
    MessageId {
        mid: Mid,
        id: String,
    },
    Subject {
        mid: Mid,
        subject: String,
    },
    /// The message is complete and goes to the queue.
    Ready {
        mid: Mid,
        size: u64,
        from: String,
    },
}

impl fmt::Display for SessionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ImproperPipelining { icid, what } => {
                write!(f, "ICID {icid} improper pipelining: {what}")
            }
            Self::TlsSuccess {
                icid,
                protocol,
                cipher,
            } => write!(
                f,
                "ICID {icid} TLS success protocol {protocol} cipher {cipher}"
            ),
            Self::TlsFailed { icid, reason } => write!(f, "ICID {icid} TLS failed: {reason}"),
            Self::NotQueued { icid, reason } => {
                write!(f, "ICID {icid} message not queued: {reason}")
            }
            Self::SenderRejected { icid, reason } => {
                write!(f, "ICID {icid} sender rejected: {reason}")
            }
            Self::Start { mid, icid } => write!(f, "Start MID {mid} ICID {icid}"),
            Self::From { mid, icid, address } => {
                write!(f, "MID {mid} ICID {icid} From: <{address}>")
            }
            Self::RecipientRejected { mid, icid, reason } => {
                write!(f, "MID {mid} ICID {icid} recipient rejected: {reason}")
            }
            Self::RoutingTrick {
                mid,
                icid,
                address,
                trick,
            } => write!(f, "MID {mid} ICID {icid} To: <{address}> Rejected: {trick}"),
            Self::RejectedByRat { mid, icid, address } => {
                write!(f, "MID {mid} ICID {icid} To: <{address}> Rejected by RAT")
            }
            Self::RecipientsPerHourExceeded { mid, icid, address } => write!(
                f,
                "MID {mid} ICID {icid} To: <{address}> Rejected by Receiving Control: recipients per hour exceeded"
            ),
            Self::Recipient {
                mid,
                icid,
                rid,
                address,
            } => write!(f, "MID {mid} ICID {icid} RID {rid} To: <{address}>"),
            Self::Aborted { mid, icid, why } => write!(f, "MID {mid} ICID {icid} aborted by {why}"),
            Self::BudgetSpent { icid } => {
                write!(
                    f,
                    "ICID {icid} reception memory budget spent; message deferred"
                )
            }
            Self::Rejected { mid, why } => write!(f, "MID {mid} rejected: {why}"),
            Self::MessageId { mid, id } => write!(f, "MID {mid} Message-ID '<{id}>'"),
            Self::Subject { mid, subject } => write!(f, "MID {mid} Subject '{subject}'"),
            Self::Ready { mid, size, from } => {
                write!(f, "MID {mid} ready {size} bytes from <{from}>")
            }
        }
    }
}
