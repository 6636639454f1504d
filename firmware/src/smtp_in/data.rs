//! The DATA receiver: removes dot-stuffing, finds the end of data, checks
//! line endings and enforces the size limit — without ever buffering more
//! than the limit.
//!
//! Only `CR LF . CR LF` ends the data. With Strict CR/LF handling a bare CR
//! or bare LF marks the message as refused (it is still read to its end so
//! the session stays in step); Lenient handling stores a bare LF as CR LF.

/// Why a message's data was refused (reported after the end of data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    TooLarge,
    BareLineEnding,
}

/// Incremental DATA parser state.
#[derive(Debug)]
pub struct DataReceiver {
    strict: bool,
    max_size: u64,
    /// Raw bytes seen at the current line start: 0 = line start, then
    /// tracking of `.`, `.CR`.
    at_line_start: bool,
    dot_line: DotState,
    /// The previous raw byte was CR.
    pending_cr: bool,
    error: Option<DataError>,
    size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DotState {
    None,
    /// A line began with `.`.
    Dot,
    /// A line began with `.` CR.
    DotCr,
}

impl DataReceiver {
    pub fn new(strict: bool, max_size: u64) -> Self {
        Self {
            strict,
            max_size,
            at_line_start: true,
            dot_line: DotState::None,
            pending_cr: false,
            error: None,
            size: 0,
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

    fn bare(&mut self) {
        if self.strict {
            self.error.get_or_insert(DataError::BareLineEnding);
        }
    }

    /// Consumes bytes from `input` into `out`. Returns how many bytes were
    /// consumed and, once the end of data was seen, the outcome.
    pub fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> (usize, Option<Result<u64, DataError>>) {
        for (i, &b) in input.iter().enumerate() {
            // The end-of-data line and dot-stuffing are decided at line start.
            match self.dot_line {
                DotState::Dot => match b {
                    b'\r' => {
                        self.dot_line = DotState::DotCr;
                        continue;
                    }
                    b'.' => {
                        // ".." → "." (the stuffed dot is dropped).
                        self.dot_line = DotState::None;
                        self.at_line_start = false;
                        self.push(out, b".");
                        continue;
                    }
                    _ => {
                        // A lone leading dot that was not doubled: keep it
                        // as a lenient reading of a sender's mistake.
                        self.dot_line = DotState::None;
                        self.at_line_start = false;
                        self.push(out, b".");
                    }
                },
                DotState::DotCr => {
                    self.dot_line = DotState::None;
                    if b == b'\n' {
                        return (i + 1, Some(self.finish()));
                    }
                    // ". CR x": the CR was bare.
                    self.bare();
                    self.at_line_start = false;
                    self.push(out, b".\r");
                }
                DotState::None => {}
            }
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.push(out, b"\r\n");
                    self.at_line_start = true;
                    continue;
                }
                self.bare();
                self.push(out, b"\r");
                self.at_line_start = false;
            }
            match b {
                b'.' if self.at_line_start => self.dot_line = DotState::Dot,
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    // A bare LF: never an end of data.
                    self.bare();
                    self.push(out, b"\r\n");
                    self.at_line_start = true;
                }
                _ => {
                    self.at_line_start = false;
                    self.push(out, &[b]);
                }
            }
        }
        (input.len(), None)
    }

    fn finish(&mut self) -> Result<u64, DataError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        strict: bool,
        max: u64,
        chunks: &[&[u8]],
    ) -> (Vec<u8>, Option<Result<u64, DataError>>, usize) {
        let mut rx = DataReceiver::new(strict, max);
        let mut out = Vec::new();
        let mut left = 0;
        for c in chunks {
            let (n, done) = rx.feed(c, &mut out);
            if done.is_some() {
                left = c.len() - n;
                return (out, done, left);
            }
        }
        (out, None, left)
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

    #[test]
    fn strict_refuses_bare_lf_and_bare_cr_but_reads_to_the_end() {
        let (_, done, _) = run(true, 1000, &[b"a\nb\r\n.\r\n"]);
        assert_eq!(done, Some(Err(DataError::BareLineEnding)));
        let (_, done, _) = run(true, 1000, &[b"a\rb\r\n.\r\n"]);
        assert_eq!(done, Some(Err(DataError::BareLineEnding)));
        // A bare LF before a dot is not an end of data.
        let (_, done, _) = run(true, 1000, &[b"a\n.\nb\r\n"]);
        assert_eq!(done, None);
    }

    #[test]
    fn lenient_stores_bare_lf_as_crlf() {
        let (out, done, _) = run(false, 1000, &[b"a\nb\r\n.\r\n"]);
        assert_eq!(out, b"a\r\nb\r\n");
        assert!(matches!(done, Some(Ok(_))));
    }

    #[test]
    fn oversize_is_refused_without_buffering_past_the_limit() {
        let big = vec![b'x'; 5000];
        let mut rx = DataReceiver::new(true, 100);
        let mut out = Vec::new();
        rx.feed(&big, &mut out);
        assert!(out.len() <= 100);
        let (_, done) = rx.feed(b"\r\n.\r\n", &mut out);
        assert_eq!(done, Some(Err(DataError::TooLarge)));
    }

    #[test]
    fn eight_bit_bytes_pass_through() {
        let (out, done, _) = run(true, 1000, &[b"caf\xc3\xa9 \xff\r\n.\r\n"]);
        assert_eq!(out, b"caf\xc3\xa9 \xff\r\n");
        assert!(matches!(done, Some(Ok(_))));
    }
}
