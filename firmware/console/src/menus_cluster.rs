//! Clusters at the console (issue 20, docs/decisions/0020): the mode in
//! the prompt (`(Cluster Hosted_Cluster)> `), the question a configuration
//! menu asks first when its settings are defined at another level than
//! the current mode's ("press Return to edit the filters in cluster
//! mode"), and the `clusterconfig` menu.
//!
//! Everything here reads the answers of the batch commands `clustermode`,
//! `clusterconfig` and `clusterconfig levels COMMAND` (their texts are in
//! docs/cli.md) and runs `clusterconfig override` and `clustermode`: the
//! control plane decides, the console only asks. The parsers are pure and
//! unit-tested against those texts.

use std::fmt;

use breakwater_control_proto::catalog;

use super::ConsoleError;
use super::menus_config::words;
use super::shell::Shell;

/// What `clustermode` prints before the mode.
pub const MODE_PREFIX: &str = "Current mode: ";

/// One of the three levels, as the CLI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LevelKind {
    Cluster,
    Group,
    Machine,
}

impl LevelKind {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "Cluster" => Some(Self::Cluster),
            "Group" => Some(Self::Group),
            "Machine" => Some(Self::Machine),
            _ => None,
        }
    }

    /// The word `clustermode` and `clusterconfig override` take.
    pub fn word(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Group => "group",
            Self::Machine => "machine",
        }
    }
}

/// A level with its name: `Cluster Hosted_Cluster`, `Group Main_Group`,
/// `Machine esa1.myesa.com` (also a mode: the level a user edits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub kind: LevelKind,
    pub name: String,
}

impl Level {
    /// `Cluster Hosted_Cluster` (the kind's word, one space, a name
    /// without spaces); anything after the name is not part of it.
    pub fn parse(text: &str) -> Option<Self> {
        let mut w = text.split_whitespace();
        let kind = LevelKind::parse(w.next()?)?;
        let name = w.next()?.to_string();
        Some(Self { kind, name })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            LevelKind::Cluster => "Cluster",
            LevelKind::Group => "Group",
            LevelKind::Machine => "Machine",
        };
        write!(f, "{kind} {}", self.name)
    }
}

/// The mode in `clustermode`'s answer (`Current mode: Cluster C`).
pub fn parse_mode(output: &str) -> Option<Level> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(MODE_PREFIX))
        .and_then(Level::parse)
}

/// The prompt for `mode` (clustered), or the host name's.
pub fn prompt(mode: Option<&Level>, hostname: &str) -> String {
    match mode {
        Some(m) => format!("({m})> "),
        None => format!("{hostname}> "),
    }
}

/// This machine's place in its cluster, from `clusterconfig`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub cluster: String,
    pub machine: String,
    pub group: String,
}

impl Membership {
    /// `Cluster C` / `Machine: M (group G)`; `None` when standalone.
    pub fn parse(output: &str) -> Option<Self> {
        let mut cluster = None;
        let mut place = None;
        for line in output.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("Machine: ") {
                let (machine, group) = rest.split_once(" (group ")?;
                place = Some((machine.trim().to_string(), group.trim_end_matches(')')));
            } else if let Some(name) = line.strip_prefix("Cluster ")
                && cluster.is_none()
            {
                cluster = Some(name.trim().to_string());
            }
        }
        let (machine, group) = place?;
        Some(Self {
            cluster: cluster?,
            machine,
            group: group.trim().to_string(),
        })
    }

    pub fn level(&self, kind: LevelKind) -> Level {
        let name = match kind {
            LevelKind::Cluster => &self.cluster,
            LevelKind::Group => &self.group,
            LevelKind::Machine => &self.machine,
        };
        Level {
            kind,
            name: name.clone(),
        }
    }
}

/// One row of `clusterconfig levels`: a section and the level that
/// defines it for this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionLevel {
    pub section: String,
    pub defined_in: Level,
    /// A machine setting (`(machine setting)`): never shared, so it
    /// cannot be copied to a group.
    pub machine_setting: bool,
}

/// The rows of a `clusterconfig levels [SECTION|COMMAND]` table
/// (`Section  Defined in` header, then `listeners  Cluster C`); lines that
/// are not rows (the header, notes) are skipped.
pub fn parse_levels(output: &str) -> Vec<SectionLevel> {
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let (section, rest) = line.split_once(char::is_whitespace)?;
            let defined_in = Level::parse(rest.trim())?;
            Some(SectionLevel {
                section: section.to_string(),
                defined_in,
                machine_setting: rest.contains("(machine setting)"),
            })
        })
        .collect()
}

/// One answer of the level question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChoice {
    pub level: Level,
    /// The sections to copy to `level` first (`clusterconfig override`).
    pub copies: Vec<String>,
}

impl LevelChoice {
    fn label(&self) -> String {
        match (self.level.kind, self.copies.is_empty()) {
            (_, true) => self.level.to_string(),
            (LevelKind::Group, false) => {
                format!("{} (copy the settings to this group)", self.level)
            }
            (_, false) => format!("{} (copy the settings to this machine)", self.level),
        }
    }
}

/// The level question for a command whose sections are `rows`, asked in
/// `mode`: `None` when there is nothing to ask (the mode's level defines
/// every section, or nothing is known), else the text and the choices
/// with the index of the default: the level that defines them (the most
/// specific one, if the sections are spread over several).
pub fn level_question(
    command: &str,
    mode: &Level,
    me: &Membership,
    rows: &[SectionLevel],
) -> Option<(String, Vec<LevelChoice>, usize)> {
    let deepest = rows.iter().map(|r| r.defined_in.kind).max()?;
    if rows.iter().all(|r| r.defined_in == *mode) {
        return None;
    }
    let machine_only = rows.iter().any(|r| r.machine_setting);
    let mut choices: Vec<LevelChoice> = Vec::new();
    // Editing in the current, less specific, mode stays possible (the
    // cluster's settings, used by the machines that do not override
    // them); it is offered, never the default.
    if mode.kind < deepest && !machine_only {
        choices.push(LevelChoice {
            level: mode.clone(),
            copies: Vec::new(),
        });
    }
    for kind in [LevelKind::Cluster, LevelKind::Group, LevelKind::Machine] {
        if kind < deepest || (machine_only && kind != LevelKind::Machine) {
            continue;
        }
        let copies = rows
            .iter()
            .filter(|r| r.defined_in.kind < kind && !r.machine_setting)
            .map(|r| r.section.clone())
            .collect();
        choices.push(LevelChoice {
            level: me.level(kind),
            copies,
        });
    }
    let default = choices
        .iter()
        .position(|c| c.level.kind == deepest)
        .unwrap_or(0);
    let mut text = if machine_only {
        format!(
            "\"{command}\" edits machine settings of {}.",
            me.level(LevelKind::Machine)
        )
    } else if rows.iter().all(|r| r.defined_in == rows[0].defined_in) {
        format!(
            "The settings of \"{command}\" are defined in {}.",
            rows[0].defined_in
        )
    } else {
        let where_: Vec<String> = rows
            .iter()
            .map(|r| format!("{} in {}", r.section, r.defined_in))
            .collect();
        format!(
            "The settings of \"{command}\" are defined in several levels: {}.",
            where_.join(", ")
        )
    };
    text.push_str("\nChoose the mode to edit them in:");
    for (i, c) in choices.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", i + 1, c.label()));
    }
    Some((text, choices, default))
}

/// Whether `command` (as typed) may change the mode or the membership:
/// the prompt asks `clustermode` again after it.
pub fn changes_mode(command: &str) -> bool {
    let name = catalog::find(command).map_or(command, |c| c.name);
    ["clustermode", "clusterconfig"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

/// Commands that act at the current mode's level themselves, or are the
/// cluster's own: no question before them.
const NO_QUESTION: &[&str] = &[
    "commit",
    "clear",
    "rollbackconfig",
    "loadconfig",
    "saveconfig",
    "systemsetup",
    "clusterconfig",
    "clustermode",
];

/// Asks the level question before the menu of `command` when the box is
/// clustered and its settings are defined at another level than the
/// current mode's; copies them (`clusterconfig override`) and switches
/// the mode (`clustermode`) as answered. False when the menu must not run
/// (a copy or the switch was refused: the answer says why).
pub(super) fn before_menu(sh: &mut Shell<'_>, command: &str) -> Result<bool, ConsoleError> {
    let Some(mode) = sh.mode.clone() else {
        return Ok(true);
    };
    let changes = catalog::find(command).is_some_and(|c| c.changes_config);
    if !changes || NO_QUESTION.contains(&command) || !sh.session.role.can_change_config() {
        return Ok(true);
    }
    let show = sh.call(&["clusterconfig"], None)?;
    let Some(me) = show.ok.then(|| Membership::parse(&show.output)).flatten() else {
        return Ok(true);
    };
    let levels = sh.call(&["clusterconfig", "levels", command], None)?;
    if !levels.ok {
        return Ok(true);
    }
    let rows = parse_levels(&levels.output);
    let Some((text, choices, default)) = level_question(command, &mode, &me, &rows) else {
        return Ok(true);
    };
    let choice = loop {
        let answer = sh.ask(&text, &(default + 1).to_string())?;
        match answer.parse::<usize>() {
            Ok(n) if (1..=choices.len()).contains(&n) => break &choices[n - 1],
            _ => sh.show(&format!(
                "Enter a number from 1 to {}, or press Return for {}.",
                choices.len(),
                default + 1
            ))?,
        }
    };
    for section in &choice.copies {
        if !sh.run(&[
            "clusterconfig",
            "override",
            section,
            choice.level.kind.word(),
        ])? {
            return Ok(false);
        }
    }
    if choice.level != mode {
        let ok = switch_mode(sh, &choice.level)?;
        return Ok(ok);
    }
    Ok(true)
}

/// `clustermode cluster|group G|machine M`, then the prompt follows.
fn switch_mode(sh: &mut Shell<'_>, level: &Level) -> Result<bool, ConsoleError> {
    let args: Vec<&str> = match level.kind {
        LevelKind::Cluster => vec!["clustermode", "cluster"],
        kind => vec!["clustermode", kind.word(), &level.name],
    };
    let ok = sh.run(&args)?;
    sh.refresh_mode()?;
    Ok(ok)
}

/// `clusterconfig`: the cluster as this machine sees it, and what can be
/// done with it: members, levels, groups, the mode, `clustercheck`;
/// standalone, creating or joining one.
pub(super) fn clusterconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let show = sh.call(&["clusterconfig"], None)?;
        sh.show(&show.output)?;
        if !show.ok {
            return Ok(());
        }
        let Some(me) = Membership::parse(&show.output) else {
            if standalone(sh)? {
                sh.refresh_mode()?;
                continue;
            }
            return Ok(());
        };
        let ops = [
            ("LIST", "List the machines in the cluster."),
            ("LEVELS", "Show which level defines each section."),
            (
                "CHECK",
                "Compare the configuration of the machines (clustercheck).",
            ),
            ("MODE", "Change the mode (the level your changes go to)."),
            ("ADDGROUP", "Add a cluster group."),
            ("SETGROUP", "Set the group of a machine."),
            ("DELETEGROUP", "Remove a group that has no machines."),
            (
                "OVERRIDE",
                "Copy a section's settings to this machine or its group.",
            ),
            (
                "INHERIT",
                "Delete this machine's or its group's settings of a section.",
            ),
        ];
        let Some(op) = sh.choose(&ops)? else {
            return Ok(());
        };
        match op {
            0 => {
                sh.run(&["clusterconfig", "list"])?;
            }
            1 => {
                let section = sh.ask(
                    "Enter a section or a command (e.g. listeners, filters), or press Return for all.",
                    "",
                )?;
                let mut args = vec!["clusterconfig", "levels"];
                if !section.is_empty() {
                    args.push(&section);
                }
                sh.run(&args)?;
            }
            2 => {
                sh.run(&["clustercheck"])?;
            }
            3 => choose_mode(sh, &me)?,
            4 => {
                sh.until_accepted(|sh| {
                    let g = sh.ask_some("Enter the name of the new group.")?;
                    Ok(g.map(|g| words(&["clusterconfig", "addgroup", &g])))
                })?;
            }
            5 => {
                sh.run(&["clusterconfig", "list"])?;
                sh.until_accepted(|sh| {
                    let Some(m) = sh.ask_some("Enter the machine to move.")? else {
                        return Ok(None);
                    };
                    let g = sh.ask_some(&format!("Enter the group for {m}."))?;
                    Ok(g.map(|g| words(&["clusterconfig", "setgroup", &m, &g])))
                })?;
            }
            6 => {
                sh.until_accepted(|sh| {
                    let g = sh.ask_some("Enter the name of the group to delete.")?;
                    Ok(g.map(|g| words(&["clusterconfig", "deletegroup", &g])))
                })?;
            }
            op => {
                let verb = if op == 7 { "override" } else { "inherit" };
                section_at_level(sh, verb, &me)?;
            }
        }
    }
}

/// MODE: the three levels of this machine, numbered; switches to one.
fn choose_mode(sh: &mut Shell<'_>, me: &Membership) -> Result<(), ConsoleError> {
    let levels = [LevelKind::Cluster, LevelKind::Group, LevelKind::Machine].map(|k| me.level(k));
    let current = sh.mode.clone();
    let mut text = String::from("Choose the mode:");
    for (i, l) in levels.iter().enumerate() {
        text.push_str(&format!("\n{}. {l}", i + 1));
    }
    let default = current
        .as_ref()
        .and_then(|c| levels.iter().position(|l| l == c))
        .unwrap_or(0);
    loop {
        let answer = sh.ask(&text, &(default + 1).to_string())?;
        match answer.parse::<usize>() {
            Ok(n) if (1..=levels.len()).contains(&n) => {
                if Some(&levels[n - 1]) != current.as_ref() {
                    switch_mode(sh, &levels[n - 1])?;
                }
                return Ok(());
            }
            _ => sh.show("Enter 1, 2 or 3.")?,
        }
    }
}

/// OVERRIDE / INHERIT: a section, then group or machine.
fn section_at_level(sh: &mut Shell<'_>, verb: &str, me: &Membership) -> Result<(), ConsoleError> {
    sh.until_accepted(|sh| {
        let Some(section) = sh.ask_some("Enter the section (see LEVELS), e.g. listeners.")? else {
            return Ok(None);
        };
        let levels = [
            ("GROUP", format!("At the level of Group {}.", me.group)),
            (
                "MACHINE",
                format!("At the level of Machine {}.", me.machine),
            ),
        ];
        let ops: Vec<(&str, &str)> = levels.iter().map(|(n, t)| (*n, t.as_str())).collect();
        Ok(sh.choose(&ops)?.map(|i| {
            let level = if i == 0 { "group" } else { "machine" };
            words(&["clusterconfig", verb, &section, level])
        }))
    })?;
    Ok(())
}

/// Standalone: CREATE or JOIN. True when the box is now clustered.
fn standalone(sh: &mut Shell<'_>) -> Result<bool, ConsoleError> {
    let ops = [
        (
            "CREATE",
            "Create a cluster with this machine as its first member.",
        ),
        (
            "JOIN",
            "Join an existing cluster with a token (clusterconfig token on a member).",
        ),
    ];
    let Some(op) = sh.choose(&ops)? else {
        return Ok(false);
    };
    if op == 0 {
        sh.until_accepted(|sh| {
            let Some(name) = sh.ask_some("Enter the name of the new cluster.")? else {
                return Ok(None);
            };
            let Some(etcd) = sh.ask_some(
                "Enter the etcd endpoints, separated by commas (https://ADDRESS:2379,...).",
            )?
            else {
                return Ok(None);
            };
            let Some(ca) =
                sh.ask_some("Enter the certificate authority that signed etcd's certificate (certconfig certauthority).")?
            else {
                return Ok(None);
            };
            let Some(cert) =
                sh.ask_some("Enter this machine's client certificate for etcd (certconfig).")?
            else {
                return Ok(None);
            };
            let group = sh.ask("Enter the group of this machine.", "Main_Group")?;
            Ok(Some(words(&[
                "clusterconfig", "create", &name, "--etcd", &etcd, "--ca", &ca,
                "--certificate", &cert, "--group", &group,
            ])))
        })
    } else {
        sh.until_accepted(|sh| {
            let Some(token) =
                sh.ask_some("Paste the join token (clusterconfig token on a member).")?
            else {
                return Ok(None);
            };
            let Some(cert) =
                sh.ask_some("Enter this machine's client certificate for etcd (certconfig).")?
            else {
                return Ok(None);
            };
            let group = sh.ask("Enter the group of this machine.", "Main_Group")?;
            Ok(Some(words(&[
                "clusterconfig",
                "join",
                &token,
                "--certificate",
                &cert,
                "--group",
                &group,
            ])))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `clusterconfig` as docs/cli.md shows it.
    const SHOW: &str = "Cluster Hosted_Cluster\n\
        Machine: esa1.myesa.com (group Main_Group)\n\
        Mode: Cluster Hosted_Cluster\n\
        etcd: https://127.9.0.1:2379, https://127.9.0.2:2379, https://127.9.0.3:2379\n\
        Connection: connected (revision 42)\n\
        Running: cluster revision 42\n\
        Members: 3 (clusterconfig list)\n";

    fn me() -> Membership {
        Membership::parse(SHOW).unwrap()
    }

    fn cluster() -> Level {
        Level::parse("Cluster Hosted_Cluster").unwrap()
    }

    #[test]
    fn the_mode_and_the_prompt() {
        let m = parse_mode("Current mode: Cluster Hosted_Cluster\n").unwrap();
        assert_eq!(m, cluster());
        assert_eq!(prompt(Some(&m), "esa1"), "(Cluster Hosted_Cluster)> ");
        let g = parse_mode("Current mode: Group Main_Group").unwrap();
        assert_eq!(prompt(Some(&g), "esa1"), "(Group Main_Group)> ");
        let m = parse_mode("Current mode: Machine esa1.myesa.com").unwrap();
        assert_eq!(prompt(Some(&m), "x"), "(Machine esa1.myesa.com)> ");
        assert_eq!(parse_mode("This appliance is not part of a cluster."), None);
        assert_eq!(prompt(None, "esa1.myesa.com"), "esa1.myesa.com> ");
    }

    #[test]
    fn membership_comes_from_clusterconfig() {
        assert_eq!(
            me(),
            Membership {
                cluster: "Hosted_Cluster".into(),
                machine: "esa1.myesa.com".into(),
                group: "Main_Group".into(),
            }
        );
        assert_eq!(
            Membership::parse("This appliance is not part of a cluster."),
            None
        );
    }

    #[test]
    fn levels_rows_are_read_and_the_header_skipped() {
        let out = "Section      Defined in\n\
                   listeners    Cluster Hosted_Cluster\n\
                   dns          Machine esa1.myesa.com\n\
                   interfaces   Machine esa1.myesa.com (machine setting)\n";
        let rows = parse_levels(out);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].section, "listeners");
        assert_eq!(rows[0].defined_in, cluster());
        assert!(!rows[1].machine_setting);
        assert!(rows[2].machine_setting);
        assert_eq!(rows[2].defined_in.kind, LevelKind::Machine);
    }

    #[test]
    fn filters_in_machine_mode_default_to_the_cluster_as_the_seeds_say() {
        let rows = parse_levels("Section  Defined in\nmessage_filters  Cluster Hosted_Cluster\n");
        let mode = Level::parse("Machine esa1.myesa.com").unwrap();
        let (text, choices, default) = level_question("filters", &mode, &me(), &rows).unwrap();
        assert_eq!(
            text,
            "The settings of \"filters\" are defined in Cluster Hosted_Cluster.\n\
             Choose the mode to edit them in:\n\
             1. Cluster Hosted_Cluster\n\
             2. Group Main_Group (copy the settings to this group)\n\
             3. Machine esa1.myesa.com (copy the settings to this machine)"
        );
        assert_eq!(default, 0);
        assert!(choices[0].copies.is_empty());
        assert_eq!(choices[2].copies, ["message_filters"]);
        assert_eq!(choices[2].level.kind, LevelKind::Machine);
    }

    #[test]
    fn no_question_when_the_mode_defines_the_settings() {
        let rows = parse_levels("listeners  Cluster Hosted_Cluster\n");
        assert!(level_question("listenerconfig", &cluster(), &me(), &rows).is_none());
        assert!(level_question("listenerconfig", &cluster(), &me(), &[]).is_none());
    }

    #[test]
    fn an_override_is_the_default_and_the_cluster_stays_offered() {
        let rows = parse_levels("dns  Machine esa1.myesa.com\n");
        let (text, choices, default) =
            level_question("dnsconfig", &cluster(), &me(), &rows).unwrap();
        assert!(
            text.starts_with(
                "The settings of \"dnsconfig\" are defined in Machine esa1.myesa.com."
            )
        );
        let levels: Vec<String> = choices.iter().map(|c| c.level.to_string()).collect();
        assert_eq!(levels, ["Cluster Hosted_Cluster", "Machine esa1.myesa.com"]);
        assert_eq!(default, 1);
        assert!(choices.iter().all(|c| c.copies.is_empty()));
    }

    #[test]
    fn machine_settings_offer_only_the_machine() {
        let rows = parse_levels("interfaces  Machine esa1.myesa.com (machine setting)\n");
        let (text, choices, default) =
            level_question("interfaceconfig", &cluster(), &me(), &rows).unwrap();
        assert!(
            text.starts_with(
                "\"interfaceconfig\" edits machine settings of Machine esa1.myesa.com."
            )
        );
        assert_eq!(choices.len(), 1);
        assert_eq!(default, 0);
        assert!(choices[0].copies.is_empty());
    }

    #[test]
    fn spread_sections_name_each_level_and_copy_the_rest_down() {
        let rows =
            parse_levels("listeners  Cluster Hosted_Cluster\nsmtp_routes  Group Main_Group\n");
        let (text, choices, default) =
            level_question("listenerconfig", &cluster(), &me(), &rows).unwrap();
        assert!(
            text.contains("listeners in Cluster Hosted_Cluster, smtp_routes in Group Main_Group")
        );
        // Cluster (the current mode), Group (copy listeners), Machine (copy both).
        assert_eq!(choices.len(), 3);
        assert_eq!(default, 1);
        assert_eq!(choices[1].copies, ["listeners"]);
        assert_eq!(choices[2].copies, ["listeners", "smtp_routes"]);
    }
}
