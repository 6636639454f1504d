//! Parsing of conditions (AsyncOS "rules").

use std::net::IpAddr;

use chrono::{NaiveDate, NaiveDateTime};

use super::ParseError;
use super::ast::{
    CmpOp, Condition, ContainsScope, GroupField, IpSpec, MatchOp, SizeField, TextField,
};
use super::lexer::{Tok, Token};
use super::parser::{Parser, keyword};
use super::pattern::Pattern;
use super::unsupported::{self, Kind, Shape, Then, Unsupported};

/// SPF results AsyncOS names (compared case-insensitively).
pub const SPF_VALUES: &[&str] = &[
    "none",
    "neutral",
    "pass",
    "fail",
    "softfail",
    "temperror",
    "permerror",
];
/// DKIM results AsyncOS names (it reports a DKIM `permfail` as `hardfail`).
pub const DKIM_VALUES: &[&str] = &[
    "pass",
    "neutral",
    "fail",
    "hardfail",
    "policy",
    "permerror",
    "temperror",
    "none",
];
/// The SPF identities `spf-status('...')` checks.
pub const SPF_IDENTITIES: &[&str] = &["mailfrom", "helo", "pra"];

/// Size suffixes: binary multiples, as AsyncOS (`10M` is 10 MiB).
pub fn size_multiplier(suffix: &str) -> Option<u64> {
    match suffix {
        "" => Some(1),
        "k" | "K" => Some(1 << 10),
        "m" | "M" => Some(1 << 20),
        "g" | "G" => Some(1 << 30),
        _ => None,
    }
}

impl Parser<'_> {
    pub(super) fn condition(&mut self) -> Result<Condition, ParseError> {
        let mut left = self.and_cond()?;
        while self.peek_kw().as_deref() == Some("or") {
            self.next();
            let right = self.and_cond()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_cond(&mut self) -> Result<Condition, ParseError> {
        let mut left = self.unary()?;
        while self.peek_kw().as_deref() == Some("and") {
            self.next();
            let right = self.unary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, ParseError> {
        self.enter()?;
        let result = if self.peek_kw().as_deref() == Some("not") {
            self.next();
            self.unary().map(|c| Condition::Not(Box::new(c)))
        } else if self.peek().tok == Tok::LParen {
            self.next();
            let c = self.condition()?;
            self.expect(Tok::RParen, "')'")?;
            Ok(c)
        } else {
            self.rule()
        };
        self.leave();
        result
    }

    fn match_op(&mut self, rule: &str) -> Result<MatchOp, ParseError> {
        let t = self.next();
        match t.tok {
            Tok::Op("==") => Ok(MatchOp::Eq),
            Tok::Op("!=") => Ok(MatchOp::Ne),
            ref other => Err(self.err_at(
                &t,
                format!("'{rule}' takes '==' or '!=', found {}", other.describe()),
            )),
        }
    }

    fn cmp_op(&mut self, rule: &str) -> Result<CmpOp, ParseError> {
        let t = self.next();
        Ok(match t.tok {
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            Tok::Op("==") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            ref other => {
                return Err(self.err_at(
                    &t,
                    format!(
                        "'{rule}' takes a comparison (< <= > >= == !=), found {}",
                        other.describe()
                    ),
                ));
            }
        })
    }

    /// A number; `sized` allows the k/M/G suffixes.
    fn number(&mut self, sized: bool) -> Result<(u64, Token), ParseError> {
        let t = self.next();
        let Tok::Number(n, suffix) = &t.tok else {
            return Err(self.err_at(&t, format!("expected a number, found {}", t.tok.describe())));
        };
        let mult = if sized {
            size_multiplier(suffix)
        } else if suffix.is_empty() {
            Some(1)
        } else {
            None
        };
        let Some(mult) = mult else {
            return Err(self.err_at(&t, format!("unknown number suffix '{suffix}'")));
        };
        let v = n
            .checked_mul(mult)
            .ok_or_else(|| self.err_at(&t, "number too large".to_string()))?;
        Ok((v, t))
    }

    fn pattern(&mut self, case_insensitive: bool) -> Result<Pattern, ParseError> {
        let (s, t) = self.string("a regular expression")?;
        Pattern::new(&s, case_insensitive).map_err(|m| self.err_at(&t, m))
    }

    fn open(&mut self, rule: &str) -> Result<(), ParseError> {
        self.expect(Tok::LParen, &format!("'(' after '{rule}'"))
            .map(|_| ())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        self.expect(Tok::RParen, "')'").map(|_| ())
    }

    fn comma(&mut self) -> bool {
        if self.peek().tok == Tok::Comma {
            self.next();
            true
        } else {
            false
        }
    }

    fn rule(&mut self) -> Result<Condition, ParseError> {
        let t = self.next();
        let Tok::Ident(word) = &t.tok else {
            return Err(self.err_at(
                &t,
                format!("expected a condition, found {}", t.tok.describe()),
            ));
        };
        let kw = keyword(word);
        let text = |field| (field, true);
        let field = match kw.as_str() {
            "subject" => Some(text(TextField::Subject)),
            "mail-from" => Some(text(TextField::MailFrom)),
            "rcpt-to" => Some(text(TextField::RcptTo)),
            // Sender group names are case-sensitive in AsyncOS.
            "sendergroup" => Some((TextField::SenderGroup, false)),
            "attachment-filename" => Some(text(TextField::AttachmentFilename)),
            _ => None,
        };
        if let Some((field, ci)) = field {
            let op = self.match_op(&kw)?;
            return Ok(Condition::Text(field, op, self.pattern(ci)?));
        }
        let size = match kw.as_str() {
            "rcpt-count" => Some((SizeField::RcptCount, false)),
            "body-size" => Some((SizeField::BodySize, true)),
            "attachment-size" => Some((SizeField::AttachmentSize, true)),
            _ => None,
        };
        if let Some((field, sized)) = size {
            let op = self.cmp_op(&kw)?;
            return Ok(Condition::Size(field, op, self.number(sized)?.0));
        }
        let scope = match kw.as_str() {
            "body-contains" => Some(ContainsScope::Body),
            "only-body-contains" => Some(ContainsScope::OnlyBody),
            "attachment-contains" => Some(ContainsScope::Attachment),
            _ => None,
        };
        if let Some(scope) = scope {
            self.open(&kw)?;
            // Both `(regex, n)` and AsyncOS's threshold form `(n, regex)`.
            let (pattern, min) = if matches!(self.peek().tok, Tok::Number(..)) {
                let (n, _) = self.number(false)?;
                self.expect(Tok::Comma, "','")?;
                (self.pattern(true)?, n)
            } else {
                let p = self.pattern(true)?;
                let n = if self.comma() {
                    self.number(false)?.0
                } else {
                    1
                };
                (p, n)
            };
            self.close()?;
            let min = u32::try_from(min.max(1))
                .map_err(|_| self.err_at(&t, "threshold too large".to_string()))?;
            return Ok(Condition::Contains {
                scope,
                pattern,
                min,
            });
        }
        match kw.as_str() {
            "true" => Ok(Condition::True),
            "valid" => Ok(Condition::Valid),
            "recv-listener" | "recv-int" => {
                let op = self.match_op(&kw)?;
                let (name, _) = self.string("a name")?;
                Ok(if kw == "recv-int" {
                    Condition::RecvInt(op, name)
                } else {
                    Condition::RecvListener(op, name)
                })
            }
            "remote-ip" => {
                let op = self.match_op(&kw)?;
                let (source, st) = self.string("an address list")?;
                let specs = parse_ip_specs(&source).map_err(|m| self.err_at(&st, m))?;
                Ok(Condition::RemoteIp { op, source, specs })
            }
            "header" => {
                self.open(&kw)?;
                let (name, nt) = self.string("a header name")?;
                check_header_name(&name).map_err(|m| self.err_at(&nt, m))?;
                self.close()?;
                let test = if matches!(self.peek().tok, Tok::Op("==" | "!=")) {
                    let op = self.match_op(&kw)?;
                    Some((op, self.pattern(true)?))
                } else {
                    None
                };
                Ok(Condition::Header { name, test })
            }
            "attachment-type" => {
                let op = self.match_op(&kw)?;
                let (glob, _) = self.string("a MIME type")?;
                Ok(Condition::AttachmentType(op, glob))
            }
            "date" => {
                let op = self.cmp_op(&kw)?;
                let (s, st) = self.string("a date 'MM/DD/YYYY HH:MM:SS'")?;
                let when = parse_date(&s).ok_or_else(|| {
                    self.err_at(
                        &st,
                        format!("invalid date '{s}' (want MM/DD/YYYY HH:MM:SS)"),
                    )
                })?;
                Ok(Condition::Date(op, when))
            }
            "random" => {
                self.open(&kw)?;
                let (range, nt) = self.number(false)?;
                if range == 0 {
                    return Err(self.err_at(&nt, "random() needs a range above 0".to_string()));
                }
                self.close()?;
                let cmp = if matches!(self.peek().tok, Tok::Op(_)) {
                    let op = self.cmp_op(&kw)?;
                    Some((op, self.number(false)?.0))
                } else {
                    None
                };
                Ok(Condition::Random { range, cmp })
            }
            "smtp-auth-id-matches" => {
                self.open(&kw)?;
                let (target, _) =
                    self.string("an address or *EnvelopeFrom, *FromAddress, *Sender, *Any, *None")?;
                let sieve = if self.comma() {
                    Some(self.string("a sieve character")?.0)
                } else {
                    None
                };
                self.close()?;
                Ok(Condition::SmtpAuthIdMatches { target, sieve })
            }
            "addr-count" => {
                self.open(&kw)?;
                let mut headers = Vec::new();
                loop {
                    let (h, ht) = self.string("a header name")?;
                    check_header_name(&h).map_err(|m| self.err_at(&ht, m))?;
                    headers.push(h);
                    if !self.comma() {
                        break;
                    }
                }
                self.close()?;
                let op = self.cmp_op(&kw)?;
                let count = self.number(false)?.0;
                Ok(Condition::AddrCount { headers, op, count })
            }
            "header-repeats" => {
                self.open(&kw)?;
                let (target, _) = self.string("'subject' or 'mail-from'")?;
                self.expect(Tok::Comma, "','")?;
                let threshold = self.number(false)?.0;
                let direction = if self.comma() {
                    let (d, dt) = self.string("'incoming', 'outgoing' or 'all'")?;
                    if !["incoming", "outgoing", "all"].contains(&d.to_ascii_lowercase().as_str()) {
                        return Err(self.err_at(&dt, format!("unknown direction '{d}'")));
                    }
                    Some(d)
                } else {
                    None
                };
                self.close()?;
                Ok(Condition::HeaderRepeats {
                    target,
                    threshold,
                    direction,
                })
            }
            "dnslist" => {
                self.open(&kw)?;
                let (zone, _) = self.string("a DNS list zone")?;
                self.close()?;
                // AsyncOS's second form compares the zone's answer:
                // `dnslist('zone') == '127.0.0.2'`.
                let answer = if matches!(self.peek().tok, Tok::Op("==" | "!=")) {
                    let op = self.match_op(&kw)?;
                    let (text, t) = self.string("the DNS list's answer address")?;
                    let ip = text.trim().parse::<IpAddr>().map_err(|_| {
                        self.err_at(
                            &t,
                            format!(
                                "'dnslist' compares the list's answer with an IP address such as '127.0.0.2', not '{text}'"
                            ),
                        )
                    })?;
                    Some((op, ip))
                } else {
                    None
                };
                Ok(Condition::DnsList { zone, answer })
            }
            "spf-status" => {
                // `spf-status('helo') == ...`: the identity is optional.
                let identity = if self.peek().tok == Tok::LParen {
                    self.open(&kw)?;
                    let (id, it) = self.string("an SPF identity")?;
                    if !SPF_IDENTITIES.contains(&id.to_ascii_lowercase().as_str()) {
                        return Err(self.err_at(
                            &it,
                            format!(
                                "'spf-status' identity must be one of {}",
                                SPF_IDENTITIES.join(", ")
                            ),
                        ));
                    }
                    self.close()?;
                    Some(id)
                } else {
                    None
                };
                let op = self.match_op(&kw)?;
                let (results, rt) = self.string("SPF results")?;
                let bad = results
                    .split(',')
                    .map(str::trim)
                    .find(|r| !SPF_VALUES.contains(&r.to_ascii_lowercase().as_str()));
                if let Some(r) = bad {
                    return Err(self.err_at(
                        &rt,
                        format!(
                            "'spf-status' result '{r}' is not one of {}",
                            SPF_VALUES.join(", ")
                        ),
                    ));
                }
                if self.peek().tok == Tok::Comma {
                    // AsyncOS takes several results in one string.
                    let c = self.peek().clone();
                    return Err(self.err_at(
                        &c,
                        format!(
                            "list the results in one string: \"{results}, ...\" (as AsyncOS writes \"PermError, TempError\")"
                        ),
                    ));
                }
                Ok(Condition::SpfStatus {
                    identity,
                    op,
                    results,
                })
            }
            "spf-passed" => Ok(Condition::SpfPassed),
            "dkim-authentication" => {
                let op = self.match_op(&kw)?;
                let (value, vt) = self.string("a DKIM result")?;
                if !DKIM_VALUES.contains(&value.to_ascii_lowercase().as_str()) {
                    return Err(self.err_at(
                        &vt,
                        format!(
                            "'dkim-authentication' result must be one of {}",
                            DKIM_VALUES.join(", ")
                        ),
                    ));
                }
                Ok(Condition::DkimAuthentication(op, value))
            }
            "mail-from-group" | "rcpt-to-group" => {
                let field = if kw == "rcpt-to-group" {
                    GroupField::RcptTo
                } else {
                    GroupField::MailFrom
                };
                let op = self.match_op(&kw)?;
                let (group, _) = self.string("an LDAP group name")?;
                Ok(Condition::LdapGroup { field, op, group })
            }
            k => match unsupported::find(Kind::Rule, k) {
                Some(u) => Err(self.unsupported_use(u, &t)),
                None => Err(self.err_at(&t, format!("unknown condition '{word}'"))),
            },
        }
    }
}

impl Parser<'_> {
    /// Reads a use of an AsyncOS rule or action Breakwater does not carry
    /// out, by its shape (so a malformed use is a syntax error like any
    /// other), and returns the error that names the gap and its reason,
    /// pointing at the name.
    pub(super) fn unsupported_use(&mut self, u: &Unsupported, name: &Token) -> ParseError {
        match self.unsupported_args(u, name) {
            Ok(()) => self.err_at(name, u.message()),
            Err(e) => e,
        }
    }

    fn unsupported_args(&mut self, u: &Unsupported, name: &Token) -> Result<(), ParseError> {
        match u.shape {
            Shape::Flag => Ok(()),
            Shape::Match => {
                self.match_op(u.name)?;
                self.string("a value").map(|_| ())
            }
            Shape::Compare => {
                self.cmp_op(u.name)?;
                self.any_number()
            }
            Shape::Call { min, max, then } => {
                // Actions always take parentheses; a rule whose arguments
                // are all optional may leave them out.
                if u.kind == Kind::Action || min > 0 || self.peek().tok == Tok::LParen {
                    self.open(u.name)?;
                    let mut n = 0;
                    if self.peek().tok != Tok::RParen {
                        loop {
                            self.any_value(true)?;
                            n += 1;
                            if !self.comma() {
                                break;
                            }
                        }
                    }
                    self.close()?;
                    if n < min || n > max {
                        let want = if min == max {
                            format!("{min}")
                        } else {
                            format!("{min} to {max}")
                        };
                        return Err(self.err_at(
                            name,
                            format!("'{}' takes {want} argument(s), found {n}", u.name),
                        ));
                    }
                }
                let compare = match then {
                    Then::Nothing => false,
                    Then::OptionalMatch => matches!(self.peek().tok, Tok::Op("==" | "!=")),
                };
                if compare {
                    self.match_op(u.name)?;
                    self.string("a value")?;
                }
                Ok(())
            }
        }
    }

    /// A number as AsyncOS writes them in these arguments: `1000`, `10M`,
    /// `-7.5`.
    fn any_number(&mut self) -> Result<(), ParseError> {
        if self.peek().tok == Tok::Minus {
            self.next();
        }
        let t = self.next();
        match t.tok {
            Tok::Number(..) | Tok::Decimal(_) => Ok(()),
            ref other => {
                Err(self.err_at(&t, format!("expected a number, found {}", other.describe())))
            }
        }
    }

    /// A string, a number or (when `list` is allowed) `['a', 'b', ...]`.
    fn any_value(&mut self, list: bool) -> Result<(), ParseError> {
        match self.peek().tok {
            Tok::Str(_) => {
                self.next();
                Ok(())
            }
            Tok::LBracket if list => {
                self.next();
                if self.peek().tok != Tok::RBracket {
                    loop {
                        self.any_value(false)?;
                        if !self.comma() {
                            break;
                        }
                    }
                }
                self.expect(Tok::RBracket, "']'").map(|_| ())
            }
            _ => self.any_number(),
        }
    }
}

pub(super) fn check_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(format!("invalid header name '{name}'"));
    }
    Ok(())
}

fn parse_date(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%m/%d/%Y %H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%m/%d/%Y")
                .ok()?
                .and_hms_opt(0, 0, 0)
        })
}

/// `10.0.0.0/8, 192.168.1.1-20, 172.16., ::1, [2001:db8::]/32`.
pub fn parse_ip_specs(source: &str) -> Result<Vec<IpSpec>, String> {
    let mut out = Vec::new();
    for item in source.split(',') {
        let item = item.trim();
        let bad = || format!("invalid remote-ip '{item}'");
        if item.is_empty() {
            return Err(bad());
        }
        let (addr, len) = match item.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
            None => (item, None),
        };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = addr.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = len.unwrap_or(max);
            if len > max {
                return Err(bad());
            }
            out.push(IpSpec::Cidr(ip, len));
            continue;
        }
        if len.is_some() {
            return Err(bad());
        }
        let parts: Vec<&str> = addr.trim_end_matches('.').split('.').collect();
        if parts.len() > 4 || (parts.len() < 4 && !addr.ends_with('.')) {
            return Err(bad());
        }
        let mut octets = [(0u8, 255u8); 4];
        for (slot, part) in octets.iter_mut().zip(&parts) {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (a.parse::<u8>(), b.parse::<u8>()),
                None => (part.parse::<u8>(), part.parse::<u8>()),
            };
            match (lo, hi) {
                (Ok(lo), Ok(hi)) if lo <= hi => *slot = (lo, hi),
                _ => return Err(bad()),
            }
        }
        out.push(IpSpec::Octets(octets));
    }
    Ok(out)
}
