//! The arguments of the commands an administrator runs during a cut-over
//! (`suspendlistener`, `resumelistener`, `suspenddel`, `resumedel`,
//! `suspend`, `resume`, `reboot`, `shutdown`), parsed here, sans I/O; the
//! daemon carries them out (firmware/src/daemon.rs) and words the answers
//! with the functions below, as AsyncOS does.
//!
//! AsyncOS asks, for each of them that stops something, "Enter the number
//! of seconds to wait before abruptly closing connections." (default 30);
//! the batch form takes that number as the last argument.

use std::time::Duration;

/// AsyncOS's default answer to "Enter the number of seconds to wait before
/// abruptly closing connections."
pub const DEFAULT_DELAY_SECS: u64 = 30;

/// The longest delay accepted: an hour lets the longest SMTP transaction
/// (AsyncOS's total session timeout is 100 s by default) end many times
/// over, and keeps a typo (`3000` for `30`) from holding a reboot for a day.
pub const MAX_DELAY_SECS: u64 = 3600;

/// Which listeners `suspendlistener` and `resumelistener` act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listeners {
    /// Every configured listener (AsyncOS's "1. All").
    All,
    /// These, by name (comma-separated on input, as AsyncOS takes them).
    Named(Vec<String>),
}

/// One cut-over command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cutover {
    SuspendListeners {
        which: Listeners,
        delay: Duration,
    },
    ResumeListeners {
        which: Listeners,
    },
    SuspendDelivery {
        delay: Duration,
    },
    ResumeDelivery,
    /// `suspend`: receiving and delivery.
    Suspend {
        delay: Duration,
    },
    /// `resume`: receiving and delivery.
    Resume,
    /// `reboot` (`reboot: true`) or `shutdown`: listeners suspended, the
    /// sessions in progress get `delay`, then the daemon stops.
    Stop {
        reboot: bool,
        delay: Duration,
    },
}

/// Parses a cut-over command; `None` when `args` is another command.
pub fn parse(args: &[String]) -> Option<Result<Cutover, String>> {
    let name = args.first()?.to_ascii_lowercase();
    let rest = &args[1..];
    let usage = |u: &str| Err(u.to_string());
    Some(match name.as_str() {
        "suspendlistener" => {
            let (which, delay) = match rest {
                [] => (Listeners::All, None),
                [one] if is_number(one) => (Listeners::All, Some(one.as_str())),
                [which] => (listeners(which), None),
                [which, delay] => (listeners(which), Some(delay.as_str())),
                _ => return Some(usage(breakwater_control_proto::usage::SUSPENDLISTENER)),
            };
            delay_arg(delay).map(|delay| Cutover::SuspendListeners { which, delay })
        }
        "resumelistener" => match rest {
            [] => Ok(Cutover::ResumeListeners {
                which: Listeners::All,
            }),
            [which] => Ok(Cutover::ResumeListeners {
                which: listeners(which),
            }),
            _ => usage(breakwater_control_proto::usage::RESUMELISTENER),
        },
        "suspenddel" | "suspend" | "reboot" | "shutdown" => {
            let delay = match rest {
                [] => delay_arg(None),
                [d] => delay_arg(Some(d)),
                _ => Err(format!("usage: {name} [<seconds>]")),
            };
            delay.map(|delay| match name.as_str() {
                "suspenddel" => Cutover::SuspendDelivery { delay },
                "suspend" => Cutover::Suspend { delay },
                n => Cutover::Stop {
                    reboot: n == "reboot",
                    delay,
                },
            })
        }
        "resumedel" | "resume" if !rest.is_empty() => Err(format!("usage: {name}")),
        "resumedel" => Ok(Cutover::ResumeDelivery),
        "resume" => Ok(Cutover::Resume),
        _ => return None,
    })
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn listeners(which: &str) -> Listeners {
    if which.eq_ignore_ascii_case("all") {
        return Listeners::All;
    }
    Listeners::Named(
        which
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

fn delay_arg(arg: Option<&str>) -> Result<Duration, String> {
    let secs = match arg {
        None => DEFAULT_DELAY_SECS,
        Some(a) => a
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= MAX_DELAY_SECS)
            .ok_or_else(|| {
                format!(
                    "The delay must be a number of seconds from 0 to {MAX_DELAY_SECS} (default {DEFAULT_DELAY_SECS}), not \"{a}\"."
                )
            })?,
    };
    Ok(Duration::from_secs(secs))
}

/// The configured listener names `which` stands for, or why not (an
/// unknown name: nothing is changed).
pub fn resolve(which: &Listeners, configured: &[String]) -> Result<Vec<String>, String> {
    match which {
        Listeners::All => Ok(configured.to_vec()),
        Listeners::Named(names) => names
            .iter()
            .map(|n| {
                configured
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(n))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "Unknown listener \"{n}\" (listeners: {}).",
                            if configured.is_empty() {
                                "none".to_string()
                            } else {
                                configured.join(", ")
                            }
                        )
                    })
            })
            .collect(),
    }
}

/// AsyncOS's answer once listeners are suspended.
pub fn listeners_suspended(names: &[String], still_open: u32) -> String {
    let mut out = format!(
        "Waiting for listeners to exit...\nReceiving suspended for {}.",
        names.join(", ")
    );
    if still_open > 0 {
        out.push_str(&format!(
            "\n{still_open} session(s) were still open at the end of the delay and were told 421."
        ));
    }
    out
}

/// AsyncOS's answer once listeners are resumed.
pub fn listeners_resumed(names: &[String]) -> String {
    format!("Receiving resumed for {}.", names.join(", "))
}

/// AsyncOS's answer once delivery is suspended; `in_progress`
/// deliveries were still under way at the end of the delay.
pub fn delivery_suspended(in_progress: usize) -> String {
    let mut out =
        "Waiting for outgoing deliveries to finish...\nMail delivery suspended.".to_string();
    if in_progress > 0 {
        out.push_str(&format!(
            "\n{in_progress} delivery(ies) still under way finish on their own (their SMTP timeouts bound them); nothing new starts."
        ));
    }
    out
}

pub const DELIVERY_RESUMED: &str = "Mail delivery resumed.";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Cutover, String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse(&args).expect("a cut-over command")
    }

    #[test]
    fn suspendlistener_takes_one_listener_all_and_a_delay() {
        let default = Duration::from_secs(DEFAULT_DELAY_SECS);
        assert_eq!(
            p("suspendlistener"),
            Ok(Cutover::SuspendListeners {
                which: Listeners::All,
                delay: default
            })
        );
        assert_eq!(
            p("suspendlistener IncomingMail"),
            Ok(Cutover::SuspendListeners {
                which: Listeners::Named(vec!["IncomingMail".into()]),
                delay: default
            })
        );
        assert_eq!(
            p("suspendlistener In,Out 5"),
            Ok(Cutover::SuspendListeners {
                which: Listeners::Named(vec!["In".into(), "Out".into()]),
                delay: Duration::from_secs(5)
            })
        );
        assert_eq!(
            p("SUSPENDLISTENER all 0"),
            Ok(Cutover::SuspendListeners {
                which: Listeners::All,
                delay: Duration::ZERO
            })
        );
        assert_eq!(
            p("suspendlistener 10"),
            Ok(Cutover::SuspendListeners {
                which: Listeners::All,
                delay: Duration::from_secs(10)
            })
        );
        assert!(
            p("suspendlistener In 99999")
                .unwrap_err()
                .contains("0 to 3600")
        );
        assert!(p("suspendlistener In x").is_err());
        assert!(p("suspendlistener a b c").is_err());
    }

    #[test]
    fn the_other_forms() {
        let d = |s| Duration::from_secs(s);
        assert_eq!(
            p("resumelistener"),
            Ok(Cutover::ResumeListeners {
                which: Listeners::All
            })
        );
        assert_eq!(
            p("suspenddel"),
            Ok(Cutover::SuspendDelivery { delay: d(30) })
        );
        assert_eq!(p("suspend 7"), Ok(Cutover::Suspend { delay: d(7) }));
        assert_eq!(p("resumedel"), Ok(Cutover::ResumeDelivery));
        assert_eq!(p("resume"), Ok(Cutover::Resume));
        assert!(p("resume now").is_err());
        assert_eq!(
            p("reboot"),
            Ok(Cutover::Stop {
                reboot: true,
                delay: d(30)
            })
        );
        assert_eq!(
            p("shutdown 0"),
            Ok(Cutover::Stop {
                reboot: false,
                delay: d(0)
            })
        );
        assert!(parse(&["status".to_string()]).is_none());
    }

    #[test]
    fn names_resolve_against_the_configured_listeners() {
        let configured = vec!["IncomingMail".to_string(), "OutgoingMail".to_string()];
        assert_eq!(
            resolve(&Listeners::All, &configured),
            Ok(configured.clone())
        );
        assert_eq!(
            resolve(&Listeners::Named(vec!["incomingmail".into()]), &configured),
            Ok(vec!["IncomingMail".to_string()])
        );
        let err = resolve(&Listeners::Named(vec!["Nope".into()]), &configured).unwrap_err();
        assert!(err.contains("Unknown listener \"Nope\""), "{err}");
        assert!(err.contains("IncomingMail, OutgoingMail"), "{err}");
    }

    #[test]
    fn answers_read_as_asyncos_prints_them() {
        assert_eq!(
            listeners_suspended(&["IncomingMail".into()], 0),
            "Waiting for listeners to exit...\nReceiving suspended for IncomingMail."
        );
        assert_eq!(
            listeners_resumed(&["A".into(), "B".into()]),
            "Receiving resumed for A, B."
        );
        assert_eq!(
            delivery_suspended(0),
            "Waiting for outgoing deliveries to finish...\nMail delivery suspended."
        );
    }
}
