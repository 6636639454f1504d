//! The pure parts of the API: HTTP Basic credentials, the tracking query
//! turned into `findevent --json` words, and the catalog commands' text answers
//! read into JSON rows where their layout is fixed (`commitlog`,
//! `status`, `tophosts`, `quarantine list`). Those answers also keep the
//! command's text, so nothing is lost when a layout grows a column
//! (tracking needs no scraping: `findevent --json` is already JSON).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `Authorization: Basic BASE64(user:pass)` → `(user, pass)`.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.trim().to_ascii_lowercase(), pass.to_string()))
}

/// `Authorization: Bearer TOKEN` → `TOKEN`.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `Authorization: Cluster TOKEN` → `TOKEN`: another member of this
/// appliance's cluster (docs/api.md, "Between cluster members").
pub fn cluster_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("cluster")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Standard base64 (RFC 4648 §4), padding optional; `None` on any other
/// character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The query of `GET /api/v1/tracking`.
#[derive(Debug, Default, Deserialize)]
pub struct TrackingQuery {
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub mid: Option<String>,
    pub message_id: Option<String>,
    pub sender_ip: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// The `findevent --json` words of a tracking query, one option per
/// criterion given (empty ones are not criteria). `findevent` checks the
/// values (a MID is a number, times are `YYYY-MM-DD[ HH:MM[:SS]]`) and
/// refuses a search with no criterion, so its words are the only ones.
pub fn findevent_words(q: &TrackingQuery) -> Vec<String> {
    let mut words = vec!["findevent".to_string(), "--json".to_string()];
    let criteria = [
        ("--from", &q.sender),
        ("--to", &q.recipient),
        ("--subject", &q.subject),
        ("--mid", &q.mid),
        ("--message-id", &q.message_id),
        ("--ip", &q.sender_ip),
        ("--since", &q.since),
        ("--until", &q.until),
    ];
    for (option, value) in criteria {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            words.push(option.to_string());
            words.push(v.to_string());
        }
    }
    words
}

/// One row of `commitlog`.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct CommitRow {
    pub number: u64,
    pub date: String,
    pub user: String,
    pub comment: String,
}

/// `commitlog`'s table (`#  Date  User  Comment`, dates as
/// `Tue Nov 24 01:20:02 2026 GMT`); `None` when a row does not have that
/// shape.
pub fn commit_rows(text: &str) -> Option<Vec<CommitRow>> {
    let mut lines = text.lines();
    let header = lines.next()?;
    if !header.trim_start().starts_with('#') {
        return None;
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut rest = line.trim_start();
            let mut word = || -> Option<&str> {
                let (w, r) = rest.split_once(' ').unwrap_or((rest, ""));
                rest = r.trim_start();
                (!w.is_empty()).then_some(w)
            };
            let number = word()?.parse().ok()?;
            let date: Vec<&str> = (0..6).map(|_| word()).collect::<Option<_>>()?;
            let user = word()?.to_string();
            Some(CommitRow {
                number,
                date: date.join(" "),
                user,
                comment: rest.to_string(),
            })
        })
        .collect()
}

/// The `Name: value` lines of `status` (host name, version, queue
/// counts...), the first of each name.
pub fn status_fields(text: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    for line in text.lines() {
        let Some((name, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim();
        let plain = !name.is_empty()
            && name.len() <= 40
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
            && name != "Warning";
        if plain && !value.is_empty() && !fields.contains_key(name) {
            fields.insert(name.to_string(), Value::String(value.to_string()));
        }
    }
    fields
}

pub use breakwater_control_proto::tophosts::{HostRow, tophosts_rows};

/// One quarantine of `quarantine list`.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct QuarantineRow {
    pub name: String,
    pub messages: u64,
    pub bytes: u64,
    pub maximum: String,
    /// `12.5%`.
    pub percent_full: String,
    /// `Release` or `Delete`: on expiry and when full.
    pub default_action: String,
}

/// One held message of `quarantine list`.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct HeldRow {
    pub mid: u64,
    pub quarantine: String,
    /// When it leaves by itself: `2026-11-24 01:20:02 UTC`, or `never`
    /// when its quarantine is no longer configured.
    pub scheduled_exit: String,
    pub size: u64,
    pub sender: String,
    pub subject: String,
}

/// `quarantine list`: the quarantines' table, then the held messages
/// (`MID  Quarantine  Scheduled exit  Size  From / Subject`); `None` when a
/// row does not have that shape.
pub fn quarantine_rows(text: &str) -> Option<(Vec<QuarantineRow>, Vec<HeldRow>)> {
    let mut lines = text.lines();
    if !lines.next()?.starts_with("Quarantine") {
        return None;
    }
    let mut quarantines = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [name, messages, bytes, maximum, full, action] = f.as_slice() else {
            return None;
        };
        quarantines.push(QuarantineRow {
            name: (*name).to_string(),
            messages: messages.parse().ok()?,
            bytes: bytes.parse().ok()?,
            maximum: (*maximum).to_string(),
            percent_full: (*full).to_string(),
            default_action: (*action).to_string(),
        });
    }
    let mut held = Vec::new();
    for line in lines {
        let t = line.trim();
        if t.is_empty() || t.starts_with("MID") || t == "No messages are held." {
            continue;
        }
        let mut rest = t;
        let mut word = || -> Option<&str> {
            let (w, r) = rest.split_once(' ')?;
            rest = r.trim_start();
            Some(w)
        };
        let mid = word()?.parse().ok()?;
        let quarantine = word()?.to_string();
        let mut exit = vec![word()?];
        if exit[0] != "never" {
            exit.push(word()?);
            exit.push(word()?);
        }
        let size = word()?.parse().ok()?;
        let envelope = rest.strip_prefix('<')?;
        let end = envelope.find('>')?;
        held.push(HeldRow {
            mid,
            quarantine,
            scheduled_exit: exit.join(" "),
            size,
            sender: envelope[..end].to_string(),
            subject: envelope[end + 1..].trim().to_string(),
        });
    }
    Some((quarantines, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_and_bearer_tokens_are_read_from_their_headers() {
        // "admin:pass:word" (a colon in the passphrase is the passphrase's).
        assert_eq!(
            basic_credentials("Basic YWRtaW46cGFzczp3b3Jk"),
            Some(("admin".into(), "pass:word".into()))
        );
        assert_eq!(
            basic_credentials("basic QWRtaW46eA=="),
            Some(("admin".into(), "x".into()))
        );
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(bearer_token("Bearer abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(cluster_token("Cluster 0f1e "), Some("0f1e"));
        assert_eq!(cluster_token("cluster 0f1e"), Some("0f1e"));
        assert_eq!(cluster_token("Cluster  "), None);
        assert_eq!(cluster_token("Bearer 0f1e"), None);
        assert_eq!(bearer_token("Cluster 0f1e"), None);
    }

    #[test]
    fn a_tracking_query_becomes_findevent_options() {
        let q = TrackingQuery {
            sender: Some("friend@internet.example".into()),
            subject: Some("  ".into()),
            mid: Some("12".into()),
            message_id: Some("abc@example.com".into()),
            sender_ip: Some("127.5.1.7".into()),
            since: Some("2026-11-24 01:00".into()),
            ..TrackingQuery::default()
        };
        assert_eq!(
            findevent_words(&q),
            [
                "findevent",
                "--json",
                "--from",
                "friend@internet.example",
                "--mid",
                "12",
                "--message-id",
                "abc@example.com",
                "--ip",
                "127.5.1.7",
                "--since",
                "2026-11-24 01:00"
            ]
        );
        assert_eq!(
            findevent_words(&TrackingQuery::default()),
            ["findevent", "--json"]
        );
    }

    #[test]
    fn commitlog_rows_keep_the_comment_whole() {
        let text = " #  Date                          User   Comment\n 1  Tue Nov 24 01:20:02 2026 GMT  admin  factory\n10  Tue Nov 24 01:24:20 2026 GMT  ops    inbound for  your_domain.com\n11  Tue Nov 24 01:25:00 2026 GMT  admin";
        let rows = commit_rows(text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            CommitRow {
                number: 10,
                date: "Tue Nov 24 01:24:20 2026 GMT".into(),
                user: "ops".into(),
                comment: "inbound for  your_domain.com".into()
            }
        );
        assert_eq!(rows[2].comment, "");
        assert_eq!(commit_rows("something else\n1 x"), None);
    }

    #[test]
    fn status_fields_are_its_name_value_lines() {
        let text = "Status as of: Tue Nov 24 01:20:02 2026\nHost name: gw.test.local\nQueue:\n  Messages in queue: 3\n  Warning: port busy\n  IncomingMail     127.1.1.1:2525   0 connection(s)\n";
        let f = status_fields(text);
        assert_eq!(f["Host name"], "gw.test.local");
        assert_eq!(f["Status as of"], "Tue Nov 24 01:20:02 2026");
        assert_eq!(f["Messages in queue"], "3");
        assert!(!f.contains_key("Queue") && !f.contains_key("Warning"));
    }

    #[test]
    fn tophosts_rows_are_the_seeds_columns() {
        let text = "Status as of:                Tue Nov 24 02:10:00 2026 UTC\nHosts marked with '*' were down as of the last delivery attempt.\n\n#   Recipient Host                Active   Conn.    Deliv.     Soft     Hard\n#   Recipient Host                Recip.     Out    Recip.  Bounced  Bounced\n1   your_domain.com                    1       0   104,163        0        0\n2   *the.tdc.queue                     0       0         5        1        0\n";
        let rows = tophosts_rows(text).unwrap();
        assert_eq!(rows[0].delivered_recipients, 104_163);
        assert_eq!(rows[1].host, "the.tdc.queue");
        assert!(rows[1].down && rows[1].soft_bounced == 1);
        assert_eq!(tophosts_rows("no table"), None);
    }

    #[test]
    fn quarantine_list_rows() {
        let text = "Quarantine            Messages        Size  Maximum  % Full  Default action\nPolicy                       1         532     512M    0.0%  Release\nVirus                        0           0     512M    0.0%  Delete\n\n     MID  Quarantine  Scheduled exit             Size  From / Subject\n       7  Policy      2026-11-24 01:20:02 UTC    532  <friend@internet.example> e2e hold-me\n       8  Gone        never                      100  <a@b.example> x\n";
        let (q, held) = quarantine_rows(text).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].messages, 1);
        assert_eq!(q[1].default_action, "Delete");
        assert_eq!(
            held,
            [
                HeldRow {
                    mid: 7,
                    quarantine: "Policy".into(),
                    scheduled_exit: "2026-11-24 01:20:02 UTC".into(),
                    size: 532,
                    sender: "friend@internet.example".into(),
                    subject: "e2e hold-me".into()
                },
                HeldRow {
                    mid: 8,
                    quarantine: "Gone".into(),
                    scheduled_exit: "never".into(),
                    size: 100,
                    sender: "a@b.example".into(),
                    subject: "x".into()
                }
            ]
        );
        let empty = "Quarantine            Messages        Size  Maximum  % Full  Default action\nPolicy                       0           0     512M    0.0%  Release\n\nNo messages are held.\n";
        assert!(quarantine_rows(empty).unwrap().1.is_empty());
    }
}
