//! Evaluation of each rule. `!=` is always the negation of `==`: for rules
//! over several values (recipients, attachments, repeated headers) `==` is
//! "any matches" and `!=` is "none matches". A missing header never matches.

use std::net::IpAddr;

use rand::Rng;

use super::ast::{Condition, ContainsScope, IpSpec, MatchOp, SizeField, TextField};
use super::context::MessageContext;
use super::eval::Evaluator;
use super::mime::{Content, count_addresses};
use super::pattern::Pattern;

fn apply(op: MatchOp, matched: bool) -> bool {
    match op {
        MatchOp::Eq => matched,
        MatchOp::Ne => !matched,
    }
}

impl<R: Rng + ?Sized> Evaluator<'_, '_, R> {
    pub(super) fn condition(&mut self, c: &Condition) -> bool {
        let msg = self.msg;
        match c {
            Condition::True => true,
            Condition::Valid => {
                let parts = msg.parts();
                !parts.malformed && parts.limit.is_none()
            }
            Condition::Text(field, op, p) => apply(*op, text_matches(msg, *field, p)),
            Condition::RecvListener(op, name) => apply(*op, msg.listener == *name),
            Condition::RecvInt(op, name) => apply(*op, msg.interface == *name),
            Condition::RemoteIp { op, specs, .. } => {
                apply(*op, specs.iter().any(|s| ip_matches(s, msg.remote_ip)))
            }
            Condition::Header { name, test } => match test {
                None => msg.header_values(name).next().is_some(),
                Some((op, p)) => apply(*op, msg.header_values(name).any(|v| p.is_match(v))),
            },
            Condition::Size(field, op, n) => match field {
                SizeField::RcptCount => op.test(msg.recipients.len() as u64, *n),
                SizeField::BodySize => op.test(msg.raw().len() as u64, *n),
                SizeField::AttachmentSize => msg
                    .parts()
                    .parts
                    .iter()
                    .filter(|p| p.attachment)
                    .any(|p| op.test(p.size as u64, *n)),
            },
            Condition::Contains {
                scope,
                pattern,
                min,
            } => contains(msg, *scope, pattern, *min),
            Condition::AttachmentType(op, glob) => apply(
                *op,
                msg.parts()
                    .parts
                    .iter()
                    .filter(|p| p.attachment)
                    .any(|p| glob_matches(glob, &p.content_type)),
            ),
            // The administrator writes the date in the appliance's zone.
            Condition::Date(op, when) => {
                op.test(breakwater_types::clock::local(msg.now).naive_local(), *when)
            }
            Condition::Random { range, cmp } => {
                let roll = self.rng.random_range(0..*range);
                match cmp {
                    Some((op, n)) => op.test(roll, *n),
                    None => roll == 0,
                }
            }
            Condition::SmtpAuthIdMatches { target, sieve } => {
                auth_id_matches(msg, target, sieve.as_deref())
            }
            Condition::AddrCount { headers, op, count } => {
                let total: usize = headers
                    .iter()
                    .flat_map(|h| msg.header_fields(h))
                    .map(|f| count_addresses(&msg.raw()[f.raw.clone()]))
                    .sum();
                op.test(total as u64, *count)
            }
            Condition::HeaderRepeats {
                target,
                threshold,
                direction,
            } => {
                let value = if target.eq_ignore_ascii_case("mail-from") {
                    msg.envelope_sender.clone()
                } else {
                    msg.header_values(target).next().unwrap_or("").to_string()
                };
                self.lookups
                    .header_repeats(target, &value, direction.as_deref())
                    >= *threshold
            }
            Condition::DnsList { zone, answer } => {
                let found = self.lookups.dnslist(zone, msg.remote_ip);
                match answer {
                    None => !found.is_empty(),
                    Some((op, want)) => found.contains(want) == (*op == MatchOp::Eq),
                }
            }
            // Sender authentication from the gateway's own
            // Authentication-Results header. Not verified (the policy has
            // verification off): as AsyncOS does for a message without a
            // reputation score, no comparison holds, `==` and `!=` alike.
            Condition::SpfStatus {
                identity,
                op,
                results,
            } => msg.auth_results().is_some_and(|r| {
                let found: Vec<&str> = match identity.as_deref().map(str::to_ascii_lowercase) {
                    Some(i) if i == "helo" => r.spf_helo.as_deref().into_iter().collect(),
                    // Sender ID's PRA is not checked (RFC 6686): its result
                    // is the MAIL FROM identity's, as SIDF-compatible has it.
                    Some(_) => r.spf_mailfrom.as_deref().into_iter().collect(),
                    None => r
                        .spf_mailfrom
                        .as_deref()
                        .into_iter()
                        .chain(r.spf_helo.as_deref())
                        .collect(),
                };
                if found.is_empty() {
                    return false;
                }
                let wanted = |f: &str| results.split(',').any(|w| w.trim().eq_ignore_ascii_case(f));
                apply(*op, found.iter().any(|f| wanted(f)))
            }),
            Condition::SpfPassed => msg
                .auth_results()
                .and_then(|r| r.spf_mailfrom.or(r.spf_helo))
                .is_some_and(|s| s == "pass"),
            Condition::DkimAuthentication(op, value) => msg.auth_results().is_some_and(|r| {
                // AsyncOS's `hardfail` is RFC 8601's `fail`; a message
                // without a signature is `none`.
                let want = value.to_ascii_lowercase();
                let want = if want == "hardfail" {
                    "fail".to_string()
                } else {
                    want
                };
                let matched = if r.dkim.is_empty() {
                    want == "none"
                } else {
                    r.dkim.contains(&want)
                };
                apply(*op, matched)
            }),
            // No directory to ask: no comparison holds. `Config::validate`
            // refuses these rules (`unsupported::refusals`).
            Condition::LdapGroup { .. } => false,
            Condition::Not(inner) => !self.condition(inner),
            Condition::And(a, b) => self.condition(a) && self.condition(b),
            Condition::Or(a, b) => self.condition(a) || self.condition(b),
        }
    }
}

fn text_matches(msg: &MessageContext<'_>, field: TextField, p: &Pattern) -> bool {
    match field {
        TextField::Subject => p.is_match(msg.subject()),
        TextField::MailFrom => p.is_match(&msg.envelope_sender),
        TextField::RcptTo => msg.recipients.iter().any(|r| p.is_match(r)),
        TextField::SenderGroup => msg.sender_group.as_deref().is_some_and(|g| p.is_match(g)),
        TextField::AttachmentFilename => msg
            .parts()
            .parts
            .iter()
            .filter_map(|part| part.filename.as_deref())
            .any(|f| p.is_match(f)),
    }
}

fn contains(msg: &MessageContext<'_>, scope: ContainsScope, p: &Pattern, min: u32) -> bool {
    let mut found: u32 = 0;
    for part in &msg.parts().parts {
        let wanted = match scope {
            ContainsScope::Body => true,
            ContainsScope::OnlyBody => !part.attachment,
            ContainsScope::Attachment => part.attachment,
        };
        // A body part is text; binary leaves count only as attachments.
        let text_ok = part.attachment || matches!(part.content, Content::Text(_));
        if !wanted || !text_ok {
            continue;
        }
        if let Some(text) = part.text() {
            let need = min.saturating_sub(found) as usize;
            found += p.regex().find_iter(&text).take(need).count() as u32;
            if found >= min {
                return true;
            }
        }
    }
    // `min` of 1 with no part at all: a single-part message still has a body.
    false
}

pub(crate) fn ip_matches(spec: &IpSpec, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    match (spec, ip) {
        (IpSpec::Cidr(IpAddr::V4(net), len), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
            u32::from(*net) & mask == u32::from(a) & mask
        }
        (IpSpec::Cidr(IpAddr::V6(net), len), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
            u128::from(*net) & mask == u128::from(a) & mask
        }
        (IpSpec::Octets(ranges), IpAddr::V4(a)) => a
            .octets()
            .iter()
            .zip(ranges)
            .all(|(o, (lo, hi))| (lo..=hi).contains(&o)),
        _ => false,
    }
}

/// `image/*`, `*/pdf`, `application/pdf`: case-insensitive, `*` matches
/// any run of characters.
pub(crate) fn glob_matches(glob: &str, value: &str) -> bool {
    let g = glob.to_ascii_lowercase();
    let v = value.to_ascii_lowercase();
    let pieces: Vec<&str> = g.split('*').collect();
    if pieces.len() == 1 {
        return g == v;
    }
    let mut rest = v.as_str();
    for (i, piece) in pieces.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(piece) else {
                return false;
            };
            rest = r;
        } else if i == pieces.len() - 1 {
            return rest.ends_with(piece);
        } else if let Some(pos) = rest.find(piece) {
            rest = &rest[pos + piece.len()..];
        } else {
            return false;
        }
    }
    true
}

/// AsyncOS's `smtp-auth-id-matches`: with no SMTP AUTH identity only
/// `*None` matches. An identity without `@` is compared with the local part
/// of the address; `sieve` cuts the local part at that character
/// (`user+tag` → `user`).
fn auth_id_matches(msg: &MessageContext<'_>, target: &str, sieve: Option<&str>) -> bool {
    let Some(id) = msg.smtp_auth_id.as_deref() else {
        return target.eq_ignore_ascii_case("*None");
    };
    let candidates: Vec<String> = match target.to_ascii_lowercase().as_str() {
        "*none" => return false,
        "*any" => return true,
        "*envelopefrom" => vec![msg.envelope_sender.clone()],
        "*fromaddress" => msg.from_address().into_iter().collect(),
        "*sender" => msg
            .header_values("Sender")
            .map(|v| v.trim_matches(|c| c == '<' || c == '>').to_string())
            .collect(),
        _ => vec![target.to_string()],
    };
    candidates.iter().any(|addr| {
        let (local, domain) = addr.rsplit_once('@').unwrap_or((addr.as_str(), ""));
        let local = match sieve.and_then(|s| s.chars().next()) {
            Some(c) => local.split(c).next().unwrap_or(local),
            None => local,
        };
        match id.rsplit_once('@') {
            Some((il, id_domain)) => {
                il.eq_ignore_ascii_case(local) && id_domain.eq_ignore_ascii_case(domain)
            }
            None => id.eq_ignore_ascii_case(local),
        }
    })
}
