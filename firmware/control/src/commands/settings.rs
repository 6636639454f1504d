//! The settings engine: a command's scalar `--flag value` settings, each
//! declared once in a table (its flag, its kind with bounds, and where it
//! lives on the edited value) and applied by one path, in place of a
//! hand-written `if let Some(n) = opts.number(...)` per option and a list
//! of option names kept apart from it.

use super::CliError;
use super::args::{Opts, number, on_off, parse_opts, usage};

/// How a setting's value is read, checked and written on a `C`.
pub(super) enum Kind<C> {
    /// A whole number within `min..=max`.
    Number(u64, u64, fn(&mut C) -> &mut dyn Num),
    /// A size in bytes, with a k/M/G suffix or without, within `min..=max`.
    Size(u64, u64, fn(&mut C) -> &mut dyn Num),
    /// `on`/`off` (or `yes`/`no`).
    OnOff(fn(&mut C) -> &mut bool),
    /// Anything else (a choice, a text, `unlimited`): the function parses
    /// the value, refuses it in its own words, and writes it.
    Parse(fn(&mut C, &str) -> Result<(), CliError>),
    /// Not a setting: a rule between the settings above it (a maximum at
    /// least its minimum), checked at its place whatever was given, so a
    /// broken rule is said before a bad value further down.
    Check(fn(&C) -> Result<(), CliError>),
}

/// One `--flag value` setting: the flag (without `--`) and its kind.
pub(super) type Setting<C> = (&'static str, Kind<C>);

/// A number field. The value is parsed as the field's own type, so one
/// beyond the type is `not a whole number`, as it was before the tables.
pub(super) trait Num {
    fn set(&mut self, flag: &str, v: &str, min: u64, max: u64) -> Result<(), CliError>;
}

macro_rules! num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn set(&mut self, flag: &str, v: &str, min: u64, max: u64) -> Result<(), CliError> {
                // A table never declares a bound beyond the field's type.
                let bound = |n: u64| <$t>::try_from(n).unwrap_or(<$t>::MAX);
                *self = number(&format!("--{flag}"), v, bound(min), bound(max))?;
                Ok(())
            }
        }
    )*};
}
num!(u8, u16, u32, u64);

/// Splits `args` into positionals and the options of `table` (and the
/// `extra` ones the command reads itself).
pub(super) fn parse<C>(
    args: &[String],
    table: &[Setting<C>],
    extra: &[&'static str],
    usage_text: &str,
) -> Result<Opts, CliError> {
    let flags: Vec<&'static str> = table
        .iter()
        .map(|s| s.0)
        .chain(extra.iter().copied())
        .collect();
    parse_opts(args, &flags, &[], usage_text)
}

/// [`parse`] for options only, at least one: a positional or no option at
/// all is a usage error.
pub(super) fn parse_some<C>(
    args: &[String],
    table: &[Setting<C>],
    extra: &[&'static str],
    usage_text: &str,
) -> Result<Opts, CliError> {
    let opts = parse(args, table, extra, usage_text)?;
    if !opts.positional.is_empty() || !opts.any() {
        return Err(usage(usage_text));
    }
    Ok(opts)
}

/// Writes every setting of `table` that `opts` gives onto `target`, in
/// table order. On error `target` may be half-changed: callers edit a
/// working copy that is staged only on success.
pub(super) fn apply<C>(table: &[Setting<C>], opts: &Opts, target: &mut C) -> Result<(), CliError> {
    for (flag, kind) in table {
        if let Kind::Check(check) = kind {
            check(target)?;
            continue;
        }
        let Some(v) = opts.value(flag) else {
            continue;
        };
        match kind {
            Kind::Number(min, max, at) => at(target).set(flag, v, *min, *max)?,
            Kind::Size(min, max, at) => {
                if let Some(n) = opts.size(flag, *min, *max)? {
                    at(target).set(flag, &n.to_string(), *min, *max)?;
                }
            }
            Kind::OnOff(at) => *at(target) = on_off(opts, flag)?.unwrap_or_default(),
            Kind::Parse(set) => set(target, v)?,
            Kind::Check(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Kind::*;
    use super::*;

    #[derive(Default)]
    struct Demo {
        port: u16,
        count: u32,
        bytes: u64,
        on: bool,
        word: String,
    }

    const DEMO: &[Setting<Demo>] = &[
        ("port", Number(1, 65535, |d| &mut d.port)),
        ("count", Number(1, 10, |d| &mut d.count)),
        ("bytes", Size(1024, 1 << 20, |d| &mut d.bytes)),
        ("on", OnOff(|d| &mut d.on)),
        (
            "word",
            Parse(|d, v| {
                d.word = v.to_string();
                Ok(())
            }),
        ),
    ];

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn run(args: &[&str]) -> Result<Demo, String> {
        let mut d = Demo::default();
        let opts =
            parse_some(&strings(args), DEMO, &[], "usage: demo").map_err(|e| e.to_string())?;
        apply(DEMO, &opts, &mut d).map_err(|e| e.to_string())?;
        Ok(d)
    }

    #[test]
    fn settings_are_parsed_in_their_kind_and_written() {
        let d = run(&[
            "--port",
            "2525",
            "--count=3",
            "--bytes",
            "512k",
            "--on",
            "yes",
            "--word",
            "hi",
        ])
        .unwrap();
        assert_eq!(
            (d.port, d.count, d.bytes, d.on, d.word.as_str()),
            (2525, 3, 512 * 1024, true, "hi")
        );
    }

    #[test]
    fn bad_values_are_refused_in_the_same_words_as_before() {
        let err = |args: &[&str]| run(args).err().unwrap();
        assert_eq!(err(&["--count", "11"]), "--count must be between 1 and 10.");
        // Beyond the field's type: not a number of that type at all.
        assert_eq!(
            err(&["--port", "70000"]),
            "Invalid value for --port: '70000' (expected a whole number)."
        );
        assert_eq!(
            err(&["--bytes", "2M"]),
            "--bytes must be between 1k and 1M."
        );
        assert_eq!(err(&["--on", "maybe"]), "--on: 'maybe' is not on or off.");
        assert_eq!(err(&[]), "usage: demo");
        assert!(err(&["--nope", "1"]).starts_with("Unknown option --nope."));
    }
}
