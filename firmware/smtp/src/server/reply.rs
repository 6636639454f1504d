//! The SMTP replies reception sends, in one place so their codes, enhanced
//! status codes and wording stay consistent (and AsyncOS-like).

pub const OK: &str = "250 2.0.0 Ok";
pub const RESET: &str = "250 2.0.0 Reset state";
pub const VRFY_DISABLED: &str =
    "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery";
pub const START_DATA: &str = "354 go ahead";
pub const START_TLS: &str = "220 2.0.0 Go ahead with TLS";
pub const UNKNOWN_COMMAND: &str = "500 5.5.1 Unrecognized command";
pub const LINE_TOO_LONG: &str = "500 5.5.2 Line too long";
pub const NOT_IMPLEMENTED: &str = "502 5.5.1 Command not implemented";
pub const NEED_HELO: &str = "503 5.5.1 Error: send HELO/EHLO first";
pub const NESTED_MAIL: &str = "503 5.5.1 Error: nested MAIL command";
pub const NEED_MAIL: &str = "503 5.5.1 Error: need MAIL command";
pub const NEED_RCPT: &str = "503 5.5.1 Error: need RCPT command";
pub const NO_VALID_RCPT: &str = "554 5.5.1 Error: no valid recipients";
pub const TLS_ALREADY: &str = "503 5.5.1 Error: TLS already active";
pub const TLS_UNAVAILABLE: &str = "454 4.7.0 TLS not available";
pub const TLS_REQUIRED: &str = "530 5.7.0 Must issue a STARTTLS command first";
pub const TOO_LARGE: &str = "552 5.3.4 Message size exceeds fixed maximum message size";
pub const TOO_MANY_RCPTS: &str = "452 4.5.3 Too many recipients";
/// A bounce (null sender) to a recipient without a valid bounce
/// verification tag (`bvconfig`; the invalid-bounce action "reject").
pub const BOUNCE_VERIFICATION_FAILED: &str = "550 5.7.1 Bounce verification failed";
pub const RCPTS_PER_HOUR: &str = "452 4.3.2 Too many recipients received this hour";
pub const MSGS_PER_CONN: &str = "452 4.3.2 Too many messages in this session; please reconnect";
pub const BARE_LINE_ENDING: &str =
    "550 5.6.0 Message refused: bare CR or LF in message data (CR/LF handling is strict)";
pub const NUL_IN_DATA: &str = "550 5.6.0 Message refused: NUL character in message data";
/// Pipelining where RFC 2920 forbids it (data before 354, anything after
/// BDAT LAST): Postfix's wording for smtpd_forbid_unauth_pipelining.
pub const SYNC_ERROR: &str = "554 5.5.0 Error: SMTP protocol synchronization";
/// The reception memory budget is spent (`listenerconfig setup`).
pub const BUDGET_SPENT: &str =
    "451 4.3.2 Insufficient system resources for reception; try again later";
pub const QUEUE_FULL: &str = "452 4.3.1 Insufficient system storage";
pub const QUEUE_ERROR: &str = "451 4.3.0 Error: queue file write error";
pub const TOO_MANY_ERRORS: &str = "421 4.7.0 Too many errors, closing connection";
pub const BDAT_MIXED: &str = "503 5.5.1 Error: BDAT and DATA cannot be mixed in one transaction";

pub fn bad_syntax(syntax: &str) -> String {
    format!("501 5.5.4 Syntax: {syntax}")
}

pub fn bad_sender() -> String {
    "501 5.1.7 Bad sender address syntax".to_string()
}

pub fn bad_recipient() -> String {
    "501 5.1.3 Bad recipient address syntax".to_string()
}

/// A sender address `crate::address` refused; `reason` is its error text.
pub fn bad_sender_address(reason: &crate::address::AddressError) -> String {
    if reason.needs_smtputf8() {
        return format!("553 5.6.7 Sender address rejected: {reason}");
    }
    format!("501 5.1.7 Bad sender address syntax: {reason}")
}

/// A recipient address `crate::address` refused.
pub fn bad_recipient_address(reason: &crate::address::AddressError) -> String {
    match reason {
        e if e.needs_smtputf8() => format!("553 5.6.7 Recipient address rejected: {e}"),
        crate::address::AddressError::BarePostmaster => {
            format!("553 5.1.3 Recipient address rejected: {reason}")
        }
        e => format!("501 5.1.3 Bad recipient address syntax: {e}"),
    }
}

/// A well-formed recipient in a form that routes elsewhere (percent hack,
/// bang path, address literal...): refused, never relayed.
pub fn routing_trick(address: &str, trick: crate::address::RoutingTrick) -> String {
    format!("553 5.7.1 Recipient address rejected: <{address}>: {trick}")
}

pub fn relay_denied(address: &str) -> String {
    format!("550 5.7.1 Recipient address rejected: relaying denied for <{address}>")
}

pub fn accepted(mid: u64) -> String {
    format!("250 ok:  Message {mid} accepted")
}

pub fn timeout(hostname: &str) -> String {
    format!("421 4.4.2 {hostname} Error: timeout exceeded")
}

pub fn too_many_connections_from_ip() -> String {
    "421 4.7.0 Too many concurrent connections from your address; try again later".to_string()
}

pub fn listener_busy() -> String {
    "421 4.3.2 Too many connections; try again later".to_string()
}

/// A multi-line reply from its lines (`250-a`, `250-b`, `250 c`).
pub fn multiline(code: u16, lines: &[String]) -> String {
    let last = lines.len().saturating_sub(1);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{code}{}{l}", if i == last { ' ' } else { '-' }))
        .collect::<Vec<_>>()
        .join("\r\n")
}
