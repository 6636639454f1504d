//! `filters`: message filters, AsyncOS style — NEW (paste a script ended
//! by a line holding only `.`), DELETE, IMPORT, EXPORT, MOVE, SET
//! (active/inactive), LIST and DETAIL. Every operation runs the batch
//! command `filters ...` (see `control::commands::filters`); a pasted
//! script goes to it as standard input, so the console and `breakwater
//! cli filters new < script` check and store it the same way.

use super::ConsoleError;
use super::menus_config::{move_row, numbered_column, on_row, words};
use super::shell::Shell;

/// AsyncOS's words for the paste.
pub(super) const SCRIPT_INTRO: &str = "Enter filter script. Enter '.' on its own line to end.";

/// Asks for a filter by name or number; `None` on Enter. A number that
/// names no filter is refused here, before the operation's own questions
/// are asked; a name goes to the batch command as typed (which says so if
/// there is no such filter).
fn ask_filter(
    sh: &mut Shell<'_>,
    names: &[String],
    question: &str,
) -> Result<Option<String>, ConsoleError> {
    loop {
        let Some(a) = sh.ask_some(question)? else {
            return Ok(None);
        };
        match a.parse::<usize>() {
            Ok(n) if n == 0 || n > names.len() => sh.show(&format!(
                "There is no filter number {n}: enter a number from 1 to {}, or a name.",
                names.len()
            ))?,
            _ => return Ok(Some(a)),
        }
    }
}

/// The filter names of a `filters list` answer (`Num Active Valid Name`).
fn names_of(list: &str) -> Vec<String> {
    numbered_column(list, 3)
}

pub(super) fn filters(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let list = sh.call(&["filters", "list"], None)?.output;
        sh.show(&list)?;
        let names = names_of(&list);
        let ops = [
            ("NEW", "Create a new filter."),
            ("DELETE", "Remove a filter."),
            ("IMPORT", "Replace every filter with a script pasted here."),
            ("EXPORT", "Display every filter as a script IMPORT reads."),
            ("MOVE", "Move a filter to a different position."),
            ("SET", "Set a filter active or inactive."),
            ("LIST", "List the filters."),
            ("DETAIL", "Get detailed information on a filter."),
        ];
        let Some(op) = sh.choose(&ops)? else {
            return Ok(());
        };
        if names.is_empty() && matches!(op, 1 | 4 | 5 | 7) {
            sh.show("There are no message filters; NEW or IMPORT creates them.")?;
            continue;
        }
        match op {
            0 => paste(sh, "new", SCRIPT_INTRO)?,
            1 => {
                on_row(
                    sh,
                    &["filters", "delete"],
                    "Enter the filter name or number to delete.",
                )?;
            }
            2 => import(sh, !names.is_empty())?,
            3 => {
                sh.run(&["filters", "export"])?;
            }
            4 => {
                let last = format!(", {} the last", names.len());
                move_row(sh, &["filters", "move"], "filter", &last)?;
            }
            5 => {
                sh.until_accepted(|sh| {
                    let Some(f) =
                        ask_filter(sh, &names, "Enter the filter name or number to set.")?
                    else {
                        return Ok(None);
                    };
                    let states = [
                        ("ACTIVE", "Use the filter on every message."),
                        ("INACTIVE", "Keep the filter but do not use it."),
                    ];
                    Ok(sh.choose(&states)?.map(|i| {
                        words(&[
                            "filters",
                            "set",
                            &f,
                            if i == 0 { "active" } else { "inactive" },
                        ])
                    }))
                })?;
            }
            6 => {}
            _ => {
                while let Some(f) = sh.ask_some("Enter the filter name or number to display.")? {
                    if sh.run(&["filters", "detail", &f])? {
                        break;
                    }
                }
            }
        }
    }
}

/// NEW (`filters new`) or IMPORT (`filters import`): the pasted script,
/// asked again while it is refused (a syntax error names its line and
/// column; nothing is changed). A `.` alone goes back.
fn paste(sh: &mut Shell<'_>, verb: &str, intro: &str) -> Result<(), ConsoleError> {
    sh.until_accepted_input(|sh| {
        let script = sh.read_script(intro)?;
        if script.trim().is_empty() {
            return Ok(None);
        }
        Ok(Some((words(&["filters", verb]), Some(script))))
    })?;
    Ok(())
}

/// IMPORT: a pasted script that replaces every filter.
fn import(sh: &mut Shell<'_>, existing: bool) -> Result<(), ConsoleError> {
    if !sh.may_change()? {
        return Ok(());
    }
    if existing
        && !sh.yes_no(
            "The imported filters replace every existing filter. Continue?",
            false,
        )?
    {
        return Ok(());
    }
    let intro = format!("Paste the filters to import.\n{SCRIPT_INTRO} (A '.' alone goes back.)");
    paste(sh, "import", &intro)
}

#[cfg(test)]
mod tests {
    use super::names_of;

    #[test]
    fn names_come_from_the_list_in_order() {
        let list =
            "Num Active Valid Name\n1   Y      N     office365_outbound\n2   N      Y     b\n";
        assert_eq!(names_of(list), ["office365_outbound", "b"]);
        assert!(names_of("There are no message filters.").is_empty());
    }
}
