//! The content-security menus, as AsyncOS asks them: `antispamconfig`
//! (SETUP), `domainkeysconfig` (signing keys, signing profiles, the mail
//! flow policies that sign), `dmarcconfig` (verification profiles),
//! `smtpcallahead` (call-ahead profiles and where they apply) and
//! `bvconfig` (bounce verification keys and handling). Each prints the
//! current settings and runs the batch commands of docs/cli.md, so the
//! daemon validates a menu's answers exactly as it does a typed command.

use super::ConsoleError;
use super::menus_config::{answers, cmd, edit_settings, on_row, row_settings, words};
use super::shell::Shell;

#[rustfmt::skip]
const ANTISPAM_QUESTIONS: &[(&str, &str)] = &[
    ("host", "Enter the address or host name of the rspamd engine."),
    ("port", "Enter the port of the rspamd engine (1-65535)."),
    ("timeout", "Enter the anti-spam scanning timeout in seconds (1-600)."),
    ("max_concurrent", "Enter the maximum number of scans at once (1-1024)."),
    ("max_message_size", "Enter the maximum message size to scan (e.g. 1M; 1 byte to 100M)."),
    ("retry", "Enter the seconds between two scans of a message held while the engine is down (1-86400)."),
];

/// `antispamconfig`: AsyncOS's SETUP asks whether to scan, then the
/// engine's settings.
pub(super) fn antispamconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let current = sh.call(&["antispamconfig", "print"], None)?.output;
        sh.show(&current)?;
        let Some(_) = sh.choose(&[("SETUP", "Edit Anti-Spam configuration.")])? else {
            return Ok(());
        };
        if !sh.may_change()? {
            continue;
        }
        let enabled = current.contains("Anti-spam scanning: Enabled");
        let want = sh.yes_no("Would you like to use Anti-Spam scanning?", enabled)?;
        if want != enabled {
            sh.run(&["antispamconfig", if want { "enable" } else { "disable" }])?;
        }
        if want {
            edit_settings(sh, &["antispamconfig", "setup"], ANTISPAM_QUESTIONS)?;
        }
    }
}

#[rustfmt::skip]
const PROFILE_QUESTIONS: &[(&str, &str)] = &[
    ("header-canon", "Enter the header canonicalization: simple or relaxed."),
    ("body-canon", "Enter the body canonicalization: simple or relaxed."),
    ("headers", "Enter the headers to sign: standard, or a comma-separated list that includes From."),
    ("users", "Enter the users this profile signs for: all, or a comma-separated list of addresses, domains and .subdomains."),
];

#[rustfmt::skip]
const PROFILE_EDIT_QUESTIONS: &[(&str, &str)] = &[
    ("domain", "Enter the domain name of the signing profile (d=)."),
    ("selector", "Enter the selector (s=)."),
    ("key", "Enter the name of the signing key."),
    ("header-canon", "Enter the header canonicalization: simple or relaxed."),
    ("body-canon", "Enter the body canonicalization: simple or relaxed."),
    ("headers", "Enter the headers to sign: standard, or a comma-separated list that includes From."),
    ("users", "Enter the users this profile signs for: all, or a comma-separated list of addresses, domains and .subdomains."),
];

/// `domainkeysconfig`: AsyncOS's KEYS and PROFILES submenus, plus the
/// mail flow policy switch and the size limit.
pub(super) fn domainkeysconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["domainkeysconfig", "print"])?;
        let ops = [
            ("PROFILES", "Manage signing profiles."),
            ("KEYS", "Manage signing keys."),
            (
                "POLICY",
                "Turn Domain Key/DKIM Signing on or off for a mail flow policy.",
            ),
            ("SETUP", "Change the largest message that is signed."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => dkim_profiles(sh)?,
            Some(1) => dkim_keys(sh)?,
            Some(2) => {
                policy_switch(sh, "domainkeysconfig", "Domain Key/DKIM Signing")?;
            }
            Some(_) => {
                sh.until_accepted(|sh| {
                    Ok(sh
                        .ask_some("Enter the largest message to sign, in bytes (at least 1024).")?
                        .and_then(|n| cmd(&["domainkeysconfig", "setup", "--max-size"], vec![n])))
                })?;
            }
        }
    }
}

fn dkim_keys(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["domainkeysconfig", "keys", "list"])?;
        let ops = [
            ("NEW", "Create a new signing key."),
            ("IMPORT", "Import a signing key from a PEM private key."),
            ("PRINT", "Display the public key of a signing key."),
            ("DELETE", "Delete a signing key."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                sh.until_accepted(|sh| {
                    let Some(name) = sh.ask_some("Enter a name for this signing key.")? else {
                        return Ok(None);
                    };
                    let kind = sh.ask("Enter the key type: rsa (2048 bits) or ed25519.", "rsa")?;
                    Ok(cmd(
                        &["domainkeysconfig", "keys", "new", &name, "--type"],
                        vec![kind],
                    ))
                })?;
            }
            Some(1) => {
                sh.until_accepted_input(|sh| {
                    let Some(name) = sh.ask_some("Enter a name for this signing key.")? else {
                        return Ok(None);
                    };
                    let pem = sh.read_script(
                        "Paste the private key (PEM) now. Enter '.' on a line by itself to end.",
                    )?;
                    Ok(Some((
                        words(&["domainkeysconfig", "keys", "import", &name, "-"]),
                        Some(pem),
                    )))
                })?;
            }
            Some(2) => {
                while let Some(name) =
                    sh.ask_some("Enter the name of the signing key to display.")?
                {
                    if sh.run(&["domainkeysconfig", "keys", "print", &name])? {
                        break;
                    }
                }
            }
            Some(_) => {
                on_row(
                    sh,
                    &["domainkeysconfig", "keys", "delete"],
                    "Enter the name of the signing key to delete (a key a profile uses cannot be deleted).",
                )?;
            }
        }
    }
}

fn dkim_profiles(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["domainkeysconfig", "profiles", "list"])?;
        let ops = [
            ("NEW", "Create a new signing profile."),
            ("EDIT", "Modify a signing profile."),
            ("PRINT", "Display a signing profile."),
            ("DNSTXT", "Generate the DKIM DNS TXT record of a profile."),
            ("DELETE", "Delete a signing profile."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                sh.until_accepted(|sh| {
                    let Some(name) = sh.ask_some("Enter a name for this signing profile.")? else {
                        return Ok(None);
                    };
                    let Some(domain) =
                        sh.ask_some("Enter the domain name of the signing profile (d=).")?
                    else {
                        return Ok(None);
                    };
                    let Some(selector) = sh.ask_some("Enter the selector (s=).")? else {
                        return Ok(None);
                    };
                    let Some(key) = sh.ask_some("Enter the name of the signing key.")? else {
                        return Ok(None);
                    };
                    let more = answers(sh, PROFILE_QUESTIONS, "the default")?;
                    Ok(cmd(
                        &[
                            "domainkeysconfig",
                            "profiles",
                            "new",
                            &name,
                            &domain,
                            &selector,
                            &key,
                        ],
                        more,
                    ))
                })?;
            }
            Some(1) => {
                row_settings(
                    sh,
                    &["domainkeysconfig", "profiles", "edit"],
                    "Enter the name of the signing profile to edit.",
                    PROFILE_EDIT_QUESTIONS,
                    true,
                )?;
            }
            Some(op @ (2 | 3)) => {
                let verb = if op == 2 { "print" } else { "dnstxt" };
                while let Some(name) = sh.ask_some("Enter the name of the signing profile.")? {
                    if sh.run(&["domainkeysconfig", "profiles", verb, &name])? {
                        break;
                    }
                }
            }
            Some(_) => {
                on_row(
                    sh,
                    &["domainkeysconfig", "profiles", "delete"],
                    "Enter the name of the signing profile to delete.",
                )?;
            }
        }
    }
}

/// `<command> policy <listener> <mail flow policy> on|off`: the per mail
/// flow policy switch of `domainkeysconfig` and `smtpcallahead`.
fn policy_switch(sh: &mut Shell<'_>, command: &str, feature: &str) -> Result<bool, ConsoleError> {
    sh.until_accepted(|sh| {
        let Some(listener) = sh.ask_some("Enter the name of the listener.")? else {
            return Ok(None);
        };
        let Some(policy) =
            sh.ask_some("Enter the name of the mail flow policy (e.g. RELAYED, ACCEPTED).")?
        else {
            return Ok(None);
        };
        let on = sh.yes_no(&format!("Use {feature} for this policy?"), true)?;
        Ok(Some(words(&[
            command,
            "policy",
            &listener,
            &policy,
            if on { "on" } else { "off" },
        ])))
    })
}

/// `dmarcconfig`: AsyncOS's NEW, EDIT, DELETE and SETUP of verification
/// profiles. EDIT asks the three actions, each defaulting to what is set.
pub(super) fn dmarcconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["dmarcconfig", "print"])?;
        let ops = [
            ("NEW", "Create a new DMARC verification profile."),
            ("EDIT", "Modify a DMARC verification profile."),
            ("DELETE", "Delete a DMARC verification profile."),
            ("SETUP", "Change the DNS budget and DKIM signature limit."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                let made = on_row(
                    sh,
                    &["dmarcconfig", "new"],
                    "Enter the name of the new DMARC verification profile.",
                )?;
                if made {
                    sh.show("Use EDIT to change its actions.")?;
                }
            }
            Some(1) => dmarc_edit(sh)?,
            Some(2) => {
                on_row(
                    sh,
                    &["dmarcconfig", "delete"],
                    "Enter the name of the profile to delete (DEFAULT and profiles in use cannot be deleted).",
                )?;
            }
            Some(_) => {
                #[rustfmt::skip]
                const Q: &[(&str, &str)] = &[
                    ("dns-budget", "Enter the seconds all of one message's DNS work may take (1-300)."),
                    ("max-dkim-signatures", "Enter how many DKIM signatures of a message are verified (1-50)."),
                ];
                edit_settings(sh, &["dmarcconfig", "setup"], Q)?;
            }
        }
    }
}

fn dmarc_edit(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    let Some(profile) = sh.ask_some("Enter the name of the profile to edit.")? else {
        return Ok(());
    };
    // p=reject: No Action, Quarantine or Reject.
    sh.until_accepted(|sh| {
        let a = sh.ask(
            "Message action when the policy is reject (p=reject): none, quarantine or reject. Enter keeps it.",
            "",
        )?;
        let mut args = words(&["dmarcconfig", "edit", &profile, "reject"]);
        match a.to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "none" => args.push("none".into()),
            "quarantine" => {
                args.push("quarantine".into());
                args.push(sh.ask("Enter the quarantine.", "Policy")?);
            }
            _ => {
                args.push(a);
                args.push(sh.ask("Enter the SMTP reject code (5xx).", "550")?);
                args.push(sh.ask(
                    "Enter the SMTP reject text.",
                    "5.7.1 DMARC unauthenticated mail is prohibited",
                )?);
            }
        }
        Ok(Some(args))
    })?;
    // p=quarantine: No Action or Quarantine.
    sh.until_accepted(|sh| {
        let a = sh.ask(
            "Message action when the policy is quarantine (p=quarantine): none or quarantine. Enter keeps it.",
            "",
        )?;
        let mut args = words(&["dmarcconfig", "edit", &profile, "quarantine"]);
        match a.to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "quarantine" => {
                args.push(a);
                args.push(sh.ask("Enter the quarantine.", "Policy")?);
            }
            _ => args.push(a),
        }
        Ok(Some(args))
    })?;
    sh.until_accepted(|sh| {
        Ok(sh
            .ask_some("Message action on a temporary failure: accept or reject. Enter keeps it.")?
            .and_then(|a| cmd(&["dmarcconfig", "edit", &profile, "temperror"], vec![a])))
    })?;
    Ok(())
}

#[rustfmt::skip]
const CALLAHEAD_QUESTIONS: &[(&str, &str)] = &[
    ("type", "Call-Ahead server type: deliveryhost (use the delivery host) or static (static call-ahead servers)."),
    ("servers", "Enter the static call-ahead servers: host[:port],... (static only)."),
    ("mailfrom", "Enter the MAIL FROM address of the probe (empty: <>)."),
    ("interface", "Enter the interface the probe leaves from, or auto."),
    ("timeout", "Enter the validation request timeout in seconds (1-600)."),
    ("failure", "Validation failure action: accept or reject."),
    ("failure-code", "Enter the SMTP code when the failure action rejects (4xx or 5xx)."),
    ("failure-text", "Enter the SMTP text when the failure action rejects."),
    ("max-connections", "Enter the maximum connections to one server (1-100)."),
    ("cache-size", "Enter the number of answers cached (0-1000000)."),
    ("cache-ttl", "Enter the seconds a cached answer is used (0-86400)."),
];

/// `smtpcallahead`: AsyncOS's NEW, EDIT, DELETE of call-ahead profiles,
/// then where a profile applies and the running cache.
pub(super) fn smtpcallahead(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["smtpcallahead", "print"])?;
        let ops = [
            ("NEW", "Create a new SMTP Call-Ahead profile."),
            ("EDIT", "Modify an SMTP Call-Ahead profile."),
            ("DELETE", "Delete an SMTP Call-Ahead profile."),
            ("LISTENER", "Use a profile on a listener (or none)."),
            (
                "POLICY",
                "Turn SMTP Call-Ahead on or off for a mail flow policy.",
            ),
            ("FLUSHCACHE", "Flush the SMTP Call-Ahead cache."),
            ("STATUS", "Display the SMTP Call-Ahead counters."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                row_settings(
                    sh,
                    &["smtpcallahead", "new"],
                    "Enter a name for the SMTP Call-Ahead profile.",
                    CALLAHEAD_QUESTIONS,
                    false,
                )?;
            }
            Some(1) => {
                row_settings(
                    sh,
                    &["smtpcallahead", "edit"],
                    "Enter the name of the profile to edit.",
                    CALLAHEAD_QUESTIONS,
                    true,
                )?;
            }
            Some(2) => {
                on_row(
                    sh,
                    &["smtpcallahead", "delete"],
                    "Enter the name of the profile to delete (its listeners are detached).",
                )?;
            }
            Some(3) => {
                sh.until_accepted(|sh| {
                    let Some(listener) = sh.ask_some("Enter the name of the listener.")? else {
                        return Ok(None);
                    };
                    let profile =
                        sh.ask("Enter the SMTP Call-Ahead profile to use, or none.", "none")?;
                    Ok(Some(words(&[
                        "smtpcallahead",
                        "listener",
                        &listener,
                        &profile,
                    ])))
                })?;
            }
            Some(4) => {
                policy_switch(sh, "smtpcallahead", "SMTP Call-Ahead")?;
            }
            Some(5) => {
                sh.run(&["smtpcallahead", "flushcache"])?;
            }
            Some(_) => {
                sh.run(&["smtpcallahead", "status"])?;
            }
        }
    }
}

/// `bvconfig`: AsyncOS's KEY, PURGE, CLEAR and SETUP, plus the tagging
/// and untagged-bounce switches that AsyncOS keeps in destination
/// controls and mail flow policies.
pub(super) fn bvconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["bvconfig", "print"])?;
        let ops = [
            ("KEY", "Assign a new key."),
            ("PURGE", "Purge keys no longer needed."),
            ("CLEAR", "Clear all keys including current key."),
            (
                "SETUP",
                "Set how bounce messages failing verification will be handled.",
            ),
            (
                "TAGGING",
                "Bounce Verification: perform address tagging, per destination.",
            ),
            (
                "UNTAGGED",
                "Consider untagged bounces valid, per mail flow policy.",
            ),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                sh.until_accepted_input(|sh| {
                    let key = sh.ask(
                        "Enter the key to tag reply-to addresses with (10 to 1024 characters), or Enter for a random key.",
                        "",
                    )?;
                    Ok(Some(if key.is_empty() {
                        (words(&["bvconfig", "new"]), None)
                    } else {
                        // Through standard input, as `bvconfig new -`: the
                        // secret stays out of the command's words.
                        (words(&["bvconfig", "new", "-"]), Some(key))
                    }))
                })?;
            }
            Some(1) => {
                on_row(
                    sh,
                    &["bvconfig", "purge"],
                    "Purge keys added more than how many days ago? (the current key is kept)",
                )?;
            }
            Some(2) => {
                if sh.may_change()?
                    && sh.yes_no(
                        "Clear every key? Mail is no longer tagged and bounces no longer verified.",
                        false,
                    )?
                {
                    sh.run(&["bvconfig", "clear"])?;
                }
            }
            Some(3) => bv_setup(sh)?,
            Some(4) => {
                sh.until_accepted(|sh| {
                    let Some(dest) = sh.ask_some(
                        "Enter the destination domain (a destconfig entry), or default.",
                    )?
                    else {
                        return Ok(None);
                    };
                    let on = sh.ask(
                        "Perform address tagging: on, off (or default, to follow the default).",
                        "on",
                    )?;
                    Ok(Some(words(&["bvconfig", "tagging", &dest, &on])))
                })?;
            }
            Some(_) => {
                sh.until_accepted(|sh| {
                    let Some(listener) = sh.ask_some("Enter the name of the listener.")? else {
                        return Ok(None);
                    };
                    let Some(policy) = sh.ask_some("Enter the name of the mail flow policy.")?
                    else {
                        return Ok(None);
                    };
                    let valid = sh.yes_no("Consider untagged bounces to be valid?", false)?;
                    Ok(Some(words(&[
                        "bvconfig",
                        "untagged",
                        &listener,
                        &policy,
                        if valid { "valid" } else { "invalid" },
                    ])))
                })?;
            }
        }
    }
}

fn bv_setup(sh: &mut Shell<'_>) -> Result<(), ConsoleError> {
    sh.until_accepted(|sh| {
        let ops = [("1", "Reject."), ("2", "Add a custom header and deliver.")];
        sh.show("How do you want bounce messages which are not valid to be handled?")?;
        let Some(choice) = sh.choose(&ops)? else {
            return Ok(None);
        };
        if choice == 0 {
            return Ok(Some(words(&["bvconfig", "setup", "reject"])));
        }
        let name = sh.ask("Enter the header name:", "X-IronPort-Invalid-Bounce")?;
        let value = sh.ask("Enter the header content:", "Bounce verification failed")?;
        Ok(Some(words(&["bvconfig", "setup", "header", &name, &value])))
    })?;
    Ok(())
}

#[rustfmt::skip]
const FLOW_POLICY_QUESTIONS: &[(&str, &str)] = &[
    ("spf", "Use SPF/SIDF Verification: on or off."),
    ("spf-conformance", "Conformance Level: spf-only, sidf-compatible or sidf-strict."),
    ("dkim", "Use DKIM Verification: on or off."),
    ("dmarc", "Use DMARC Verification: on or off."),
    ("dmarc-profile", "Enter the DMARC verification profile to use."),
    ("callahead", "SMTP Call-Ahead: on or off."),
    ("untagged-bounces", "Consider untagged bounces to be valid: valid or invalid."),
    ("dkim-signing", "Domain Key/DKIM Signing: on or off."),
];

/// `listenerconfig` > EDIT > SECURITY: one mail flow policy's security
/// features, where AsyncOS edits them (`hostaccess editpolicy P --spf ...`),
/// shown before and after (`hostaccess detail policy P`).
pub(super) fn flow_policy(sh: &mut Shell<'_>, listener: &str) -> Result<(), ConsoleError> {
    let hostaccess = ["listenerconfig", "edit", listener, "hostaccess"];
    while let Some(policy) =
        sh.ask_some("Enter the name of the mail flow policy (e.g. ACCEPTED, RELAYED).")?
    {
        let policy = policy.trim_start_matches('$').to_string();
        if !sh.run(&[&hostaccess[..], &["detail", "policy", &policy]].concat())? {
            continue;
        }
        let base = [&hostaccess[..], &["editpolicy", &policy]].concat();
        if edit_settings(sh, &base, FLOW_POLICY_QUESTIONS)? {
            sh.run(&[&hostaccess[..], &["detail", "policy", &policy]].concat())?;
        }
        return Ok(());
    }
    Ok(())
}
