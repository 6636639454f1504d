//! Menus for `adminaccessconfig` and `sshconfig`: the management plane's
//! services on Management and the users' SSH keys, asked as AsyncOS asks
//! them; each answer runs the batch form (docs/cli.md).

use super::ConsoleError;
use super::menus_config::{edit_settings, on_row, words};
use super::shell::Shell;

#[rustfmt::skip]
const SETUP_QUESTIONS: &[(&str, &str)] = &[
    ("https", "Do you want to enable HTTPS (the web UI) on Management? (on/off)"),
    ("https-port", "Which port do you want to use for HTTPS?"),
    ("http-redirect", "Do you want plain HTTP to redirect to HTTPS? (on/off)"),
    ("http-port", "Which port do you want to use for the HTTP redirect?"),
    ("ssh", "Do you want to enable SSH on Management? (on/off)"),
    ("ssh-port", "Which port do you want to use for SSH?"),
    ("api", "Do you want to enable the REST API (/api/v1 on the HTTPS port)? (on/off)"),
];

pub(super) fn adminaccessconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["adminaccessconfig", "print"])?;
        let ops = [
            (
                "SETUP",
                "Configure HTTPS, the HTTP redirect, SSH and the REST API on Management.",
            ),
            ("TIMEOUT", "Configure the web UI inactivity timeout."),
            ("CERTIFICATE", "Choose the certificate HTTPS presents."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => edit_settings(sh, &["adminaccessconfig", "setup"], SETUP_QUESTIONS)?,
            Some(1) => on_row(
                sh,
                &["adminaccessconfig", "timeout"],
                "Enter the web UI inactivity timeout in minutes (5-1440).",
            )?,
            Some(_) => on_row(
                sh,
                &["adminaccessconfig", "setup", "--certificate"],
                "Enter the name of the certificate (\"certconfig print\" lists them), or default for the first one.",
            )?,
        };
    }
}

pub(super) fn sshconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["sshconfig", "print"])?;
        let ops = [
            ("NEW", "Add a public key for a user."),
            ("DELETE", "Remove a user's public key."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => sh.until_accepted_input(|sh| {
                let Some(user) = sh.ask_some("Enter the name of the user this key is for.")?
                else {
                    return Ok(None);
                };
                let key = sh.read_script(
                    "Paste the public SSH key (one line, as in ~/.ssh/id_ed25519.pub). Enter '.' on a line by itself to end.",
                )?;
                if key.trim().is_empty() {
                    return Ok(None);
                }
                Ok(Some((words(&["sshconfig", "new", &user, "-"]), Some(key))))
            })?,
            Some(_) => sh.until_accepted(|sh| {
                let Some(user) = sh.ask_some("Enter the name of the user whose key you wish to delete.")?
                else {
                    return Ok(None);
                };
                let Some(n) = sh.ask_some("Enter the number of the key to delete.")? else {
                    return Ok(None);
                };
                Ok(Some(words(&["sshconfig", "delete", &user, &n])))
            })?,
        };
    }
}
