//! The cut-over commands typed alone, as AsyncOS asks them: `hoststatus`
//! and `hostrate` ask the recipient host, `rate` and `hostrate` the
//! seconds between lines and then print a line each interval until
//! Ctrl-C, `nslookup` asks the name and the query type, `telnet` the
//! interface, the host and the port. Each runs the batch form of the same
//! command (docs/cli.md, "Cut-over monitoring and network checks").

use super::ConsoleError;
use super::menus_config::numbered;
use super::shell::Shell;

/// AsyncOS's default seconds between two lines.
const DEFAULT_INTERVAL: &str = "10";

pub(super) fn hoststatus(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let Some(host) = sh.ask_some("Recipient host:")? else {
        return Ok(());
    };
    sh.run(&["hoststatus", &host]).map(drop)
}

pub(super) fn rate(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    watch(sh, &["rate"])
}

pub(super) fn hostrate(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let Some(host) = sh.ask_some("Recipient host:")? else {
        return Ok(());
    };
    watch(sh, &["hostrate", &host])
}

/// Asks the interval, then prints `command INTERVAL 1`'s header once and
/// its line each interval until Ctrl-C (the key is read between lines).
fn watch(sh: &mut Shell<'_>, command: &[&str]) -> Result<(), ConsoleError> {
    let interval = sh.ask(
        "Enter the number of seconds between displays.",
        DEFAULT_INTERVAL,
    )?;
    sh.show("Hit Ctrl-C to return to the main prompt.")?;
    let mut first = true;
    loop {
        let mut args = command.to_vec();
        args.extend([interval.as_str(), "1"]);
        let r = sh.call(&args, None)?;
        if !r.ok {
            return sh.show(&r.output);
        }
        let text = if first {
            r.output.as_str()
        } else {
            // The header again is noise: only the new line.
            r.output.trim_end().rsplit('\n').next().unwrap_or_default()
        };
        sh.show(text)?;
        first = false;
        match sh.term.poll_key()? {
            Some(0x03) => {
                sh.term.println("^C")?;
                return Ok(());
            }
            Some(0x04) => return Err(ConsoleError::Eof),
            _ => {}
        }
    }
}

pub(super) fn nslookup(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let Some(name) = sh.ask_some("Please enter the host or IP address to resolve.")? else {
        return Ok(());
    };
    let types = ["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "TXT"];
    let kind = numbered(
        sh,
        "Choose the query type:",
        &[
            "A the host's IP address",
            "AAAA the host's IPv6 address",
            "CNAME the canonical name for an alias",
            "MX the mail exchanger",
            "NS the name server for the named zone",
            "PTR the hostname if the query is an Internet address",
            "SOA the \"start of authority\" record",
            "TXT the text information",
        ],
        0,
    )?;
    sh.run(&["nslookup", &name, types[kind]]).map(drop)
}

pub(super) fn telnet(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let interfaces = ["auto", "Data 1", "Data 2", "Management"];
    let from = numbered(
        sh,
        "Please select which interface you want to telnet from.",
        &[
            "Auto",
            "Data 1",
            "Data 2 (the delivery interface on the factory configuration)",
            "Management",
        ],
        2,
    )?;
    let Some(host) = sh.ask_some("Enter the remote hostname or IP address.")? else {
        return Ok(());
    };
    let port = sh.ask("Enter the remote port.", "25")?;
    sh.run(&["telnet", &host, &port, interfaces[from]])
        .map(drop)
}
