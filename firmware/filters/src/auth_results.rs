//! The gateway's own `Authentication-Results:` header (RFC 8601), read
//! back for the sender authentication rules (`spf-status`, `spf-passed`,
//! `dkim-authentication`). Reception puts it on top of the message, above
//! its `Received:` header, when the mail flow policy verifies anything; a
//! header lower down, or with another authserv-id, was written by someone
//! else and is never trusted ([`MessageContext::auth_results`]).
//!
//! [`MessageContext::auth_results`]: super::context::MessageContext::auth_results

/// The results the header carries, method results in lower case as RFC
/// 8601 writes them (`pass`, `softfail`, `temperror`...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthResults {
    pub authserv_id: String,
    /// `spf=... smtp.helo=...`.
    pub spf_helo: Option<String>,
    /// `spf=... smtp.mailfrom=...`.
    pub spf_mailfrom: Option<String>,
    /// One per `dkim=` result.
    pub dkim: Vec<String>,
    pub dmarc: Option<String>,
}

/// At most this many results are read (the gateway writes four or five
/// plus one per DKIM signature; the header is bounded by the header limits).
const MAX_RESULTS: usize = 64;

/// Parses a header value (unfolded or not). `None` when it has no
/// authserv-id.
pub fn parse(value: &str) -> Option<AuthResults> {
    let mut parts = split_outside_comments(value).into_iter();
    let id = strip_comments(parts.next()?);
    // `authserv-id [version]`.
    let authserv_id = id.split_whitespace().next()?.to_string();
    let mut out = AuthResults {
        authserv_id,
        ..AuthResults::default()
    };
    for part in parts.take(MAX_RESULTS) {
        let plain = strip_comments(part);
        let mut words = plain.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let result = result.to_ascii_lowercase();
        match method.to_ascii_lowercase().as_str() {
            "spf" => {
                let helo = words.any(|w| {
                    w.split_once('=')
                        .is_some_and(|(p, _)| p.eq_ignore_ascii_case("smtp.helo"))
                });
                if helo {
                    out.spf_helo = Some(result);
                } else {
                    out.spf_mailfrom = Some(result);
                }
            }
            "dkim" => out.dkim.push(result),
            "dmarc" => out.dmarc = Some(result),
            _ => {}
        }
    }
    Some(out)
}

/// Splits at `;` outside RFC 5322 comments (which nest) and quoted strings.
fn split_outside_comments(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ';' if depth == 0 && !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// The text without its comments.
fn strip_comments(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    let (mut depth, mut escaped) = (0usize, false);
    for c in part.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_header_reads_back() {
        let h = "gw.test.local;\r\n\tspf=none (gw.test.local: no SPF records found for postmaster@swaks.e2e.test; really) smtp.helo=swaks.e2e.test;\r\n\tspf=pass (gw.test.local: domain of user@x designates 127.0.0.1 as permitted sender) smtp.mailfrom=user@x;\r\n\tdkim=neutral (body hash did not verify) header.i=@x header.s=sel header.b=abc;\r\n\tdkim=pass header.i=@y;\r\n\tdmarc=pass header.from=x policy.dmarc=reject";
        let r = parse(h).expect("parsed");
        assert_eq!(r.authserv_id, "gw.test.local");
        assert_eq!(r.spf_helo.as_deref(), Some("none"));
        assert_eq!(r.spf_mailfrom.as_deref(), Some("pass"));
        assert_eq!(r.dkim, vec!["neutral".to_string(), "pass".to_string()]);
        assert_eq!(r.dmarc.as_deref(), Some("pass"));
    }

    #[test]
    fn odd_input_is_no_panic_and_no_result() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("   ; spf=pass"), None);
        let r = parse("x; ((( spf=pass").expect("id");
        assert_eq!(r.spf_mailfrom, None);
        let r = parse("x; \"a;b\" spf; dkim").expect("id");
        assert!(r.dkim.is_empty());
    }
}
