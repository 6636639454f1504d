//! `listenerconfig edit <listener> hostaccess newpolicy|editpolicy|deletepolicy`:
//! a listener's mail flow policies (what a sender group's connections may do).

use std::fmt::Write as _;

use super::args::find_mut;
use super::args::{
    check_name, check_text, format_size, invalid, number as number_in, stage, usage,
};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::{Behavior, ListenerConfig, MailFlowPolicy, TlsMode};
use crate::table::{Table, TableRow};

const USAGE: &str = "\
usage: listenerconfig edit <listener> hostaccess newpolicy <NAME> [options]
       listenerconfig edit <listener> hostaccess editpolicy <POLICY> [options]
       listenerconfig edit <listener> hostaccess deletepolicy <POLICY>
options: --behavior accept|reject|relay|tcprefuse|continue  --tls off|preferred|required
         --max-message-size N[k|M]  --max-recipients N  --max-concurrency N
         --max-messages-per-connection N  --max-recipients-per-hour N|unlimited
         --smtp-banner-code 2xx  --smtp-banner-text TEXT (\"\" for \"<hostname> ESMTP\")
         --reject-banner-code 4xx|5xx  --reject-banner-text TEXT";

/// A mail flow policy's settings.
#[rustfmt::skip]
const SETTINGS: &[Setting<MailFlowPolicy>] = &[
    ("behavior", Parse(|p, b| {
        p.behavior = Behavior::parse(b).ok_or_else(|| invalid(format!(
            "Invalid --behavior '{b}': use accept, reject, relay, tcprefuse or continue."
        )))?;
        Ok(())
    })),
    ("tls", Parse(|p, t| {
        p.tls = TlsMode::parse(t)
            .ok_or_else(|| invalid(format!("Invalid --tls '{t}': use off, preferred or required.")))?;
        Ok(())
    })),
    ("max-message-size", Size(1024, 1024 * 1024 * 1024, |p| &mut p.max_message_size)),
    ("max-recipients", Number(1, 100_000, |p| &mut p.max_recipients_per_message)),
    ("max-concurrency", Number(1, 10_000, |p| &mut p.max_concurrency_per_ip)),
    ("max-messages-per-connection", Number(1, 100_000, |p| &mut p.max_messages_per_connection)),
    ("max-recipients-per-hour", Parse(|p, v| {
        p.max_recipients_per_hour = if v.eq_ignore_ascii_case("unlimited") {
            None
        } else {
            Some(number_in("--max-recipients-per-hour", v, 1u32, u32::MAX)?)
        };
        Ok(())
    })),
    ("smtp-banner-code", Number(200, 299, |p| &mut p.smtp_banner_code)),
    ("smtp-banner-text", Parse(|p, t| {
        check_text("--smtp-banner-text", t, MAX_BANNER)?;
        p.smtp_banner_text = (!t.trim().is_empty()).then(|| t.trim().into());
        Ok(())
    })),
    ("reject-banner-code", Number(400, 599, |p| &mut p.reject_banner_code)),
    ("reject-banner-text", Parse(|p, t| {
        check_text("--reject-banner-text", t, MAX_BANNER)?;
        if t.trim().is_empty() {
            return Err(invalid("--reject-banner-text may not be empty."));
        }
        p.reject_banner_text = t.trim().into();
        Ok(())
    })),
];

/// Longest banner text; an SMTP reply line is at most 512 octets.
const MAX_BANNER: usize = 400;

pub(super) fn run(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let sub = args[0].to_ascii_lowercase();
    let opts = settings::parse(&args[1..], SETTINGS, &[], USAGE)?;
    let [name] = opts.positional.as_slice() else {
        return Err(usage(USAGE));
    };
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let message = match sub.as_str() {
        "newpolicy" => {
            check_name("policy", name)?;
            let mut p = MailFlowPolicy::predefined(name, Behavior::Accept);
            settings::apply(SETTINGS, &opts, &mut p)?;
            policies(l).add(&mut l.policies, p, None)?;
            format!("Created mail flow policy ${name} on {}.", l.name)
        }
        "editpolicy" => {
            if !opts.any() {
                return Err(usage(USAGE));
            }
            let lname = l.name.clone();
            let p = policies(l).get_mut(&mut l.policies, name)?;
            settings::apply(SETTINGS, &opts, p)?;
            format!("Mail flow policy ${} on {lname} updated.", p.name)
        }
        "deletepolicy" => {
            if opts.any() {
                return Err(usage(USAGE));
            }
            let p = policies(l).delete(&mut l.policies, name)?;
            if let Some(g) = l
                .hat
                .iter()
                .find(|g| g.policy.eq_ignore_ascii_case(&p.name))
            {
                return Err(invalid(format!(
                    "Policy ${} is used by sender group {}; change that group's policy first.",
                    p.name, g.name
                )));
            }
            let (lname, pname) = (l.name.clone(), p.name.clone());
            // Its DKIM signing switch, sender authentication settings and
            // SMTP Call-Ahead switch go with it (issue 17).
            cfg.domain_keys.forget_policy(&lname, &pname);
            cfg.sender_auth
                .prune(|l, p| !(l.eq_ignore_ascii_case(&lname) && p.eq_ignore_ascii_case(&pname)));
            cfg.call_ahead.delete_policy(&lname, &pname);
            format!("Deleted mail flow policy ${pname} from {lname}.")
        }
        _ => return Err(usage(USAGE)),
    };
    crate::config::bounce_verification::forget_missing(&mut cfg);
    stage(ctx, &cfg, &message)
}

impl TableRow for MailFlowPolicy {
    fn key(&self) -> &str {
        &self.name
    }
}

/// The mail flow policies of listener `l` (named, not ordered: sender
/// groups refer to them by name).
fn policies(l: &ListenerConfig) -> Table<MailFlowPolicy> {
    Table {
        duplicate_hint: "; use editpolicy",
        list_known: Some("Policies"),
        ..Table::new("mail flow policy '{}'", format!(" on listener {}", l.name))
    }
}

/// The stored spelling of policy `name` on `l`, which must exist there.
pub(super) fn canonical_name(l: &ListenerConfig, name: &str) -> Result<String, CliError> {
    l.policy(name)
        .map(|p| p.name.clone())
        .ok_or_else(|| policies(l).unknown(&l.policies, name).into())
}

/// One line per policy with every setting.
pub(super) fn render_policies(l: &ListenerConfig) -> String {
    let mut out = String::from("  Mail flow policies:\n");
    for p in &l.policies {
        let per_hour = p
            .max_recipients_per_hour
            .map_or_else(|| "unlimited".to_string(), |n| n.to_string());
        let banner = p.smtp_banner_text.as_deref().unwrap_or("<hostname> ESMTP");
        let _ = writeln!(
            out,
            "    ${}: {}, TLS {}\n      \
             max message size {}, max recipients {}, max concurrency {}, \
             max messages/connection {}, recipients/hour {per_hour}\n      \
             banner {} \"{banner}\", reject banner {} \"{}\"",
            p.name,
            p.behavior.word(),
            p.tls.word(),
            format_size(p.max_message_size),
            p.max_recipients_per_message,
            p.max_concurrency_per_ip,
            p.max_messages_per_connection,
            p.smtp_banner_code,
            p.reject_banner_code,
            p.reject_banner_text,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::{Behavior, Config, MailFlowPolicy, TlsMode};

    fn policy<'c>(c: &'c Config, listener: &str, name: &str) -> &'c MailFlowPolicy {
        c.listener(listener).unwrap().policy(name).unwrap()
    }

    #[test]
    fn each_form_stages_the_right_change() {
        type Check = fn(&Config);
        let cases: &[(&str, Check)] = &[
            (
                "listenerconfig edit OutgoingMail hostaccess editpolicy relayed --tls preferred --max-message-size 20M --max-recipients-per-hour 100",
                |c| {
                    let p = policy(c, "OutgoingMail", "RELAYED");
                    assert_eq!(p.tls, TlsMode::Preferred);
                    assert_eq!(p.max_message_size, 20 * 1024 * 1024);
                    assert_eq!(p.max_recipients_per_hour, Some(100));
                },
            ),
            (
                "listenerconfig edit IncomingMail hostaccess editpolicy THROTTLED --max-recipients-per-hour unlimited --smtp-banner-code 220 --smtp-banner-text \"Welcome\" --reject-banner-code 421 --reject-banner-text \"Go away\"",
                |c| {
                    let p = policy(c, "IncomingMail", "THROTTLED");
                    assert_eq!(p.max_recipients_per_hour, None);
                    assert_eq!(p.smtp_banner_text.as_deref(), Some("Welcome"));
                    assert_eq!(
                        (p.reject_banner_code, p.reject_banner_text.as_str()),
                        (421, "Go away")
                    );
                },
            ),
            (
                "listenerconfig edit IncomingMail hostaccess newpolicy PARTNERS --tls required --max-concurrency 20 --max-messages-per-connection 100 --max-recipients 200",
                |c| {
                    let p = policy(c, "IncomingMail", "PARTNERS");
                    let mut expected = MailFlowPolicy::predefined("PARTNERS", Behavior::Accept);
                    expected.tls = TlsMode::Required;
                    expected.max_concurrency_per_ip = 20;
                    expected.max_messages_per_connection = 100;
                    expected.max_recipients_per_message = 200;
                    assert_eq!(*p, expected);
                },
            ),
            (
                "listenerconfig edit OutgoingMail hostaccess newpolicy REFUSE --behavior tcprefuse",
                |c| {
                    assert_eq!(
                        policy(c, "OutgoingMail", "REFUSE").behavior,
                        Behavior::TcpRefuse
                    );
                },
            ),
        ];
        for (line, check) in cases {
            let f = Fixture::new();
            f.run(line).unwrap();
            check(&f.staged().unwrap());
        }
    }

    #[test]
    fn an_unused_policy_can_be_deleted() {
        let f = Fixture::new();
        f.run("listenerconfig edit IncomingMail hostaccess newpolicy SPARE")
            .unwrap();
        f.run("listenerconfig edit IncomingMail hostaccess deletepolicy spare")
            .unwrap();
        assert!(
            f.staged()
                .unwrap()
                .listener("IncomingMail")
                .unwrap()
                .policy("SPARE")
                .is_none()
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "listenerconfig edit IncomingMail hostaccess editpolicy NOPE --tls off",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --tls sometimes",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --behavior bounce",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --max-message-size 10X",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --max-message-size 2G",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --max-recipients 0",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --max-recipients-per-hour lots",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --smtp-banner-code 554",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --reject-banner-code 250",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --smtp-banner-text \"hi\r\n250 forged\"",
            "listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --reject-banner-text \"\"",
            "listenerconfig edit IncomingMail hostaccess newpolicy trusted",
            "listenerconfig edit IncomingMail hostaccess newpolicy \"NO GOOD\"",
            "listenerconfig edit IncomingMail hostaccess deletepolicy ACCEPTED",
            "listenerconfig edit IncomingMail hostaccess deletepolicy",
        ]);
    }
}
