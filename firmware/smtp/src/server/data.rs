//! The message-data receivers: DATA (dot-stuffed, ended by a line with a
//! single dot) and BDAT (counted chunks). Both turn what the client sends
//! into canonical CRLF text, check line endings and enforce the size limit,
//! writing into a caller-bounded buffer so a session never holds more than
//! that buffer of a message (the driver streams it to the spool).
//!
//! Framing rules (the SMTP smuggling defence, docs/security.md):
//! - Only `CR LF . CR LF` ends DATA. A line start is the start of data or
//!   what follows a real `CR LF`; what follows a bare CR or bare LF is never
//!   a line start, so `LF . CR LF`, `CR . CR`, `LF . LF` and their kin are
//!   message text, never an end of data and never dot-unstuffed.
//! - Strict CR/LF handling: any bare CR or bare LF marks the message as
//!   refused (it is still read to its real end, so the session stays in
//!   step, but nothing more is written).
//! - Lenient: each bare CR and each bare LF becomes `CR LF` before it is
//!   stored, so no later reader (filters, the next hop) can split the
//!   message differently from us.
//! - BDAT follows the same listener setting; a CR ending one chunk and the
//!   LF starting the next are one line ending.

/// Why a message's data was refused (reported after the end of data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    TooLarge,
    BareLineEnding,
    /// A NUL octet: never valid in SMTP text (RFC 5321 §4.1.4 and 2.3.8),
    /// and a next hop that drops it could see a different end of data.
    Nul,
}

/// What both receivers share: size accounting, the first error, and the
/// output (stopped at the first error: a refused message is not stored).
#[derive(Debug)]
struct Output {
    strict: bool,
    max_size: u64,
    size: u64,
    error: Option<DataError>,
}

impl Output {
    fn new(strict: bool, max_size: u64) -> Self {
        Self {
            strict,
            max_size,
            size: 0,
            error: None,
        }
    }

    fn push(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        if self.size > self.max_size {
            self.error.get_or_insert(DataError::TooLarge);
        }
        if self.error.is_none() {
            out.extend_from_slice(bytes);
        }
    }

    /// A run of text bytes, exactly as pushing them one at a time would:
    /// the bytes that fit under the limit are written, the size counts
    /// them all.
    fn push_run(&mut self, out: &mut Vec<u8>, run: &[u8]) {
        if self.error.is_none() {
            let room = self.max_size.saturating_sub(self.size);
            let fits = usize::try_from(room).map_or(run.len(), |r| r.min(run.len()));
            out.extend_from_slice(&run[..fits]);
        }
        self.size += run.len() as u64;
        if self.size > self.max_size {
            self.error.get_or_insert(DataError::TooLarge);
        }
    }

    /// A bare CR or LF: refused when strict, a line ending when lenient.
    fn bare(&mut self, out: &mut Vec<u8>) {
        if self.strict {
            self.error.get_or_insert(DataError::BareLineEnding);
        } else {
            self.push(out, b"\r\n");
        }
    }

    /// A NUL octet: refused when strict, dropped when lenient.
    fn nul(&mut self) {
        if self.strict {
            self.error.get_or_insert(DataError::Nul);
        }
    }

    fn result(&self) -> Result<u64, DataError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.size),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataState {
    /// At a line start (after a real CR LF, or at the start of data).
    LineStart,
    /// Inside a line.
    Text,
    /// Inside a line, the previous byte was CR.
    Cr,
    /// A line began with `.`.
    Dot,
    /// A line began with `.` CR.
    DotCr,
}

/// Incremental DATA parser.
#[derive(Debug)]
pub struct DataReceiver {
    state: DataState,
    out: Output,
}

impl DataReceiver {
    pub fn new(strict: bool, max_size: u64) -> Self {
        Self {
            state: DataState::LineStart,
            out: Output::new(strict, max_size),
        }
    }

    /// Consumes bytes from `input` into `out` until the end of data, the
    /// end of `input`, or `out` reaching `room` bytes (each input byte adds
    /// at most three). Returns how many bytes were consumed and, once the
    /// end of data was seen, the outcome (the message size).
    pub fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> (usize, Option<Result<u64, DataError>>) {
        let mut i = 0;
        while i < input.len() {
            if out.len() >= room {
                return (i, None);
            }
            // Most of a message is ordinary bytes inside lines: copy a run
            // of them at once (the byte steps below would give the same
            // output, a byte at a time).
            if self.state == DataState::Text
                || (self.state == DataState::LineStart && input[i] != b'.')
            {
                let take = (room - out.len()).min(input.len() - i);
                let window = &input[i..i + take];
                let run = memchr::memchr3(b'\r', b'\n', 0, window).unwrap_or(window.len());
                if run > 0 {
                    self.out.push_run(out, &window[..run]);
                    self.state = DataState::Text;
                    i += run;
                    continue;
                }
            }
            let b = input[i];
            i += 1;
            if let Some(end) = self.step(out, b) {
                return (i, Some(end));
            }
        }
        (input.len(), None)
    }

    /// One byte through the state machine; the end of data's result when
    /// it is the LF of `CR LF . CR LF`.
    fn step(&mut self, out: &mut Vec<u8>, b: u8) -> Option<Result<u64, DataError>> {
        match self.state {
            DataState::LineStart => match b {
                b'.' => self.state = DataState::Dot,
                _ => self.text(out, b),
            },
            DataState::Dot => match b {
                b'\r' => self.state = DataState::DotCr,
                // RFC 5321 §4.5.2: a leading dot on a line with other
                // characters is deleted.
                _ => self.text(out, b),
            },
            DataState::DotCr => {
                if b == b'\n' {
                    self.state = DataState::LineStart;
                    return Some(self.out.result());
                }
                // ". CR x": the CR is bare; x is text.
                self.out.bare(out);
                self.state = DataState::Text;
                self.text(out, b);
            }
            DataState::Text => self.text(out, b),
            DataState::Cr => {
                if b == b'\n' {
                    self.out.push(out, b"\r\n");
                    self.state = DataState::LineStart;
                } else {
                    self.out.bare(out);
                    self.state = DataState::Text;
                    self.text(out, b);
                }
            }
        }
        None
    }

    /// One byte inside a line (never at a real line start).
    fn text(&mut self, out: &mut Vec<u8>, b: u8) {
        match b {
            b'\r' => self.state = DataState::Cr,
            b'\n' => {
                // A bare LF: never a line start, never an end of data.
                self.out.bare(out);
                self.state = DataState::Text;
            }
            0 => {
                self.out.nul();
                self.state = DataState::Text;
            }
            _ => {
                self.out.push(out, &[b]);
                self.state = DataState::Text;
            }
        }
    }
}

/// Incremental BDAT receiver: the chunk framing is counted by the session;
/// this canonicalises line endings across chunks and enforces the size.
#[derive(Debug)]
pub struct BdatReceiver {
    pending_cr: bool,
    out: Output,
}

impl BdatReceiver {
    pub fn new(strict: bool, max_size: u64) -> Self {
        Self {
            pending_cr: false,
            out: Output::new(strict, max_size),
        }
    }

    /// Consumes chunk bytes into `out` until `out` reaches `room` bytes;
    /// returns how many were consumed.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, room: usize) -> usize {
        for (i, &b) in input.iter().enumerate() {
            if out.len() >= room {
                return i;
            }
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.out.push(out, b"\r\n");
                    continue;
                }
                self.out.bare(out);
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => self.out.bare(out),
                0 => self.out.nul(),
                _ => self.out.push(out, &[b]),
            }
        }
        input.len()
    }

    /// The size so far has passed the limit (reported at each chunk).
    pub fn too_large(&self) -> bool {
        self.out.error == Some(DataError::TooLarge)
    }

    /// Bytes of message received so far.
    pub fn size(&self) -> u64 {
        self.out.size
    }

    /// BDAT LAST: a CR ending the last chunk is bare.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<u64, DataError> {
        if std::mem::take(&mut self.pending_cr) {
            self.out.bare(out);
        }
        self.out.result()
    }
}

/// The SMTP smuggling "end of data" variants (each put between message
/// text and a second transaction): the tests of both receivers and of the
/// session run every one.
#[cfg(test)]
pub(super) const FAKE_ENDS_OF_DATA: &[&[u8]] = &[
    b"\n.\n",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r.\r",
    b"\r\n.\r",
    b"\r\n.\r\r\n",
    b"\r.\r\n",
    b"\n.\r",
    b"\r\n\x00.\r\n",
];

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: usize = 1 << 20;

    fn run(
        strict: bool,
        max: u64,
        chunks: &[&[u8]],
    ) -> (Vec<u8>, Option<Result<u64, DataError>>, usize) {
        let mut rx = DataReceiver::new(strict, max);
        let mut out = Vec::new();
        let mut left = 0;
        for c in chunks {
            let (n, done) = rx.feed(c, &mut out, ROOM);
            if done.is_some() {
                left = c.len() - n;
                return (out, done, left);
            }
        }
        (out, None, left)
    }

    proptest::proptest! {
        /// The run-copying fast path gives exactly what the byte steps
        /// give: the same input fed whole and a byte at a time (where every
        /// run is one byte long) ends, errs and writes the same.
        #[test]
        fn copying_runs_changes_nothing(
            input in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'.', b'\r', b'\n', 0u8, b'z']),
                0..200,
            ),
            strict in proptest::bool::ANY,
            max in 0u64..300,
        ) {
            let whole = run(strict, max, &[&input]);
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            let single = run(strict, max, &bytes);
            proptest::prop_assert_eq!(&whole.1, &single.1);
            proptest::prop_assert_eq!(whole.0, single.0);
        }
    }

    /// fuzz/corpus/data_receiver/regression-room-max-split: a caller with
    /// no room limit (`usize::MAX`) and a limit crossed inside a copied run
    /// give the byte steps' output, whatever the split.
    #[test]
    fn unlimited_room_and_a_split_run_give_the_same_output() {
        let input: &[u8] = b"a\n.\r\nb\r.\r\r\n.\r\n";
        for strict in [true, false] {
            let mut whole = Vec::new();
            let mut rx = DataReceiver::new(strict, 3);
            let (_, end) = rx.feed(input, &mut whole, usize::MAX);
            for split in 0..input.len() {
                let mut out = Vec::new();
                let mut rx = DataReceiver::new(strict, 3);
                let (n, mut done) = rx.feed(&input[..split], &mut out, usize::MAX);
                if done.is_none() {
                    done = rx.feed(&input[n..], &mut out, usize::MAX).1;
                }
                assert_eq!(out, whole, "split {split}, strict {strict}");
                assert_eq!(done, end, "split {split}, strict {strict}");
            }
        }
    }

    #[test]
    fn unstuffs_dots_and_stops_at_the_end_line_whatever_the_chunking() {
        let wire: &[u8] = b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n";
        for split in 0..wire.len() {
            let (out, done, left) = run(true, 1000, &[&wire[..split], &wire[split..]]);
            assert_eq!(out, b"Subject: x\r\n\r\n.leading dot\r\n", "split {split}");
            assert!(matches!(done, Some(Ok(_))));
            if split < wire.len() - 6 {
                assert_eq!(left, 6, "QUIT left unread at split {split}");
            }
        }
    }

    /// The SMTP smuggling end-of-data variants: none of them ends the
    /// message, in either mode; strict refuses the message at its real end,
    /// lenient stores every bare ending as CRLF and keeps the dot.
    #[test]
    fn smuggling_variants_never_end_data() {
        let variants = FAKE_ENDS_OF_DATA;
        // Lenient drops the NUL: the line is then a lone dot, which is
        // stored as text and dot-stuffed again on the way out.
        for v in variants {
            let mut wire = b"a".to_vec();
            wire.extend_from_slice(v);
            wire.extend_from_slice(b"MAIL FROM:<ceo@example.com>\r\n");
            for strict in [true, false] {
                let (out, done, _) = run(strict, 10_000, &[&wire]);
                assert_eq!(done, None, "{v:?} ended data (strict {strict})");
                let (_, done, _) = run(strict, 10_000, &[&wire, b"\r\n.\r\n"]);
                if strict && v.starts_with(b"\r\n\x00") {
                    assert_eq!(done, Some(Err(DataError::Nul)), "{v:?}");
                } else if strict {
                    assert_eq!(done, Some(Err(DataError::BareLineEnding)), "{v:?}");
                } else {
                    assert!(matches!(done, Some(Ok(_))), "{v:?} strict {strict}");
                }
                if !strict {
                    // Every CR is followed by LF and every LF preceded by CR.
                    for (i, &b) in out.iter().enumerate() {
                        if b == b'\r' {
                            assert_eq!(out.get(i + 1), Some(&b'\n'), "{v:?}: {out:?}");
                        }
                        if b == b'\n' {
                            assert_eq!(out[i - 1], b'\r', "{v:?}: {out:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn strict_refuses_bare_lf_and_bare_cr_but_reads_to_the_end() {
        let (_, done, _) = run(true, 1000, &[b"a\nb\r\n.\r\n"]);
        assert_eq!(done, Some(Err(DataError::BareLineEnding)));
        let (_, done, _) = run(true, 1000, &[b"a\rb\r\n.\r\n"]);
        assert_eq!(done, Some(Err(DataError::BareLineEnding)));
        // A bare LF before a dot is not an end of data.
        let (_, done, _) = run(true, 1000, &[b"a\n.\r\nb\r\n"]);
        assert_eq!(done, None);
    }

    #[test]
    fn lenient_stores_bare_endings_as_crlf_and_keeps_the_dot() {
        let (out, done, _) = run(false, 1000, &[b"a\nb\rc\r\n.\r\n"]);
        assert_eq!(out, b"a\r\nb\r\nc\r\n");
        assert!(matches!(done, Some(Ok(_))));
        // After a bare LF the dot is text, kept as it came.
        let (out, done, _) = run(false, 1000, &[b"a\n.\r\nb\r\n.\r\n"]);
        assert_eq!(out, b"a\r\n.\r\nb\r\n");
        assert!(matches!(done, Some(Ok(_))));
    }

    #[test]
    fn oversize_is_refused_without_buffering_past_the_limit() {
        let big = vec![b'x'; 5000];
        let mut rx = DataReceiver::new(true, 100);
        let mut out = Vec::new();
        rx.feed(&big, &mut out, ROOM);
        assert!(out.len() <= 100);
        let (_, done) = rx.feed(b"\r\n.\r\n", &mut out, ROOM);
        assert_eq!(done, Some(Err(DataError::TooLarge)));
    }

    #[test]
    fn the_output_room_bounds_what_one_call_writes() {
        let big = vec![b'x'; 5000];
        let mut rx = DataReceiver::new(true, 1_000_000);
        let mut out = Vec::new();
        let (n, done) = rx.feed(&big, &mut out, 1024);
        assert_eq!((n, out.len(), done), (1024, 1024, None));
    }

    #[test]
    fn eight_bit_bytes_pass_through() {
        let (out, done, _) = run(true, 1000, &[b"caf\xc3\xa9 \xff\r\n.\r\n"]);
        assert_eq!(out, b"caf\xc3\xa9 \xff\r\n");
        assert!(matches!(done, Some(Ok(_))));
    }

    #[test]
    fn bdat_joins_a_crlf_split_across_chunks_and_follows_the_mode() {
        let mut rx = BdatReceiver::new(true, 1000);
        let mut out = Vec::new();
        rx.feed(b"a\r", &mut out, ROOM);
        rx.feed(b"\nb\r\n", &mut out, ROOM);
        assert_eq!(rx.finish(&mut out), Ok(6));
        assert_eq!(out, b"a\r\nb\r\n");

        let mut rx = BdatReceiver::new(true, 1000);
        rx.feed(b"a\n.\r\nMAIL FROM:<x@y>\r\n", &mut Vec::new(), ROOM);
        assert_eq!(rx.finish(&mut Vec::new()), Err(DataError::BareLineEnding));

        let mut rx = BdatReceiver::new(false, 1000);
        let mut out = Vec::new();
        rx.feed(b"a\nb\rc\r", &mut out, ROOM);
        assert!(rx.finish(&mut out).is_ok());
        assert_eq!(out, b"a\r\nb\r\nc\r\n");
    }
}
