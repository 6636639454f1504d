//! Encoders for rewritten header values and body parts: RFC 2047 encoded
//! words, quoted-printable, base64; all output uses CRLF.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 4 / 3 + 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 body, 76 characters a line.
pub(crate) fn base64_body(data: &[u8]) -> String {
    let encoded = base64(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for (i, c) in encoded.chars().enumerate() {
        if i > 0 && i % 76 == 0 {
            out.push_str("\r\n");
        }
        out.push(c);
    }
    out.push_str("\r\n");
    out
}

/// Quoted-printable body (RFC 2045): lines of at most 76 characters,
/// trailing white space encoded, hard line breaks as CRLF.
pub(crate) fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines: Vec<&str> = text.split('\n').collect();
    for (li, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let lit =
                ((b == b' ' || b == b'\t') && !last) || ((33..=126).contains(&b) && b != b'=');
            let piece = if lit {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if width + piece.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            width += piece.len();
            out.push_str(&piece);
        }
        if li + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

/// Text with every line ending made CRLF.
pub(crate) fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
    }
    out
}

/// A header field `Name: value\r\n`. CR and LF in the value become spaces
/// (no header injection through a variable); non-ASCII values become
/// RFC 2047 encoded words, folded.
pub(crate) fn header_field(name: &str, value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    if clean.is_ascii() {
        return format!("{name}: {clean}\r\n");
    }
    // 45 bytes of UTF-8 make 60 base64 characters: with the `=?utf-8?B?`
    // wrapper each word stays under the 75-character limit.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in clean.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?utf-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?utf-8?B?{}?=", base64(chunk.as_bytes())));
    }
    format!("{name}: {}\r\n", words.join("\r\n "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoders() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(
            quoted_printable("caf\u{e9} = ok \nx"),
            "caf=C3=A9 =3D ok=20\r\nx"
        );
        let long = "a".repeat(100);
        assert!(quoted_printable(&long).lines().all(|l| l.len() <= 76));
        assert_eq!(header_field("X", "a\r\nBcc: evil"), "X: a  Bcc: evil\r\n");
        assert_eq!(
            header_field("Subject", "é"),
            "Subject: =?utf-8?B?w6k=?=\r\n"
        );
    }
}
