//! `sethostname`: the appliance's fully qualified host name. It is the
//! name the listeners greet with (`220 <hostname> ESMTP`), the name
//! delivery says in EHLO, the prompt of the console and the `Received:`
//! header's `by` part, so it is checked as a host name: no character that
//! could break a reply or a header ever reaches a commit. Like AsyncOS it
//! takes `_` in a label (the seeds write `esa1.your_domain.com`), though
//! strict peers refuse such a name in EHLO (docs/cli.md says so).

use super::args::{invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::HostName;

pub(super) use breakwater_control_proto::usage::SETHOSTNAME as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    match args {
        [p] if p.eq_ignore_ascii_case("print") => {
            Ok(format!("Hostname: {}", ctx.store.working()?.hostname))
        }
        [name] => {
            let name = check_hostname(name)?;
            let mut cfg = ctx.store.working()?;
            if cfg.hostname == name {
                return Err(invalid(format!("The host name is already {name}.")));
            }
            cfg.hostname = name.clone();
            stage(ctx, &cfg, &format!("Host name set to {name}."))
        }
        _ => Err(usage(USAGE)),
    }
}

/// `name` lower-cased, without a final dot, if it is a fully qualified
/// host name ([`HostName::parse_fqdn`], the rule `validate` applies too).
pub(super) fn check_hostname(name: &str) -> Result<String, CliError> {
    HostName::parse_fqdn(name).map(String::from).map_err(|e| {
        invalid(format!(
            "{e}. Enter a fully qualified name such as mail.example.com."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::check_hostname;

    #[test]
    fn a_valid_name_is_staged_lower_case() {
        let f = Fixture::new();
        let out = f.run("sethostname Mail.Example.COM.").unwrap();
        assert!(
            out.starts_with("Host name set to mail.example.com."),
            "{out}"
        );
        assert!(out.contains("commit"), "{out}");
        assert_eq!(f.staged().unwrap().hostname, "mail.example.com");
        assert_eq!(
            f.run("sethostname print").unwrap(),
            "Hostname: mail.example.com"
        );
        assert_ne!(f.store.committed().unwrap().hostname, "mail.example.com");
    }

    #[test]
    fn bad_names_are_refused_and_stage_nothing() {
        let long_label = format!("{}.example.com", "a".repeat(64));
        let long_name = format!("{}.com", ["abcdefghij"; 25].join("."));
        Fixture::new().assert_refused(&[
            "sethostname",
            "sethostname localhost",
            "sethostname mail..example.com",
            "sethostname -mail.example.com",
            "sethostname mail-.example.com",
            "sethostname \"mail example.com\"",
            "sethostname 192.0.2.1",
            "sethostname mail.example.com extra",
            "sethostname breakwater.dev.local",
            &format!("sethostname {long_label}"),
            &format!("sethostname {long_name}"),
        ]);
        assert!(check_hostname("a-b.c0").is_ok());
    }

    #[test]
    fn the_seeds_underscore_name_is_staged_as_asyncos_takes_it() {
        let f = Fixture::new();
        let out = f.run("sethostname esa1.your_domain.com").unwrap();
        assert!(
            out.starts_with("Host name set to esa1.your_domain.com."),
            "{out}"
        );
        assert_eq!(f.staged().unwrap().hostname, "esa1.your_domain.com");
    }
}
