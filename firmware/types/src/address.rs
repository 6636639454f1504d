//! Envelope addresses as typed values: what `MAIL FROM:<...>` and
//! `RCPT TO:<...>` name, checked against RFC 5321 §4.1.2 (Dot-string or
//! Quoted-string local part, domain or address literal, length limits of
//! §4.5.3.1) and RFC 6531 (UTF-8 only when the transaction said SMTPUTF8).
//!
//! Exposure: internet-facing. `smtp-proto` still parses the command (verb
//! and ESMTP parameters), but it hands back the address with its quotes
//! removed, so `"victim@external.example> ORCPT=x"@example.com` came out as
//! text that the next hop reads as another recipient plus a parameter. This
//! module reads the path again from the raw command bytes and keeps what
//! the quotes meant.
//!
//! One form is used everywhere after reception: [`Mailbox::canonical`]
//! (domain lowercased, trailing dot removed, local part quoted only when it
//! is not a valid Dot-string, `"` and `\` escaped inside the quotes). It is
//! what RAT, HAT, filters, mail policies and destination controls match,
//! what the queue stores, what the logs show and what delivery writes
//! inside `<...>`. By construction it holds no control character, no CR or
//! LF, and no space, `<` or `>` outside quotes; its domain never contains
//! `@` or `"`, so splitting it at its last `@` yields the real domain.
//!
//! Panic contract: no function here panics on any input.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 5321 §4.5.3.1.1: octets of a local part.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2: octets of a domain.
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: octets of a path, `<` and `>` included.
pub const MAX_PATH: usize = 256;
/// RFC 1035: octets of one label.
const MAX_LABEL: usize = 63;

/// Why an address was refused; the text goes after the reply's prefix
/// ("501 5.1.3 Bad recipient address syntax: ..."), so it never repeats a
/// byte from the peer that is not printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    #[error("missing '<'")]
    MissingOpenBracket,
    #[error("missing '>'")]
    MissingCloseBracket,
    #[error("unexpected text after '>'")]
    TrailingText,
    #[error("control character {} not allowed", show_code(*.0))]
    ControlCharacter(u32),
    #[error("invisible or direction-changing character {} not allowed", show_code(*.0))]
    InvisibleCharacter(u32),
    #[error("8-bit characters need SMTPUTF8")]
    EightBit,
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("empty local part")]
    EmptyLocalPart,
    #[error("character {} not allowed in an unquoted local part", show_code(*.0))]
    LocalPartCharacter(u32),
    #[error("misplaced '.' in local part (quote it)")]
    LocalPartDot,
    #[error("character {} not allowed in a quoted local part", show_code(*.0))]
    QuotedCharacter(u32),
    #[error("unterminated quoted local part")]
    UnterminatedQuote,
    #[error("local part longer than {MAX_LOCAL_PART} octets")]
    LocalPartTooLong,
    #[error("missing '@domain'")]
    MissingDomain,
    #[error("invalid domain: {0}")]
    BadDomain(&'static str),
    #[error("domain longer than {MAX_DOMAIN} octets")]
    DomainTooLong,
    #[error("path longer than {MAX_PATH} octets")]
    PathTooLong,
    #[error("invalid address literal: {0}")]
    BadLiteral(&'static str),
    #[error("invalid source route")]
    BadSourceRoute,
    #[error("the null path <> is only a sender")]
    NullRecipient,
    /// RFC 5321 §4.1.1.3 `<Postmaster>`: there is no local mailbox here.
    #[error("<postmaster> needs a domain on this gateway")]
    BarePostmaster,
}

impl AddressError {
    /// 8-bit text without SMTPUTF8 is answered 553 5.6.7 (RFC 6531 §3.5),
    /// not as a syntax error.
    pub fn needs_smtputf8(&self) -> bool {
        matches!(self, AddressError::EightBit)
    }
}

/// A character for an error message: itself when printable ASCII, else
/// its code point, so a reply or log line never carries what it refuses.
fn show_code(c: u32) -> String {
    match char::from_u32(c) {
        Some(ch) if ch.is_ascii_graphic() => format!("'{ch}'"),
        _ => format!("U+{c:04X}"),
    }
}

/// Address forms that route mail somewhere other than the domain after
/// the last `@`. Breakwater never interprets them, but the next hop might,
/// so a recipient in one of these forms is refused (see docs/security.md,
/// "Addresses").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingTrick {
    #[error("'%' routing in the local part is not accepted")]
    PercentHack,
    #[error("'!' (UUCP bang path) routing in the local part is not accepted")]
    BangPath,
    #[error("'@' inside a quoted local part is not accepted")]
    AtInLocalPart,
    #[error("address literals are not accepted as recipients")]
    AddressLiteral,
}

/// The part before the `@`, unquoted and unescaped. Two local parts are
/// equal when their text is: `"bob"` and `bob` are one mailbox (RFC 5321
/// §4.1.2).
#[derive(Debug, Clone)]
pub struct LocalPart {
    text: String,
    was_quoted: bool,
}

impl PartialEq for LocalPart {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for LocalPart {}

impl std::hash::Hash for LocalPart {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}

impl LocalPart {
    /// A local part from its unquoted text, checked as if it had arrived
    /// quoted (any printable character; UTF-8 only when `utf8`).
    pub fn new(text: &str, utf8: bool) -> Result<Self, AddressError> {
        if text.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        for c in text.chars() {
            check_char(c, utf8)?;
            if !is_qtext(c) && !(' '..='~').contains(&c) {
                return Err(AddressError::QuotedCharacter(c as u32));
            }
        }
        let local = LocalPart {
            text: text.to_string(),
            was_quoted: false,
        };
        if local.wire_len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong);
        }
        Ok(local)
    }

    /// The text, quotes and escapes removed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The peer wrote it as a Quoted-string (needed or not).
    pub fn was_quoted(&self) -> bool {
        self.was_quoted
    }

    /// Not a valid Dot-string: written back inside quotes.
    pub fn needs_quoting(&self) -> bool {
        !is_dot_string(&self.text)
    }

    /// Octets as written on the wire (quotes and escapes included).
    fn wire_len(&self) -> usize {
        if self.needs_quoting() {
            2 + self.text.len() + self.text.matches(['"', '\\']).count()
        } else {
            self.text.len()
        }
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.needs_quoting() {
            return f.write_str(&self.text);
        }
        f.write_str("\"")?;
        for c in self.text.chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

/// The part after the `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Lowercased, without a trailing dot: ASCII labels, or U-labels when
    /// the transaction said SMTPUTF8.
    Name(String),
    /// `[192.0.2.1]`.
    V4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`.
    V6(Ipv6Addr),
}

impl Domain {
    /// A domain name as an administrator or a peer writes it.
    pub fn parse(text: &str, utf8: bool) -> Result<Self, AddressError> {
        let mut p = Cursor::new(text.as_bytes(), utf8);
        let d = p.domain(&[])?;
        if !p.at_end() {
            return Err(AddressError::BadDomain("unexpected character"));
        }
        Ok(d)
    }

    pub fn is_literal(&self) -> bool {
        !matches!(self, Domain::Name(_))
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Name(n) => f.write_str(n),
            Domain::V4(ip) => write!(f, "[{ip}]"),
            Domain::V6(ip) => write!(f, "[IPv6:{ip}]"),
        }
    }
}

/// `local@domain`. `Display` is the canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local: LocalPart,
    domain: Domain,
}

impl Mailbox {
    pub fn new(local: LocalPart, domain: Domain) -> Result<Self, AddressError> {
        let m = Mailbox { local, domain };
        if m.to_string().len() + 2 > MAX_PATH {
            return Err(AddressError::PathTooLong);
        }
        Ok(m)
    }

    /// A bare mailbox (no `<>`): a stored canonical address, an address in
    /// the configuration, or one typed at the CLI.
    pub fn parse(text: &str, utf8: bool) -> Result<Self, AddressError> {
        let mut p = Cursor::new(text.as_bytes(), utf8);
        let m = p.mailbox(&[])?;
        if !p.at_end() {
            return Err(AddressError::BadDomain("unexpected character"));
        }
        if text.len() + 2 > MAX_PATH {
            return Err(AddressError::PathTooLong);
        }
        Ok(m)
    }

    pub fn local(&self) -> &LocalPart {
        &self.local
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The form every matcher, the queue, the logs and delivery use.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// Any text outside ASCII (needs SMTPUTF8 at the next hop).
    pub fn is_utf8(&self) -> bool {
        !self.to_string().is_ascii()
    }

    /// The first routing form this recipient uses, if any.
    pub fn routing_trick(&self) -> Option<RoutingTrick> {
        let text = self.local.as_str();
        if self.domain.is_literal() {
            Some(RoutingTrick::AddressLiteral)
        } else if text.contains('@') {
            Some(RoutingTrick::AtInLocalPart)
        } else if text.contains('%') {
            Some(RoutingTrick::PercentHack)
        } else if text.contains('!') {
            Some(RoutingTrick::BangPath)
        } else {
            None
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// What `MAIL FROM` names: a mailbox, or `<>` (bounces, RFC 5321 §4.5.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    Null,
    Mailbox(Mailbox),
}

impl ReversePath {
    /// A stored sender: `""` is the null path.
    pub fn parse_stored(text: &str, utf8: bool) -> Result<Self, AddressError> {
        if text.is_empty() {
            Ok(ReversePath::Null)
        } else {
            Mailbox::parse(text, utf8).map(ReversePath::Mailbox)
        }
    }

    /// The canonical form; `""` for the null path (written `<>`).
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => Ok(()),
            ReversePath::Mailbox(m) => m.fmt(f),
        }
    }
}

/// The reverse path of a `MAIL FROM:<...> [params]` line already accepted
/// by `smtp-proto`, read from the raw bytes. `smtputf8`: the line carried
/// the SMTPUTF8 parameter.
pub fn parse_mail_from(line: &[u8], smtputf8: bool) -> Result<ReversePath, AddressError> {
    match command_path(line, smtputf8)? {
        Some(m) => Ok(ReversePath::Mailbox(m)),
        None => Ok(ReversePath::Null),
    }
}

/// The forward path of a `RCPT TO:<...> [params]` line, read from the raw
/// bytes; `smtputf8`: the transaction's MAIL FROM carried SMTPUTF8. A
/// source route is dropped (RFC 5321 §3.3 and Appendix C: use the mailbox).
pub fn parse_rcpt_to(line: &[u8], smtputf8: bool) -> Result<Mailbox, AddressError> {
    command_path(line, smtputf8)?.ok_or(AddressError::NullRecipient)
}

/// Splits a canonical address at its last `@` (local part as written,
/// domain). Sound only for canonical forms, whose domain holds no `@`.
pub fn split_canonical(address: &str) -> (&str, &str) {
    address.rsplit_once('@').unwrap_or((address, ""))
}

fn command_path(line: &[u8], utf8: bool) -> Result<Option<Mailbox>, AddressError> {
    // smtp-proto accepted `VERB KEYWORD:<`; neither word holds a colon.
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(AddressError::MissingOpenBracket)?;
    let mut p = Cursor::new(&line[colon + 1..], utf8);
    while p.peek() == Some(b' ') {
        p.pos += 1;
    }
    let path = p.path()?;
    // What follows is smtp-proto's: ESMTP parameters after a space, or the
    // end of the line. Anything else means the two readings disagree.
    match p.peek() {
        None | Some(b' ' | b'\r' | b'\n') => Ok(path),
        Some(_) => Err(AddressError::TrailingText),
    }
}

/// Byte reader over one path.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    utf8: bool,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], utf8: bool) -> Self {
        Cursor {
            bytes,
            pos: 0,
            utf8,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next character, checked for controls, invisible characters and
    /// 8-bit text without SMTPUTF8; not consumed.
    fn peek_char(&self) -> Result<Option<(char, usize)>, AddressError> {
        let Some(b) = self.peek() else {
            return Ok(None);
        };
        if b < 0x80 {
            let c = char::from(b);
            check_char(c, self.utf8)?;
            return Ok(Some((c, 1)));
        }
        if !self.utf8 {
            return Err(AddressError::EightBit);
        }
        let len = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Err(AddressError::InvalidUtf8),
        };
        let bytes = self
            .bytes
            .get(self.pos..self.pos + len)
            .ok_or(AddressError::InvalidUtf8)?;
        let c = std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.chars().next())
            .ok_or(AddressError::InvalidUtf8)?;
        check_char(c, self.utf8)?;
        Ok(Some((c, len)))
    }

    /// `<` [source route `:`] (mailbox | nothing) `>`; `None` is `<>`.
    fn path(&mut self) -> Result<Option<Mailbox>, AddressError> {
        let start = self.pos;
        if self.peek() != Some(b'<') {
            return Err(AddressError::MissingOpenBracket);
        }
        self.pos += 1;
        if self.peek() == Some(b'>') {
            self.pos += 1;
            return Ok(None);
        }
        if self.peek() == Some(b'@') {
            self.source_route()?;
        }
        let postmaster = self.bytes[self.pos..]
            .get(..11)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"postmaster>"));
        if postmaster {
            return Err(AddressError::BarePostmaster);
        }
        let mailbox = self.mailbox(b">")?;
        if self.peek() != Some(b'>') {
            return Err(AddressError::MissingCloseBracket);
        }
        self.pos += 1;
        if self.pos - start > MAX_PATH {
            return Err(AddressError::PathTooLong);
        }
        Ok(Some(mailbox))
    }

    /// `@one,@two:` — checked, then forgotten.
    fn source_route(&mut self) -> Result<(), AddressError> {
        loop {
            if self.peek() != Some(b'@') {
                return Err(AddressError::BadSourceRoute);
            }
            self.pos += 1;
            self.domain(b",:")
                .map_err(|_| AddressError::BadSourceRoute)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b':') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(AddressError::BadSourceRoute),
            }
        }
    }

    /// local-part `@` domain; the domain ends at one of `stops` or at the end.
    fn mailbox(&mut self, stops: &[u8]) -> Result<Mailbox, AddressError> {
        let local = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.dot_string()?
        };
        if local.wire_len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong);
        }
        if self.peek() != Some(b'@') {
            return Err(AddressError::MissingDomain);
        }
        self.pos += 1;
        let domain = self.domain(stops)?;
        Ok(Mailbox { local, domain })
    }

    fn dot_string(&mut self) -> Result<LocalPart, AddressError> {
        let mut text = String::new();
        while let Some((c, len)) = self.peek_char()? {
            if c == '@' || c == '>' {
                break;
            }
            if !(is_atext(c) || c == '.') {
                return Err(AddressError::LocalPartCharacter(c as u32));
            }
            text.push(c);
            self.pos += len;
        }
        if text.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        if !is_dot_string(&text) {
            return Err(AddressError::LocalPartDot);
        }
        Ok(LocalPart {
            text,
            was_quoted: false,
        })
    }

    fn quoted_string(&mut self) -> Result<LocalPart, AddressError> {
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some((c, len)) = self.peek_char()? else {
                return Err(AddressError::UnterminatedQuote);
            };
            self.pos += len;
            match c {
                '"' => break,
                // quoted-pairSMTP = "\" %d32-126
                '\\' => match self.peek_char()? {
                    Some((e, 1)) if (' '..='~').contains(&e) => {
                        text.push(e);
                        self.pos += 1;
                    }
                    Some((e, _)) => return Err(AddressError::QuotedCharacter(e as u32)),
                    None => return Err(AddressError::UnterminatedQuote),
                },
                c if is_qtext(c) => text.push(c),
                c => return Err(AddressError::QuotedCharacter(c as u32)),
            }
        }
        if text.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        Ok(LocalPart {
            text,
            was_quoted: true,
        })
    }

    /// A domain name or an IPv4/IPv6 address literal, ending before one of
    /// `stops` or at the end of input.
    fn domain(&mut self, stops: &[u8]) -> Result<Domain, AddressError> {
        if self.peek() == Some(b'[') {
            return self.literal();
        }
        let mut name = String::new();
        while let Some((c, len)) = self.peek_char()? {
            if c.is_ascii() && stops.contains(&(c as u8)) {
                break;
            }
            let ok = c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.')
                || (!c.is_ascii() && !is_lookalike_separator(c));
            if !ok {
                return Err(AddressError::BadDomain("character not allowed"));
            }
            name.extend(c.to_lowercase());
            self.pos += len;
        }
        // A trailing dot names the same (fully qualified) domain.
        if let Some(stripped) = name.strip_suffix('.') {
            name.truncate(stripped.len());
        }
        if name.is_empty() {
            return Err(AddressError::MissingDomain);
        }
        if name.len() > MAX_DOMAIN {
            return Err(AddressError::DomainTooLong);
        }
        for label in name.split('.') {
            if label.is_empty() {
                return Err(AddressError::BadDomain("empty label"));
            }
            if label.len() > MAX_LABEL {
                return Err(AddressError::BadDomain("label longer than 63 octets"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(AddressError::BadDomain("label starts or ends with '-'"));
            }
        }
        Ok(Domain::Name(name))
    }

    /// `[192.0.2.1]` or `[IPv6:2001:db8::1]`. General address literals
    /// (`[tag:text]`) are refused: no tag is in use, and their text may hold
    /// `@`, which would break "the domain holds no `@`".
    fn literal(&mut self) -> Result<Domain, AddressError> {
        self.pos += 1;
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b']')
            .ok_or(AddressError::BadLiteral("missing ']'"))?;
        let inner = std::str::from_utf8(&rest[..end])
            .map_err(|_| AddressError::BadLiteral("not an IP address"))?;
        let v6 = inner
            .get(..5)
            .is_some_and(|tag| tag.eq_ignore_ascii_case("IPv6:"));
        let domain = if v6 {
            inner
                .get(5..)
                .unwrap_or_default()
                .parse()
                .map(Domain::V6)
                .map_err(|_| AddressError::BadLiteral("not an IPv6 address"))?
        } else if inner.contains(':') {
            return Err(AddressError::BadLiteral("only IPv4 and IPv6 literals"));
        } else {
            inner
                .parse()
                .map(Domain::V4)
                .map_err(|_| AddressError::BadLiteral("not an IPv4 address"))?
        };
        self.pos += end + 1;
        Ok(domain)
    }
}

/// Refuses what must never reach a reply, a log line or the next hop:
/// C0 and C1 controls (NUL, ESC, CR, LF...), DEL, characters that are
/// invisible or reorder text on screen, and 8-bit text without SMTPUTF8.
fn check_char(c: char, utf8: bool) -> Result<(), AddressError> {
    if c.is_control() {
        return Err(AddressError::ControlCharacter(c as u32));
    }
    if !c.is_ascii() {
        if !utf8 {
            return Err(AddressError::EightBit);
        }
        let invisible = matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{00AD}'
            | '\u{061C}' | '\u{180E}')
            || c.is_whitespace();
        if invisible {
            return Err(AddressError::InvisibleCharacter(c as u32));
        }
    }
    Ok(())
}

/// Characters IDNA maps to `.` or `@`: a next hop that applies it would
/// read another domain than the one the RAT matched.
fn is_lookalike_separator(c: char) -> bool {
    matches!(
        c,
        '\u{3002}' | '\u{FF0E}' | '\u{FF61}' | '\u{FF20}' | '\u{FE6B}' | '\u{2024}'
    )
}

/// RFC 5321 atext, plus UTF-8 (RFC 6531; `check_char` has already refused
/// non-ASCII text without SMTPUTF8).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// RFC 5321 qtextSMTP (printable ASCII but `"` and `\`), plus UTF-8.
fn is_qtext(c: char) -> bool {
    matches!(c, ' '..='~') && c != '"' && c != '\\' || !c.is_ascii()
}

/// `atom *("." atom)`.
fn is_dot_string(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
