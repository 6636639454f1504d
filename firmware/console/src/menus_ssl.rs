//! `sslconfig`, as AsyncOS asks it: the current settings, then INBOUND or
//! OUTBOUND (the TLS methods, then the cipher string, each defaulting to
//! what is set) or VERIFY (what a cipher string selects).

use super::ConsoleError;
use super::shell::Shell;

pub(super) fn sslconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let current = sh.call(&["sslconfig", "print"], None)?.output;
        sh.show(&current)?;
        let choice = sh.choose(&[
            ("INBOUND", "Edit Inbound SMTP ssl settings."),
            ("OUTBOUND", "Edit Outbound SMTP ssl settings."),
            ("VERIFY", "Verify and show ssl cipher list."),
        ])?;
        let (leg, title) = match choice {
            None => return Ok(()),
            Some(0) => ("inbound", "Inbound SMTP"),
            Some(1) => ("outbound", "Outbound SMTP"),
            Some(_) => {
                let ciphers = sh.ask("Enter the ssl cipher you want to verify.", "DEFAULT")?;
                sh.run(&["sslconfig", "verify", &ciphers])?;
                continue;
            }
        };
        let setting = |what: &str| {
            current
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{title} {what}: ")))
                .unwrap_or_default()
                .to_string()
        };
        let methods = sh.ask(
            &format!("Enter the {title} ssl methods: TLSv1.2, TLSv1.3 or both (TLS 1.0 and 1.1 are not available)."),
            &setting("method"),
        )?;
        let ciphers = sh.ask(
            &format!("Enter the {title} ssl cipher you want to use."),
            &setting("ciphers"),
        )?;
        sh.run(&[
            "sslconfig",
            leg,
            "--methods",
            &methods,
            &format!("--ciphers={ciphers}"),
        ])?;
    }
}
