//! `sethostname`, `settz`, `setgateway`, `saveconfig`, `loadconfig`,
//! `reboot` and `shutdown`.

use breakwater_types::clock;

use super::ConsoleError;
use super::shell::Shell;

/// Asks `question` (Enter keeps `current`) and runs `command <answer>`
/// until it is accepted; an unchanged answer runs nothing.
fn set_value(
    sh: &mut Shell<'_>,
    command: &str,
    question: &str,
    current: &str,
) -> Result<(), ConsoleError> {
    sh.until_accepted(|sh| {
        let value = sh.ask(question, current)?;
        Ok((value != current).then(|| vec![command.into(), value]))
    })?;
    Ok(())
}

pub(super) fn sethostname(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let current = sh.state()?.hostname;
    set_value(sh, "sethostname", "Enter the new hostname.", &current)
}

/// AsyncOS's `settz`: the current zone, then a region (`America`), then a
/// zone of that region (`Chicago`); a full name (`UTC`,
/// `America/Chicago`) at the first question is taken as it is.
pub(super) fn settz(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    sh.run(&["settz", "print"])?;
    if !sh.may_change()? {
        return Ok(());
    }
    let mut regions: Vec<&str> = clock::zone_names()
        .filter_map(|n| n.split_once('/').map(|(r, _)| r))
        .collect();
    regions.sort_unstable();
    regions.dedup();
    sh.until_accepted(|sh| {
        let question = format!(
            "Choose your region ({}), or enter a zone name such as UTC.",
            regions.join(", ")
        );
        let Some(region) = sh.ask_some(&question)? else {
            return Ok(None);
        };
        let prefix = format!("{}/", region.to_ascii_lowercase());
        let zones: Vec<&str> = clock::zone_names()
            .filter(|n| n.to_ascii_lowercase().starts_with(&prefix))
            .map(|n| &n[prefix.len()..])
            .collect();
        if zones.is_empty() || clock::parse_zone(&region).is_ok() {
            // A full name, or a typo the daemon names in its refusal.
            return Ok(Some(vec!["settz".into(), region]));
        }
        let question = format!("Choose a zone of {region}: {}.", zones.join(", "));
        let Some(zone) = sh.ask_some(&question)? else {
            return Ok(None);
        };
        Ok(Some(vec!["settz".into(), format!("{region}/{zone}")]))
    })?;
    Ok(())
}

pub(super) fn setgateway(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    if !sh.may_change()? {
        return Ok(());
    }
    let printed = sh.call(&["setgateway", "print"], None)?.output;
    let current = match printed.strip_prefix("Default gateway: ") {
        Some(gw) if gw.parse::<std::net::IpAddr>().is_ok() => gw.to_string(),
        _ => String::new(),
    };
    let question =
        "Enter the new default gateway (an IPv4 address on an interface's subnet, or IPv6).";
    set_value(sh, "setgateway", question, &current)
}

pub(super) fn saveconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let secrets = sh.yes_no(
        "Do you want to include private keys? Files with masked keys load back only on this appliance.",
        false,
    )?;
    loop {
        let name = sh.ask(
            "Enter a name for the file (letters, digits, '.', '_' and '-'), or Enter for a name with the host name and time.",
            "",
        )?;
        let mut a = vec!["saveconfig"];
        if !name.is_empty() {
            a.push(&name);
        }
        if secrets {
            a.push("--include-secrets");
        }
        if sh.run(&a)? {
            return Ok(());
        }
    }
}

pub(super) fn loadconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    if !sh.may_change()? {
        return Ok(());
    }
    let ops = [
        ("PASTE", "Paste the configuration here."),
        (
            "FILE",
            "Load a file saved by saveconfig (in the configuration directory).",
        ),
    ];
    match sh.choose(&ops)? {
        None => Ok(()),
        Some(0) => {
            let text = sh.read_script(
                "Paste the configuration now. Enter '.' on a line by itself to end.",
            )?;
            let r = sh.call(&["loadconfig", "-"], Some(&text))?;
            sh.show(&r.output)
        }
        Some(_) => {
            sh.until_accepted(|sh| {
                let n = sh.ask_some("Enter the name of the file to load.")?;
                Ok(n.map(|n| vec!["loadconfig".into(), n]))
            })?;
            Ok(())
        }
    }
}

fn stop(sh: &mut Shell<'_>, what: &str, question: &str) -> Result<(), ConsoleError> {
    if !sh.may_change()? {
        return Ok(());
    }
    if sh.state()?.staged {
        sh.show(
            "There are uncommitted changes: they are discarded when the mail daemon starts again.",
        )?;
    }
    if !sh.yes_no(question, false)? {
        return Ok(());
    }
    if sh.run(&[what])? {
        // The daemon is going away: end the session now, as AsyncOS
        // disconnects the CLI, rather than at the next prompt.
        return Err(ConsoleError::Eof);
    }
    Ok(())
}

pub(super) fn reboot(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    stop(
        sh,
        "reboot",
        "Are you sure you want to restart the mail daemon?",
    )
}

pub(super) fn shutdown(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    stop(
        sh,
        "shutdown",
        "Are you sure you want to shut down the mail daemon?",
    )
}
