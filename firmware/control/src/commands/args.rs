//! Helpers every command family shares: `--option value` parsing, numbers
//! and sizes, names and texts, and the staging step each change ends with.

use std::net::IpAddr;
use std::str::FromStr;

use super::{CliError, CommandContext};
use crate::config::{Config, ListenerConfig};

/// Appended to every change's message: AsyncOS applies nothing until commit.
pub(super) const STAGED_NOTE: &str = "The change is staged, not yet in effect: run \"commit\" to apply it or \"clear\" to discard it.";

pub(super) fn usage(text: &str) -> CliError {
    CliError::Usage(text.trim_end().to_string())
}

pub(super) fn invalid(msg: impl Into<String>) -> CliError {
    CliError::Invalid(msg.into())
}

/// A refused table operation is a refused value, said as the engine says it.
impl From<crate::table::TableError> for CliError {
    fn from(e: crate::table::TableError) -> Self {
        CliError::Invalid(e.to_string())
    }
}

/// Stages `cfg` and returns `what` followed by the reminder to commit.
pub(super) fn stage(
    ctx: &CommandContext<'_>,
    cfg: &Config,
    what: &str,
) -> Result<String, CliError> {
    ctx.store.stage(cfg)?;
    Ok(format!("{what}\n{STAGED_NOTE}"))
}

/// Positional arguments and `--options` of one command.
#[derive(Debug)]
pub(super) struct Opts {
    pub(super) positional: Vec<String>,
    values: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
}

/// Splits `args` into positionals and the options it knows. `--name value`
/// and `--name=value` both work; an unknown option is a usage error. `-`
/// and `_` in an option's name are the same letter: AsyncOS's batch forms
/// spell options with `_` (`--max_conn`), ours mostly with `-`, and an
/// administrator should not have to remember which command does which.
pub(super) fn parse_opts(
    args: &[String],
    valued: &[&'static str],
    flags: &[&'static str],
    usage_text: &str,
) -> Result<Opts, CliError> {
    let mut opts = Opts {
        positional: Vec::new(),
        values: Vec::new(),
        flags: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(body) = arg.strip_prefix("--") else {
            opts.positional.push(arg.clone());
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_ascii_lowercase(), Some(v.to_string())),
            None => (body.to_ascii_lowercase(), None),
        };
        let same = |known: &str| known.replace('_', "-") == name.replace('_', "-");
        if let Some(&known) = valued.iter().find(|v| same(v)) {
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| invalid(format!("--{known} needs a value.")))?,
            };
            if opts.values.iter().any(|(n, _)| *n == known) {
                return Err(invalid(format!("--{known} is given twice.")));
            }
            opts.values.push((known, value));
        } else if let Some(&known) = flags.iter().find(|f| same(f)) {
            if inline.is_some() {
                return Err(invalid(format!("--{known} takes no value.")));
            }
            if !opts.flags.contains(&known) {
                opts.flags.push(known);
            }
        } else {
            return Err(CliError::Usage(format!(
                "Unknown option --{name}.\n{}",
                usage_text.trim_end()
            )));
        }
    }
    Ok(opts)
}

impl Opts {
    pub(super) fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// Whether any option at all was given.
    pub(super) fn any(&self) -> bool {
        !self.values.is_empty() || !self.flags.is_empty()
    }

    /// `--name N` as a number within `min..=max`.
    pub(super) fn number<T>(&self, name: &str, min: T, max: T) -> Result<Option<T>, CliError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        self.value(name)
            .map(|v| number(&format!("--{name}"), v, min, max))
            .transpose()
    }

    /// `--name SIZE` (bytes, or with a k/M/G suffix) within `min..=max`.
    pub(super) fn size(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, CliError> {
        self.value(name)
            .map(|v| {
                let n = parse_size(v).ok_or_else(|| {
                    invalid(format!(
                        "Invalid value for --{name}: '{v}' (expected bytes, e.g. 10485760, 512k or 10M)."
                    ))
                })?;
                if n < min || n > max {
                    return Err(invalid(format!(
                        "--{name} must be between {} and {}.",
                        format_size(min),
                        format_size(max)
                    )));
                }
                Ok(n)
            })
            .transpose()
    }
}

/// `text` as a number within `min..=max`; `what` names it in the error.
pub(super) fn number<T>(what: &str, text: &str, min: T, max: T) -> Result<T, CliError>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let n: T = text.trim().parse().map_err(|_| {
        invalid(format!(
            "Invalid value for {what}: '{text}' (expected a whole number)."
        ))
    })?;
    if n < min || n > max {
        return Err(invalid(format!("{what} must be between {min} and {max}.")));
    }
    Ok(n)
}

/// `10485760`, `512k`, `10M`, `1G` (binary multiples, as AsyncOS's 10M
/// default of 10485760 bytes).
pub(super) fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, mult) = match t.char_indices().last()? {
        (i, 'k' | 'K') => (&t[..i], 1024),
        (i, 'm' | 'M') => (&t[..i], 1024 * 1024),
        (i, 'g' | 'G') => (&t[..i], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// The shortest exact spelling: `10M`, `512k` or plain bytes.
pub(super) fn format_size(bytes: u64) -> String {
    const K: u64 = 1024;
    match bytes {
        0 => "0".to_string(),
        b if b % (K * K * K) == 0 => format!("{}G", b / (K * K * K)),
        b if b % (K * K) == 0 => format!("{}M", b / (K * K)),
        b if b % K == 0 => format!("{}k", b / K),
        b => b.to_string(),
    }
}

/// A name for a sender group or policy: AsyncOS allows letters, digits,
/// `_` and `-`.
pub(super) fn check_name(what: &str, name: &str) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Invalid {what} name '{name}': use 1 to 64 letters, digits, '_' or '-'."
        )))
    }
}

/// Text that ends up in an SMTP reply or a one-line log: printable, one
/// line, bounded. A CR or LF here would let a banner forge extra replies.
pub(super) fn check_text(what: &str, text: &str, max_len: usize) -> Result<(), CliError> {
    if text.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} must be one line of printable text (no control characters)."
        )));
    }
    if text.len() > max_len {
        return Err(invalid(format!(
            "{what} is longer than {max_len} characters."
        )));
    }
    Ok(())
}

/// `host` as it is typed back: IPv6 addresses in brackets when a port follows.
pub(super) fn host_port(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

/// Comma-separated items, possibly spread over several arguments
/// (`a,b`, `a, b` and `a b` all give `[a, b]`).
pub(super) fn comma_list(args: &[String]) -> Vec<String> {
    args.iter()
        .flat_map(|a| a.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// An `on`/`off` (or `yes`/`no`) option, if given.
pub(super) fn on_off(opts: &Opts, name: &str) -> Result<Option<bool>, CliError> {
    opts.value(name)
        .map(|v| match v.to_ascii_lowercase().as_str() {
            "on" | "yes" => Ok(true),
            "off" | "no" => Ok(false),
            _ => Err(invalid(format!("--{name}: '{v}' is not on or off."))),
        })
        .transpose()
}

/// The stored name of interface `name` (any case), or an error naming them.
pub(super) fn interface_name(cfg: &Config, name: &str) -> Result<String, CliError> {
    cfg.interface(name).map(|i| i.name.clone()).ok_or_else(|| {
        let names: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
        let names = names.join(", ");
        invalid(format!(
            "There is no interface named '{name}'. Interfaces: {names}."
        ))
    })
}

// Listener lookup, shared by listenerconfig and the tables and policies
// it reaches (HAT, RAT, mail flow policies): here, below all of them, so
// they do not import each other.

/// The listener called `name` (case-insensitive), or a helpful error.
pub(super) fn find<'c>(cfg: &'c Config, name: &str) -> Result<&'c ListenerConfig, CliError> {
    cfg.listener(name)
        .ok_or_else(|| no_such_listener(cfg, name))
}

pub(super) fn find_mut<'c>(
    cfg: &'c mut Config,
    name: &str,
) -> Result<&'c mut ListenerConfig, CliError> {
    if cfg.listener(name).is_none() {
        return Err(no_such_listener(cfg, name));
    }
    cfg.listener_mut(name)
        .ok_or_else(|| invalid("listener vanished"))
}

fn no_such_listener(cfg: &Config, name: &str) -> CliError {
    let names: Vec<&str> = cfg.listeners.iter().map(|l| l.name.as_str()).collect();
    invalid(format!(
        "There is no listener named '{name}'. Listeners: {}.",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sizes_parse_with_binary_suffixes_and_print_back() {
        for (text, bytes) in [
            ("10M", 10 * 1024 * 1024),
            ("512k", 512 * 1024),
            ("1G", 1 << 30),
            ("1000", 1000),
        ] {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
        for bad in [
            "",
            "M",
            "1.5M",
            "-1",
            "10 M",
            "99999999999999999999",
            "18446744073709551615G",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(format_size(10 * 1024 * 1024), "10M");
        assert_eq!(format_size(1500), "1500");
    }

    #[test]
    fn options_take_values_both_ways_and_refuse_unknown_or_repeated_ones() {
        let o = parse_opts(
            &strings(&["a", "--code=550", "--text", "no", "--bypass", "b"]),
            &["code", "text"],
            &["bypass"],
            "u",
        )
        .unwrap();
        assert_eq!(o.positional, strings(&["a", "b"]));
        assert_eq!(o.value("code"), Some("550"));
        assert_eq!(o.value("text"), Some("no"));
        assert!(o.flag("bypass"));
        assert!(matches!(
            parse_opts(&strings(&["--nope"]), &[], &[], "u"),
            Err(CliError::Usage(_))
        ));
        assert!(
            parse_opts(
                &strings(&["--code", "1", "--code", "2"]),
                &["code"],
                &[],
                "u"
            )
            .is_err()
        );
        assert!(parse_opts(&strings(&["--code"]), &["code"], &[], "u").is_err());
    }

    #[test]
    fn dashes_and_underscores_in_option_names_are_the_same() {
        let o = parse_opts(
            &strings(&["--max_parallel", "2", "--max-message-size=1M", "--skip_dns"]),
            &["max-parallel", "max_message_size"],
            &["skip-dns"],
            "u",
        )
        .unwrap();
        assert_eq!(o.value("max-parallel"), Some("2"));
        assert_eq!(o.value("max_message_size"), Some("1M"));
        assert!(o.flag("skip-dns"));
        // The two spellings are one option: giving both is giving it twice.
        assert!(
            parse_opts(
                &strings(&["--max-parallel", "1", "--max_parallel", "2"]),
                &["max-parallel"],
                &[],
                "u"
            )
            .is_err()
        );
    }

    #[test]
    fn texts_with_line_breaks_are_refused() {
        assert!(check_text("banner", "hello\r\n250 forged", 100).is_err());
        assert!(check_text("banner", "hello there", 100).is_ok());
        assert!(check_name("policy", "RELAY_O365").is_ok());
        assert!(check_name("policy", "bad name").is_err());
    }
}
