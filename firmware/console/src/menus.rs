//! The table of interactive commands. A menu gathers answers and runs the
//! batch command of the same change through the daemon, so the menu and
//! the batch form can never disagree.
//!
//! Everything else a command needs is in the catalog of the control
//! protocol (`breakwater_control_proto::catalog`): its summary and usage
//! for `help`, whether the daemon runs it, the names Tab completes. To add
//! a menu (e.g. `filters`): write `fn(&mut Shell, &[String])` in a
//! `menus_*` module and add a [`MenuDef`] line to [`MENUS`] naming a
//! catalog command. Typed with arguments, a command whose menu has
//! `takes_args: false` goes straight to its batch form.

use breakwater_control_proto::catalog;

use super::shell::{Next, Shell};
use super::{
    ConsoleError, menus_access as access, menus_admin as admin, menus_cluster as cluster,
    menus_config as config, menus_cutover as cutover, menus_dayops as dayops,
    menus_delivery as delivery, menus_filters as filters, menus_listener as listener,
    menus_logs as logs, menus_policy as policy, menus_quarantine as quarantine,
    menus_security as security, menus_setup as setup, menus_ssl as ssl, menus_system as system,
};

pub type MenuFn = fn(&mut Shell<'_>, &[String]) -> Result<(), ConsoleError>;

pub struct MenuDef {
    /// The catalog command this menu asks the questions of.
    pub name: &'static str,
    /// The menu also handles the command typed with arguments.
    pub takes_args: bool,
    pub run: MenuFn,
}

const fn menu(name: &'static str, takes_args: bool, run: MenuFn) -> MenuDef {
    MenuDef {
        name,
        takes_args,
        run,
    }
}

pub const MENUS: &[MenuDef] = &[
    menu("systemsetup", false, setup::systemsetup),
    menu("listenerconfig", false, listener::listenerconfig),
    menu("smtproutes", false, config::smtproutes),
    menu("dnsconfig", false, config::dnsconfig),
    menu("interfaceconfig", false, config::interfaceconfig),
    menu("deliveryconfig", false, config::deliveryconfig),
    menu("logconfig", false, config::logconfig),
    menu("adminaccessconfig", false, access::adminaccessconfig),
    menu("sshconfig", false, access::sshconfig),
    menu("sslconfig", false, ssl::sslconfig),
    menu("destconfig", false, delivery::destconfig),
    menu("bounceconfig", false, delivery::bounceconfig),
    menu("filters", false, filters::filters),
    menu("policyconfig", false, policy::policyconfig),
    menu("threatdefenseconfig", false, policy::threatdefenseconfig),
    menu("quarantineconfig", false, quarantine::quarantineconfig),
    menu("quarantine", false, quarantine::quarantine),
    menu("antispamconfig", false, security::antispamconfig),
    menu("domainkeysconfig", false, security::domainkeysconfig),
    menu("dmarcconfig", false, security::dmarcconfig),
    menu("smtpcallahead", false, security::smtpcallahead),
    menu("bvconfig", false, security::bvconfig),
    menu("sethostname", false, system::sethostname),
    menu("settz", false, system::settz),
    menu("settime", false, dayops::settime),
    menu("ntpconfig", false, dayops::ntpconfig),
    menu("alertconfig", false, dayops::alertconfig),
    menu("setgateway", false, system::setgateway),
    menu("saveconfig", false, system::saveconfig),
    menu("loadconfig", false, system::loadconfig),
    menu("findevent", false, logs::findevent),
    menu("tail", true, logs::tail),
    menu("grep", false, logs::grep),
    menu("trace", false, logs::trace),
    menu("hoststatus", false, cutover::hoststatus),
    menu("rate", false, cutover::rate),
    menu("hostrate", false, cutover::hostrate),
    menu("nslookup", false, cutover::nslookup),
    menu("telnet", false, cutover::telnet),
    menu("reboot", true, system::reboot),
    menu("shutdown", true, system::shutdown),
    menu("commit", false, admin::commit),
    menu("clear", false, admin::clear),
    menu("commitdetail", true, admin::commitdetail),
    menu("rollbackconfig", true, admin::rollbackconfig),
    menu("userconfig", true, admin::userconfig),
    menu("passwd", true, admin::passwd),
    menu("version", true, admin::version),
    menu("help", true, admin::help),
    menu("clusterconfig", false, cluster::clusterconfig),
];

pub fn find(name: &str) -> Option<&'static MenuDef> {
    let name = catalog::find(name).map_or(name, |c| c.name);
    MENUS.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// A command the daemon runs (typed in its batch form).
pub fn is_batch(name: &str) -> bool {
    catalog::daemon_command(name).is_some()
}

/// Every command name and alias, for Tab.
pub fn completion_words() -> Vec<String> {
    catalog::all_names()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// Runs one typed line: `quit`, a pasted batch command (`... -`), a menu,
/// or a batch command; anything else is unknown.
pub fn execute(sh: &mut Shell<'_>, words: &[String]) -> Result<Next, ConsoleError> {
    let name = words[0].to_ascii_lowercase();
    if name == "q" || catalog::find(&name).is_some_and(|c| c.name == "quit") {
        return Ok(Next::Logout);
    }
    let batch = is_batch(&name);
    let reads_paste = catalog::daemon_command(&name).is_some_and(|c| c.reads_paste);
    if words.len() > 1 && words.last().is_some_and(|w| w == "-") && reads_paste {
        // As with `breakwater cli`, `-` means "standard input": at the
        // console it is pasted (`certconfig certauthority import NAME -`,
        // `loadconfig -`).
        let text = sh.read_script("Paste the text now. Enter '.' on a line by itself to end.")?;
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        sh.run_input(&args, Some(&text))?;
        return Ok(Next::Prompt);
    }
    if let Some(menu) = find(&name)
        && (words.len() == 1 || menu.takes_args)
    {
        // Clustered: which level to edit first (docs/console.md, "Clusters").
        if cluster::before_menu(sh, menu.name)? {
            (menu.run)(sh, &words[1..])?;
        }
        return Ok(Next::Prompt);
    }
    if batch {
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        sh.run(&args)?;
    } else {
        sh.term.println(&format!(
            "Unknown command: {}. Type \"help\" for the list of commands.",
            words[0]
        ))?;
    }
    Ok(Next::Prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_menu_names_a_catalog_command_once() {
        for (i, m) in MENUS.iter().enumerate() {
            let command = catalog::find(m.name);
            assert_eq!(command.map(|c| c.name), Some(m.name), "{}", m.name);
            assert!(
                MENUS[..i].iter().all(|other| other.name != m.name),
                "{} has two menus",
                m.name
            );
        }
    }

    #[test]
    fn the_console_s_own_commands_have_menus() {
        for c in catalog::CATALOG {
            if !c.runs_on_daemon() && c.name != "quit" {
                assert!(find(c.name).is_some(), "{} has no menu", c.name);
            }
        }
    }

    #[test]
    fn every_completable_command_has_help() {
        for word in completion_words() {
            assert!(catalog::help(&word).is_some(), "no help for {word}");
        }
    }
}
