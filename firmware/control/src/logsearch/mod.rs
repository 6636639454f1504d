//! `findevent`, `tail` and `grep`: reading `mail_logs` from the console.
//!
//! The daemon answers these itself, on a blocking thread of the control
//! server, from the files `logging` writes under
//! `<data-dir>/logs/mail_logs/`: the rotated `mail.@<stamp>[.n].s` files,
//! oldest first, then `mail.current`. Nothing here writes. `tail` and
//! `grep` read `system_logs` (`system.*`) and `audit_logs` (`audit.*`) the
//! same way when the log is named, as AsyncOS's do any log by its name;
//! `findevent` reads mail_logs only (the others name no messages).
//!
//! **findevent** works like AsyncOS's: a first pass collects, per MID, the
//! facts the log states (`Start MID m ICID i`, `From:`, `To:`, `Subject`,
//! `Delivery start DCID d MID m`), read with [`MailEvent::parse`] (the
//! type that writes them), selects the messages that match every
//! criterion given, and a second pass prints every line about those
//! messages and about the connections (ICID, DCID) that carried them (by
//! the IDs a line names, whatever its shape, as AsyncOS's does).
//!
//! Bounds, because a console must never wedge the daemon: the logs are at
//! most `(max_files + 1) * max_file_bytes` (110 MiB by default) and read
//! line by line; answers are capped at [`MAX_LINES`] lines; `grep` regexes
//! are compiled with [`REGEX_SIZE_LIMIT`] (the `regex` crate runs in linear
//! time, so no pattern can backtrack catastrophically).
//!
//! Exposure: reached through the owner-only control socket; the patterns
//! and criteria come from an authenticated console user, and every form
//! here is read-only (see `VIEW_FORMS`: read-only users may run them,
//! guests may not). The lines come from files senders influence; the
//! control plane escapes every answer for the terminal (`crate::display`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use breakwater_config::logship::LogName;
use chrono::NaiveDateTime;

use crate::logging::MailEvent;

/// Most lines one answer holds; the rest is summarised.
pub const MAX_LINES: usize = 5000;
/// Compiled-size limit of a `grep` pattern (and of its DFA cache).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Most bytes one `tail --follow` answer carries; the next call continues.
const MAX_FOLLOW_BYTES: u64 = 256 * 1024;
/// Longest line kept; a longer one is cut (log lines are one event each,
/// far shorter, but the files are on disk and could hold anything).
const MAX_LINE: u64 = 64 * 1024;

pub use breakwater_control_proto::usage::FINDEVENT as FINDEVENT_USAGE;
pub use breakwater_control_proto::usage::GREP as GREP_USAGE;
pub use breakwater_control_proto::usage::TAIL as TAIL_USAGE;

/// Runs `findevent`, `tail` or `grep` against the logs of `data_dir`; `None` when
/// `args` is not one of them.
pub fn run(data_dir: &Path, args: &[String]) -> Option<Result<String, String>> {
    let name = args.first()?.to_ascii_lowercase();
    let rest = &args[1..];
    Some(match name.as_str() {
        "findevent" => findevent(&MailLogs::new(data_dir), rest),
        "tail" => tail(data_dir, rest),
        "grep" => grep(data_dir, rest),
        _ => return None,
    })
}

/// The files of one log (mail_logs unless named otherwise) of one data
/// directory.
pub struct MailLogs {
    dir: PathBuf,
    /// The files' prefix (`mail` for `mail.current`, `mail.@...s`).
    prefix: &'static str,
    log: LogName,
}

impl MailLogs {
    pub fn new(data_dir: &Path) -> Self {
        Self::of(data_dir, LogName::MailLogs)
    }

    /// The files of `log`, where `logging` writes them.
    pub fn of(data_dir: &Path, log: LogName) -> Self {
        Self {
            dir: data_dir.join("logs").join(log.name()),
            prefix: match log {
                LogName::MailLogs => "mail",
                LogName::SystemLogs => "system",
                LogName::AuditLogs => "audit",
            },
            log,
        }
    }

    fn current(&self) -> PathBuf {
        self.dir.join(format!("{}.current", self.prefix))
    }

    /// Every file, oldest first: the rotated ones by their stamp, then
    /// `mail.current`. Missing files are simply absent.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut rotated: Vec<((String, u32), PathBuf)> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| {
                        Some((rotated_key(self.prefix, e.file_name().to_str()?)?, e.path()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        rotated.sort();
        let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
        if self.current().is_file() {
            files.push(self.current());
        }
        files
    }

    /// Calls `f` on every line of every file, oldest first.
    fn each_line(&self, mut f: impl FnMut(&str)) {
        for path in self.files() {
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let mut reader = BufReader::new(file);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() != Some(&b'\n') && buf.len() as u64 == MAX_LINE {
                            // Skip the rest of an over-long line.
                            let mut rest = Vec::new();
                            let _ = reader.read_until(b'\n', &mut rest);
                        }
                        let line = String::from_utf8_lossy(&buf);
                        f(line.trim_end_matches(['\r', '\n']));
                    }
                }
            }
        }
    }
}

/// `mail.@20260124T010639.s` → ("20260124T010639", 0); `.2.s` → 2 (for
/// the prefix `mail`).
fn rotated_key(prefix: &str, name: &str) -> Option<(String, u32)> {
    let rest = name
        .strip_prefix(prefix)?
        .strip_prefix(".@")?
        .strip_suffix(".s")?;
    let (stamp, n) = match rest.split_once('.') {
        Some((s, n)) => (s, n.parse().ok()?),
        None => (rest, 0),
    };
    (stamp.len() == 15 && stamp.as_bytes()[8] == b'T').then(|| (stamp.to_string(), n))
}

/// A line's time and its message (the part after `<Level>: `).
fn split_line(line: &str) -> Option<(NaiveDateTime, &str)> {
    let stamp = line.get(..24)?;
    // The logging crate's format (`Wed Dec  6 16:36:48 2026`, 24 wide).
    let time = breakwater_types::clock::parse_log_time(stamp)?;
    let (_, message) = line[24..].split_once(": ")?;
    Some((time, message))
}

fn ids_after(text: &str, key: &str) -> impl Iterator<Item = u64> {
    let mut ids = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(key).map(|i| i + from) {
        from = i + key.len();
        let before_ok = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
        let Some(rest) = text[from..].strip_prefix(' ') else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if before_ok && let Ok(n) = digits.parse() {
            ids.push(n);
        }
    }
    ids.into_iter()
}

/// The MID a message line is about: `MID m`, or AsyncOS's `Message m to
/// RID [...] pending till` which names it without the word.
fn mids_of(message: &str) -> Vec<u64> {
    let mut mids: Vec<u64> = ids_after(message, "MID").collect();
    if let Some(rest) = message.strip_prefix("Message ")
        && let Some((n, _)) = rest.split_once(" to RID")
        && let Ok(n) = n.parse()
    {
        mids.push(n);
    }
    mids
}

/// What the log says about one message.
#[derive(Debug, Default)]
struct MessageFacts {
    start: Option<NaiveDateTime>,
    icid: Option<u64>,
    dcids: Vec<u64>,
    from: Option<String>,
    to: Vec<String>,
    subject: Option<String>,
    message_id: Option<String>,
    /// A Threat Defense copy: the MID it copies. Copies are internal
    /// detail: found only by their own MID.
    copy_of: Option<u64>,
}

#[derive(Debug, Default)]
struct Criteria {
    mid: Option<u64>,
    from: Option<regex::Regex>,
    to: Option<regex::Regex>,
    subject: Option<regex::Regex>,
    message_id: Option<String>,
    sender_ip: Option<std::net::IpAddr>,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    /// `--json`: the messages as JSON (the web UI and the API read it).
    json: bool,
}

impl Criteria {
    /// `address`: the sender IP of the message's connection, if logged.
    fn matches(&self, mid: u64, f: &MessageFacts, address: Option<&std::net::IpAddr>) -> bool {
        let has = |value: &str, wanted: &str| {
            value
                .to_ascii_lowercase()
                .contains(&wanted.to_ascii_lowercase())
        };
        self.mid.is_none_or(|m| m == mid)
            && (f.copy_of.is_none() || self.mid == Some(mid))
            && self
                .from
                .as_ref()
                .is_none_or(|w| f.from.as_deref().is_some_and(|v| w.is_match(v)))
            && self
                .to
                .as_ref()
                .is_none_or(|w| f.to.iter().any(|v| w.is_match(v)))
            && self
                .subject
                .as_ref()
                .is_none_or(|w| f.subject.as_deref().is_some_and(|v| w.is_match(v)))
            && self.message_id.as_deref().is_none_or(|w| {
                let w = w.trim_start_matches('<').trim_end_matches('>');
                f.message_id.as_deref().is_some_and(|v| has(v, w))
            })
            && self.sender_ip.is_none_or(|ip| address == Some(&ip))
            && self.since.is_none_or(|s| f.start.is_some_and(|t| t >= s))
            && self.until.is_none_or(|u| f.start.is_some_and(|t| t <= u))
    }
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS` (or with `T`),
/// or a time ago: `24h`, `7d` (Message Tracking's "Last Day" and "Last 7
/// Days").
fn parse_time(text: &str, end_of_day: bool) -> Result<NaiveDateTime, String> {
    // Log lines hold the appliance's local time, so "24h ago" is too.
    parse_time_at(
        text,
        end_of_day,
        breakwater_types::clock::now().naive_local(),
    )
}

fn parse_time_at(
    text: &str,
    end_of_day: bool,
    now: NaiveDateTime,
) -> Result<NaiveDateTime, String> {
    let trimmed = text.trim();
    if let Some((n, unit)) = trimmed
        .strip_suffix(['h', 'H'])
        .map(|n| (n, 3600))
        .or_else(|| trimmed.strip_suffix(['d', 'D']).map(|n| (n, 86400)))
        && let Ok(n) = n.parse::<u32>()
        && n <= 3660
    {
        return Ok(now - chrono::Duration::seconds(i64::from(n) * unit));
    }
    let t = trimmed.replace('T', " ");
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(&t, f) {
            return Ok(d);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
        let time = if end_of_day {
            d.and_hms_opt(23, 59, 59)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        if let Some(t) = time {
            return Ok(t);
        }
    }
    Err(format!(
        "'{text}' is not a time: use YYYY-MM-DD, YYYY-MM-DD HH:MM, YYYY-MM-DD HH:MM:SS, or a time ago (24h, 7d)."
    ))
}

/// A text criterion of `findevent`: AsyncOS's short flags (`-f`, `-s`,
/// `-t`) take a regular expression, case-sensitive unless `-i` is given;
/// the long options (`--from`, ...) take part of the value, any case.
#[derive(Debug)]
enum TextCriterion {
    Regex(String),
    Part(String),
}

impl TextCriterion {
    fn compile(&self, insensitive: bool) -> Result<regex::Regex, String> {
        let (pattern, insensitive) = match self {
            TextCriterion::Regex(p) => (p.clone(), insensitive),
            TextCriterion::Part(p) => (regex::escape(p), true),
        };
        compile_regex(&pattern, insensitive)
    }
}

/// A user's pattern, bounded by [`REGEX_SIZE_LIMIT`].
fn compile_regex(pattern: &str, insensitive: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("Invalid regular expression: {e}"))
}

/// The log a search command names, among the ones it reads (AsyncOS's
/// names); other names are refused, not ignored.
fn check_log_name(name: &str, usage: &str, reads: &[LogName]) -> Result<LogName, String> {
    LogName::parse(name)
        .filter(|l| reads.contains(l))
        .ok_or_else(|| {
            let names: Vec<&str> = reads.iter().map(|l| l.name()).collect();
            format!(
                "Unknown log '{name}'. The logs this command reads: {}.\n{usage}",
                names.join(", ")
            )
        })
}

fn parse_criteria(args: &[String]) -> Result<Criteria, String> {
    // Every option below sets a criterion or is refused: no argument, no criterion.
    if args.is_empty() {
        return Err(FINDEVENT_USAGE.to_string());
    }
    let mut c = Criteria::default();
    let (mut from, mut to, mut subject) = (None, None, None);
    let mut insensitive = false;
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        // AsyncOS's flags are one dash and one letter; ours are long.
        let short = opt.len() == 2 && opt.starts_with('-');
        let key = opt.trim_start_matches('-').to_ascii_lowercase();
        if key == "json" {
            c.json = true;
            continue;
        }
        if short && key == "i" {
            insensitive = true;
            continue;
        }
        if !opt.starts_with('-') {
            // AsyncOS's trailing log name.
            check_log_name(opt, FINDEVENT_USAGE, &[LogName::MailLogs])?;
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{opt} needs a value.\n{FINDEVENT_USAGE}"))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{opt} needs a value.\n{FINDEVENT_USAGE}"));
        }
        let text = |v: &str| {
            if short {
                TextCriterion::Regex(v.to_string())
            } else {
                TextCriterion::Part(v.to_string())
            }
        };
        match key.as_str() {
            "mid" | "m" => {
                c.mid = Some(
                    value
                        .parse()
                        .map_err(|_| format!("'{value}' is not a MID (a number)."))?,
                )
            }
            "from" | "sender" | "f" => from = Some(text(value)),
            "to" | "recipient" | "rcpt" | "t" => to = Some(text(value)),
            "subject" | "s" => subject = Some(text(value)),
            "message-id" | "message_id" | "messageid" => c.message_id = Some(value.to_string()),
            "ip" | "sender-ip" | "sender_ip" => {
                c.sender_ip = Some(
                    value
                        .parse()
                        .map_err(|_| format!("'{value}' is not an IP address."))?,
                )
            }
            "since" | "after" => c.since = Some(parse_time(value, false)?),
            "until" | "before" => c.until = Some(parse_time(value, true)?),
            _ => return Err(FINDEVENT_USAGE.to_string()),
        }
    }
    c.from = from.map(|t| t.compile(insensitive)).transpose()?;
    c.to = to.map(|t| t.compile(insensitive)).transpose()?;
    c.subject = subject.map(|t| t.compile(insensitive)).transpose()?;
    let criteria_given = c.mid.is_some()
        || c.from.is_some()
        || c.to.is_some()
        || c.subject.is_some()
        || c.message_id.is_some()
        || c.sender_ip.is_some()
        || c.since.is_some()
        || c.until.is_some();
    if !criteria_given {
        return Err(FINDEVENT_USAGE.to_string());
    }
    Ok(c)
}

fn findevent(logs: &MailLogs, args: &[String]) -> Result<String, String> {
    let criteria = parse_criteria(args)?;
    let mut facts: HashMap<u64, MessageFacts> = HashMap::new();
    let mut addresses: HashMap<u64, std::net::IpAddr> = HashMap::new();
    logs.each_line(|line| {
        let Some((time, msg)) = split_line(line) else {
            return;
        };
        use MailEvent as E;
        match MailEvent::parse(msg) {
            Some(E::NewSmtpIcid { icid, address, .. }) => {
                addresses.insert(icid.0, address);
            }
            Some(E::MessageId { mid, message_id }) => {
                facts.entry(mid.0).or_default().message_id = Some(message_id);
            }
            Some(E::TdcEnqueued {
                mid,
                message_id,
                original,
            }) => {
                let f = facts.entry(mid.0).or_default();
                f.message_id = Some(message_id);
                f.copy_of = Some(original.0);
            }
            Some(E::StartMid { mid, icid }) => {
                let f = facts.entry(mid.0).or_default();
                f.start = Some(time);
                f.icid = Some(icid.0);
            }
            Some(E::DeliveryStart { dcid, mid, .. }) => {
                let f = facts.entry(mid.0).or_default();
                if !f.dcids.contains(&dcid.0) {
                    f.dcids.push(dcid.0);
                }
            }
            Some(E::From { mid, address, .. }) => {
                facts.entry(mid.0).or_default().from = Some(address);
            }
            // A refused recipient is still one the sender addressed.
            Some(
                E::To { mid, address, .. }
                | E::ToRejectedTrick { mid, address, .. }
                | E::ToRejectedByRat { mid, address, .. }
                | E::ToRejectedRate { mid, address, .. }
                | E::InvalidBounceRejected { mid, address, .. }
                | E::BounceTagVerified { mid, address, .. }
                | E::ToRejectedByCallAhead { mid, address, .. },
            ) => facts.entry(mid.0).or_default().to.push(address),
            Some(E::Subject { mid, subject }) => {
                facts.entry(mid.0).or_default().subject = Some(subject);
            }
            _ => {}
        }
    });
    let mut mids: Vec<u64> = facts
        .iter()
        .filter(|(mid, f)| {
            let address = f.icid.and_then(|i| addresses.get(&i));
            criteria.matches(**mid, f, address)
        })
        .map(|(mid, _)| *mid)
        .collect();
    mids.sort_unstable();
    if criteria.json {
        return json::answer(logs, &facts, mids);
    }
    if mids.is_empty() {
        return Ok("No message in mail_logs matches.".to_string());
    }
    let wanted: HashSet<u64> = mids.iter().copied().collect();
    let copies = copies_of(&facts, &wanted);
    let icids: HashSet<u64> = mids.iter().filter_map(|m| facts[m].icid).collect();
    let dcids: HashSet<u64> = mids
        .iter()
        .flat_map(|m| facts[m].dcids.iter().copied())
        .collect();
    let mut out = Lines::default();
    logs.each_line(|line| {
        let Some((_, msg)) = split_line(line) else {
            return;
        };
        // A line naming another message of the same connection is about
        // that message, not this one.
        let line_mids = mids_of(msg);
        let hit = if line_mids.is_empty() {
            ids_after(msg, "ICID").any(|i| icids.contains(&i))
                || ids_after(msg, "DCID").any(|d| dcids.contains(&d))
        } else {
            line_mids.iter().any(|m| wanted.contains(m))
                || copy_outcome(msg, &line_mids, &copies).is_some()
        };
        if hit {
            out.push(line);
        }
    });
    let list: Vec<String> = mids.iter().map(u64::to_string).collect();
    let tracked = tracking::track(logs, &mids, &facts);
    Ok(format!(
        "{} message(s) found: MID {}\n\n{}\n{}{}",
        mids.len(),
        list.join(", "),
        out.finish(),
        tracking::summaries(&tracked),
        tracking::details(&tracked, &facts),
    ))
}

/// The Threat Defense copies of the messages in `wanted`: copy -> original.
fn copies_of(facts: &HashMap<u64, MessageFacts>, wanted: &HashSet<u64>) -> HashMap<u64, u64> {
    facts
        .iter()
        .filter_map(|(mid, f)| Some((*mid, f.copy_of.filter(|o| wanted.contains(o))?)))
        .collect()
}

/// The original a line is about when it is the outcome of one of its
/// Threat Defense `copies` (the original's tracking shows that line; the
/// copy's other lines are its own).
fn copy_outcome(msg: &str, line_mids: &[u64], copies: &HashMap<u64, u64>) -> Option<u64> {
    let original = line_mids.iter().find_map(|m| copies.get(m))?;
    MailEvent::parse(msg)
        .filter(tracking::is_tdc_outcome)
        .map(|_| *original)
}

/// Collected answer lines, capped at [`MAX_LINES`].
#[derive(Default)]
struct Lines {
    text: String,
    count: usize,
    max: Option<usize>,
}

impl Lines {
    fn push(&mut self, line: &str) {
        self.count += 1;
        if self.count <= self.max.unwrap_or(MAX_LINES) {
            self.text.push_str(line);
            self.text.push('\n');
        }
    }

    fn finish(self) -> String {
        let max = self.max.unwrap_or(MAX_LINES);
        let mut text = self.text;
        if self.count > max {
            text.push_str(&format!(
                "[... {} more line(s) not shown; narrow the search]\n",
                self.count - max
            ));
        }
        text
    }
}

/// Most context lines `grep -C` shows around a match.
pub const MAX_CONTEXT: usize = 10;

fn grep(data_dir: &Path, args: &[String]) -> Result<String, String> {
    let mut insensitive = false;
    let mut max = MAX_LINES;
    let mut context = 0usize;
    let mut pattern: Option<&str> = None;
    let mut log: Option<LogName> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-i" => insensitive = true,
            // The console pages every answer already.
            "-p" => {}
            "-e" => {
                let p = it.next().ok_or_else(|| GREP_USAGE.to_string())?;
                if pattern.replace(p).is_some() {
                    return Err(GREP_USAGE.to_string());
                }
            }
            "-C" => {
                let n = it.next().ok_or_else(|| GREP_USAGE.to_string())?;
                context = n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= MAX_CONTEXT)
                    .ok_or_else(|| format!("-C must be a number from 0 to {MAX_CONTEXT}."))?;
            }
            "-t" => {
                return Err(format!(
                    "grep -t (follow) is not available: run tail -f at the console and search its output.\n{GREP_USAGE}"
                ));
            }
            "--max" => {
                let n = it.next().ok_or_else(|| GREP_USAGE.to_string())?;
                max = n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LINES).contains(n))
                    .ok_or_else(|| format!("--max must be a number from 1 to {MAX_LINES}."))?;
            }
            // AsyncOS's form ends with the log's name; a regex may be
            // `mail_logs` too, so the name counts only after a pattern.
            l if pattern.is_some() && log.is_none() && !l.starts_with('-') => {
                log = Some(check_log_name(l, GREP_USAGE, &LogName::ALL)?);
            }
            p if pattern.is_none() && !p.starts_with('-') => pattern = Some(p),
            _ => return Err(GREP_USAGE.to_string()),
        }
    }
    let Some(pattern) = pattern.filter(|p| !p.is_empty()) else {
        return Err(GREP_USAGE.to_string());
    };
    let re = compile_regex(pattern, insensitive)?;
    let logs = MailLogs::of(data_dir, log.unwrap_or(LogName::MailLogs));
    let mut out = Lines {
        max: Some(max),
        ..Lines::default()
    };
    let mut matches = 0usize;
    // The lines before the next match (`-C`), and how many after the last
    // one are still to print.
    let mut before: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut after = 0usize;
    let mut last_printed: Option<usize> = None;
    let mut number = 0usize;
    logs.each_line(|line| {
        number += 1;
        if re.is_match(line) {
            matches += 1;
            // A gap between groups of context, as grep(1) marks it.
            let first = number - before.len();
            if context > 0 && last_printed.is_some_and(|l| l + 1 < first) {
                out.push("--");
            }
            for b in before.drain(..) {
                out.push(&b);
            }
            out.push(line);
            last_printed = Some(number);
            after = context;
        } else if after > 0 {
            out.push(line);
            last_printed = Some(number);
            after -= 1;
        } else if context > 0 {
            before.push_back(line.to_string());
            if before.len() > context {
                before.pop_front();
            }
        }
    });
    if matches == 0 {
        return Ok(format!("No line of {} matches.", logs.log.name()));
    }
    Ok(out.finish())
}

/// Where a follower has read up to: the inode of the file that was
/// `mail.current` and the offset in it. Rotation renames the file, so the
/// inode still finds the rest of it among the rotated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub inode: u64,
    pub offset: u64,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.inode, self.offset)
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, o) = s.split_once(':').ok_or("a cursor is INODE:OFFSET")?;
        Ok(Cursor {
            inode: i.parse().map_err(|_| "bad inode")?,
            offset: o.parse().map_err(|_| "bad offset")?,
        })
    }
}

/// The first line of a `tail --follow` answer (the console reads it).
pub use breakwater_control_proto::TAIL_CURSOR_PREFIX as CURSOR_PREFIX;

fn tail(data_dir: &Path, args: &[String]) -> Result<String, String> {
    let mail = MailLogs::new(data_dir);
    let count = |s: Option<&String>| -> Result<usize, String> {
        match s {
            None => Ok(20),
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LINES).contains(n))
                .ok_or_else(|| {
                    format!("The number of lines must be 1 to {MAX_LINES}.\n{TAIL_USAGE}")
                }),
        }
    };
    match args {
        [] => Ok(last_lines(&mail, count(None)?)),
        // Console-internal: `tail --follow start [N] [LOG]` gives the last N
        // lines and a cursor; `tail --follow CURSOR [LOG]` what was written
        // since.
        [f, rest @ ..] if f == "--follow" => {
            let (rest, logs) = match rest {
                [head @ .., l] if LogName::parse(l).is_some() => (
                    head,
                    MailLogs::of(data_dir, check_log_name(l, TAIL_USAGE, &LogName::ALL)?),
                ),
                _ => (rest, mail),
            };
            let (cursor, text) = match rest {
                [start] | [start, _] if start == "start" => {
                    let text = last_lines(&logs, count(rest.get(1))?);
                    (end_cursor(&logs), text)
                }
                [c] => follow(&logs, c.parse()?),
                _ => return Err(TAIL_USAGE.to_string()),
            };
            Ok(format!("{CURSOR_PREFIX}{cursor}\n{text}"))
        }
        // AsyncOS's forms: `tail mail_logs` (or another log's name), and a
        // count: `tail N`, `tail -n N [LOG]`, `tail LOG N`.
        _ => {
            let mut n = None;
            let mut log = None;
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "-n" {
                    n = Some(it.next().ok_or_else(|| TAIL_USAGE.to_string())?);
                } else if a.bytes().all(|b| b.is_ascii_digit()) && n.is_none() {
                    n = Some(a);
                } else if a.starts_with('-') {
                    return Err(TAIL_USAGE.to_string());
                } else if log.is_none() {
                    log = Some(check_log_name(a, TAIL_USAGE, &LogName::ALL)?);
                } else {
                    return Err(TAIL_USAGE.to_string());
                }
            }
            let logs = MailLogs::of(data_dir, log.unwrap_or(LogName::MailLogs));
            Ok(last_lines(&logs, count(n)?))
        }
    }
}

/// The last `n` lines over all files (usually all in `mail.current`).
fn last_lines(logs: &MailLogs, n: usize) -> String {
    let mut kept: Vec<String> = Vec::new();
    for path in logs.files().iter().rev() {
        let Ok(mut file) = File::open(path) else {
            continue;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        // Lines are a few hundred bytes; read a generous tail of the file.
        let want = (n as u64 + 1).saturating_mul(1024).min(len);
        if file.seek(SeekFrom::Start(len - want)).is_err() {
            continue;
        }
        let mut buf = Vec::new();
        if file.read_to_end(&mut buf).is_err() {
            continue;
        }
        let text = String::from_utf8_lossy(&buf);
        let mut lines: Vec<&str> = text.lines().collect();
        if want < len && !lines.is_empty() {
            lines.remove(0); // a partial first line
        }
        let take = (n - kept.len()).min(lines.len());
        let mut these: Vec<String> = lines[lines.len() - take..]
            .iter()
            .map(|s| s.to_string())
            .collect();
        these.append(&mut kept);
        kept = these;
        if kept.len() >= n {
            break;
        }
    }
    if kept.is_empty() {
        return String::new();
    }
    kept.join("\n") + "\n"
}

fn end_cursor(logs: &MailLogs) -> Cursor {
    std::fs::metadata(logs.current())
        .map(|m| Cursor {
            inode: m.ino(),
            offset: m.len(),
        })
        .unwrap_or_default()
}

/// Reads whole lines from `offset`, at most [`MAX_FOLLOW_BYTES`]; returns
/// the text and the offset after it.
fn read_from(path: &Path, offset: u64) -> (String, u64) {
    let Ok(mut file) = File::open(path) else {
        return (String::new(), offset);
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len <= offset || file.seek(SeekFrom::Start(offset)).is_err() {
        return (String::new(), offset.min(len));
    }
    let mut buf = Vec::new();
    if file.take(MAX_FOLLOW_BYTES).read_to_end(&mut buf).is_err() {
        return (String::new(), offset);
    }
    // Only whole lines: the writer may be halfway through one.
    let whole = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    buf.truncate(whole);
    (
        String::from_utf8_lossy(&buf).into_owned(),
        offset + whole as u64,
    )
}

fn follow(logs: &MailLogs, cursor: Cursor) -> (Cursor, String) {
    let end = end_cursor(logs);
    if end.inode == cursor.inode {
        let (text, offset) = read_from(&logs.current(), cursor.offset);
        return (Cursor { offset, ..cursor }, text);
    }
    // Rotated since: the rest of the old file, then the new one.
    let mut text = String::new();
    let old = logs
        .files()
        .into_iter()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.ino() == cursor.inode));
    if let Some(old) = old {
        let (rest, offset) = read_from(&old, cursor.offset);
        let done = std::fs::metadata(&old).is_ok_and(|m| m.len() <= offset);
        text.push_str(&rest);
        if !done {
            return (Cursor { offset, ..cursor }, text);
        }
    }
    let (new, offset) = read_from(&logs.current(), 0);
    text.push_str(&new);
    (Cursor { offset, ..end }, text)
}

mod json;
pub use json::MAX_MESSAGES;
mod tracking;

#[cfg(test)]
mod tests;
