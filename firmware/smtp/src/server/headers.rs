//! The header block of a message as it streams in: counted and measured
//! against the listener's header limits, its `Received:` fields counted
//! (hop count), and its Subject and Message-ID captured — bounded, so a
//! hostile header block costs a few kilobytes whatever its size.
//!
//! The scanner sees canonical text (the data receivers' output, CR LF line
//! endings). The header block ends at the first empty line, or at the first
//! line that cannot be a header field (no field name before a colon), as
//! RFC 5322 readers take it; nothing after it is examined.

use crate::config::HeaderLimits;

/// What a captured Subject or Message-ID field may keep, raw (folding and
/// encoded words included); the decoded value is cut again when stored.
const CAPTURE_MAX: usize = 2048;
/// Longest field name that is compared (`Message-ID` is the longest we want).
const NAME_MAX: usize = 16;
/// Characters of a decoded Subject kept in the queue record and the log.
pub const SUBJECT_MAX_CHARS: usize = 400;
/// Characters of a Message-ID kept in the queue record and the log.
pub const MESSAGE_ID_MAX_CHARS: usize = 250;

/// Why the header block was refused (reported after the end of data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    TooManyFields(u32),
    FieldTooLarge(u32),
    BlockTooLarge(u32),
    TooManyHops(u32),
}

impl HeaderError {
    /// The reply to the end of data.
    pub fn reply(&self) -> String {
        match self {
            Self::TooManyFields(n) => {
                format!("552 5.3.4 Message refused: more than {n} header fields")
            }
            Self::FieldTooLarge(n) => {
                format!("552 5.3.4 Message refused: a header field is longer than {n} octets")
            }
            Self::BlockTooLarge(n) => {
                format!("552 5.3.4 Message refused: the header section is longer than {n} octets")
            }
            Self::TooManyHops(n) => {
                format!("554 5.4.6 Too many hops: {n} Received headers (mail loop?)")
            }
        }
    }

    /// The mail log's wording.
    pub fn log(&self) -> String {
        match self {
            Self::TooManyFields(n) => format!("more than {n} header fields"),
            Self::FieldTooLarge(n) => format!("a header field longer than {n} octets"),
            Self::BlockTooLarge(n) => format!("header section longer than {n} octets"),
            Self::TooManyHops(n) => format!("too many hops ({n} Received headers)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    None,
    Subject,
    MessageId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart,
    /// An empty line's CR: LF ends the block.
    EmptyCr,
    /// Reading a field name.
    Name,
    /// Reading a field body (after the colon, or a continuation line).
    Body,
    /// The header block is over.
    Done,
}

/// Incremental header-block scanner.
#[derive(Debug)]
pub struct HeaderScanner {
    limits: HeaderLimits,
    state: State,
    name: heapless::Vec<u8, NAME_MAX>,
    name_overflow: bool,
    fields: u32,
    field_size: u32,
    block_size: u32,
    received: u32,
    capture: Capture,
    captured: Vec<u8>,
    subject: Option<Vec<u8>>,
    message_id: Option<Vec<u8>>,
    error: Option<HeaderError>,
}

impl HeaderScanner {
    pub fn new(limits: HeaderLimits) -> Self {
        Self {
            limits,
            state: State::LineStart,
            name: heapless::Vec::new(),
            name_overflow: false,
            fields: 0,
            field_size: 0,
            block_size: 0,
            received: 0,
            capture: Capture::None,
            captured: Vec::new(),
            subject: None,
            message_id: None,
            error: None,
        }
    }

    /// Scans more canonical message text.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.state == State::Done || self.error.is_some() {
                return;
            }
            self.block_size = self.block_size.saturating_add(1);
            if self.block_size > self.limits.max_header_bytes {
                self.fail(HeaderError::BlockTooLarge(self.limits.max_header_bytes));
                return;
            }
            match self.state {
                State::LineStart => match b {
                    b'\r' => self.state = State::EmptyCr,
                    b' ' | b'\t' if self.fields > 0 => {
                        self.state = State::Body;
                        self.body_byte(b);
                    }
                    _ => {
                        self.end_field();
                        self.fields += 1;
                        if self.fields > self.limits.max_header_fields {
                            self.fail(HeaderError::TooManyFields(self.limits.max_header_fields));
                            return;
                        }
                        self.state = State::Name;
                        self.name_byte(b);
                    }
                },
                State::EmptyCr => {
                    // An empty line (or a lone CR, which canonical text
                    // does not have) ends the block.
                    self.finish();
                }
                State::Name => self.name_byte(b),
                State::Body => self.body_byte(b),
                State::Done => {}
            }
        }
    }

    fn name_byte(&mut self, b: u8) {
        self.count_field_byte();
        match b {
            b':' if !self.name.is_empty() || self.name_overflow => {
                self.capture = if self.name_overflow {
                    Capture::None
                } else if self.name.eq_ignore_ascii_case(b"subject") && self.subject.is_none() {
                    Capture::Subject
                } else if self.name.eq_ignore_ascii_case(b"message-id") && self.message_id.is_none()
                {
                    Capture::MessageId
                } else {
                    if self.name.eq_ignore_ascii_case(b"received") {
                        self.received += 1;
                    }
                    Capture::None
                };
                if self.capture != Capture::None {
                    self.captured.clear();
                    self.captured.extend_from_slice(&self.name);
                    self.captured.push(b':');
                }
                self.state = State::Body;
            }
            // RFC 5322 ftext: printable US-ASCII but the colon.
            33..=126 if b != b':' => {
                if self.name.push(b).is_err() {
                    self.name_overflow = true;
                }
            }
            _ => {
                // Not a header field: the header block is over (it was
                // counted as a field; uncount it).
                self.fields -= 1;
                self.finish();
            }
        }
    }

    fn body_byte(&mut self, b: u8) {
        self.count_field_byte();
        if self.capture != Capture::None && self.captured.len() < CAPTURE_MAX {
            self.captured.push(b);
        }
        if b == b'\n' {
            self.state = State::LineStart;
        }
    }

    fn count_field_byte(&mut self) {
        self.field_size = self.field_size.saturating_add(1);
        if self.field_size > self.limits.max_header_field_bytes {
            self.fail(HeaderError::FieldTooLarge(
                self.limits.max_header_field_bytes,
            ));
        }
    }

    /// The field being read is complete (a new one starts, or the block ends).
    fn end_field(&mut self) {
        match std::mem::replace(&mut self.capture, Capture::None) {
            Capture::Subject => self.subject = Some(std::mem::take(&mut self.captured)),
            Capture::MessageId => self.message_id = Some(std::mem::take(&mut self.captured)),
            Capture::None => {}
        }
        self.name.clear();
        self.name_overflow = false;
        self.field_size = 0;
    }

    fn finish(&mut self) {
        self.end_field();
        self.state = State::Done;
        if self.received >= self.limits.max_hops {
            self.fail(HeaderError::TooManyHops(self.received));
        }
    }

    fn fail(&mut self, e: HeaderError) {
        self.error.get_or_insert(e);
        self.state = State::Done;
    }

    /// At the end of data: the verdict on the header block.
    pub fn result(&mut self) -> Result<(), HeaderError> {
        if self.state != State::Done {
            // The message ended inside its header block.
            self.finish();
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The decoded Subject, cut to [`SUBJECT_MAX_CHARS`].
    pub fn subject(&self) -> Option<String> {
        let raw = self.subject.as_ref()?;
        let parsed = parse_one(raw)?;
        let s = parsed.subject()?;
        Some(cut(s, SUBJECT_MAX_CHARS))
    }

    /// The Message-ID (without angle brackets), cut to [`MESSAGE_ID_MAX_CHARS`].
    pub fn message_id(&self) -> Option<String> {
        let raw = self.message_id.as_ref()?;
        let parsed = parse_one(raw)?;
        let s = parsed.message_id()?;
        Some(cut(s, MESSAGE_ID_MAX_CHARS))
    }
}

/// One captured field, parsed by mail-parser (RFC 2047 words, folding).
fn parse_one(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    mail_parser::MessageParser::new().parse_headers(raw)
}

/// At most `max` characters, control, bidi and invisible characters
/// replaced by spaces (they would break a log line or a tracking view).
pub fn cut(s: &str, max: usize) -> String {
    crate::display::flatten(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HeaderLimits {
        HeaderLimits {
            max_header_fields: 10,
            max_header_field_bytes: 200,
            max_header_bytes: 1000,
            max_hops: 3,
        }
    }

    fn scan(text: &[u8]) -> HeaderScanner {
        let mut s = HeaderScanner::new(limits());
        // Byte by byte: chunking never matters.
        for b in text {
            s.feed(std::slice::from_ref(b));
        }
        s
    }

    #[test]
    fn captures_subject_and_message_id_and_stops_at_the_empty_line() {
        let mut s = scan(
            b"Received: a\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n  again\r\nMessage-ID: <1@x>\r\n\r\nSubject: body\r\n",
        );
        assert_eq!(s.result(), Ok(()));
        assert_eq!(s.subject().as_deref(), Some("café again"));
        assert_eq!(s.message_id().as_deref(), Some("1@x"));
        assert_eq!(s.received, 1);
    }

    #[test]
    fn limits_answer_with_their_reason() {
        let many: Vec<u8> = (0..11)
            .flat_map(|i| format!("X-{i}: y\r\n").into_bytes())
            .collect();
        assert_eq!(scan(&many).result(), Err(HeaderError::TooManyFields(10)));
        let long = format!("X: {}\r\n\r\n", "y".repeat(300));
        assert_eq!(
            scan(long.as_bytes()).result(),
            Err(HeaderError::FieldTooLarge(200))
        );
        let folded = format!("X: {}\r\n\r\n", "y\r\n ".repeat(90));
        assert_eq!(
            scan(folded.as_bytes()).result(),
            Err(HeaderError::FieldTooLarge(200))
        );
        let block: Vec<u8> = (0..9)
            .flat_map(|i| format!("X-{i}: {}\r\n", "z".repeat(150)).into_bytes())
            .collect();
        assert_eq!(scan(&block).result(), Err(HeaderError::BlockTooLarge(1000)));
        let hops = b"Received: a\r\nreceived: b\r\nRECEIVED: c\r\n\r\n";
        let e = scan(hops).result().unwrap_err();
        assert_eq!(e, HeaderError::TooManyHops(3));
        assert!(e.reply().starts_with("554 5.4.6 "));
    }

    #[test]
    fn a_message_without_headers_is_not_a_header_block() {
        let body: Vec<u8> = b"just text\r\n".repeat(100);
        let mut s = scan(&body);
        assert_eq!(s.result(), Ok(()));
        assert_eq!(s.subject(), None);
    }

    #[test]
    fn long_subjects_are_cut_and_controls_replaced() {
        let text = format!("Subject: {}\x1b[2J\r\n\r\n", "s".repeat(150));
        let mut l = limits();
        l.max_header_field_bytes = 10_000;
        let mut s = HeaderScanner::new(l);
        s.feed(text.as_bytes());
        assert_eq!(s.result(), Ok(()));
        let subject = s.subject().unwrap();
        assert!(!subject.contains('\x1b'));
        assert_eq!(cut(&"é".repeat(1000), 5), "ééééé");
    }
}
