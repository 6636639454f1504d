//! The catalog walked command by command and role by role, and held
//! equal to docs/cli.md's command list.

mod catalog {
    use super::super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    /// An argument list that matches `words` (and, if it is unique, no
    /// earlier form of the command).
    fn sample(words: &[&str]) -> Vec<String> {
        words
            .iter()
            .filter(|w| **w != "**")
            .map(|w| match *w {
                "*" => "x1".to_string(),
                w if w.starts_with("**") => w[2..].to_string(),
                w => w.to_string(),
            })
            .collect()
    }

    #[test]
    fn names_are_unique_lowercase_and_every_command_has_usage_and_summary() {
        let names = all_names();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique, "a name is taken twice");
        for c in CATALOG {
            for name in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
                assert_eq!(name, name.to_ascii_lowercase());
                assert!(!name.starts_with("__"), "{name}: the protocol's own");
            }
            assert!(c.usage.starts_with("usage: "), "{}", c.name);
            assert!(!c.summary.is_empty(), "{}", c.name);
            assert!(help(c.name).is_some_and(|h| h.contains(c.usage)));
        }
    }

    #[test]
    fn every_form_names_its_command_and_stars_come_last() {
        for c in CATALOG {
            for f in c.forms {
                assert_eq!(f.words.first(), Some(&c.name), "{:?}", f.words);
                for (i, w) in f.words.iter().enumerate() {
                    if w.starts_with("**") {
                        assert_eq!(i, f.words.len() - 1, "{:?}", f.words);
                    }
                }
            }
        }
    }

    /// Every command, for every role: each form is permitted exactly to
    /// the roles at or above the one it declares, and so is any other use
    /// of the command.
    #[test]
    fn every_role_may_run_exactly_what_each_form_declares() {
        for c in CATALOG {
            for f in c.forms {
                let a = sample(f.words);
                assert_eq!(c.role_for(&a), f.role, "{:?} is shadowed", f.words);
                for role in Role::ALL {
                    assert_eq!(
                        permitted(role, &a),
                        role.at_least(f.role),
                        "{} running {a:?}",
                        role.name()
                    );
                }
            }
            let other = args(&format!(
                "{} zz-other zz-form zz-more",
                c.name.to_ascii_uppercase()
            ));
            if c.forms.iter().any(|f| f.words.last() == Some(&"**")) {
                continue;
            }
            for role in Role::ALL {
                assert_eq!(
                    permitted(role, &other),
                    role.at_least(c.other),
                    "{} running {other:?}",
                    role.name()
                );
            }
        }
    }

    #[test]
    fn views_are_never_changes_and_guests_see_no_configuration() {
        for c in CATALOG {
            if c.changes_config {
                assert!(c.other.at_least(Operator), "{} changes as a viewer", c.name);
            }
            for f in c.forms {
                if f.role == Guest {
                    assert!(!c.changes_config || f.words.len() > 1, "{:?}", f.words);
                    assert!(
                        matches!(c.answered_by, Daemon | WorkQueue | Config | Users),
                        "{:?}",
                        f.words
                    );
                }
            }
        }
        // A guest reads no configuration, log or message.
        for line in [
            "showconfig",
            "filters export",
            "saveconfig print",
            "tail",
            "showmessage 1",
            "trace -s x",
        ] {
            assert!(!permitted(Guest, &args(line)), "{line}");
        }
    }

    #[test]
    fn include_secrets_anywhere_is_for_admins_only() {
        for line in [
            "saveconfig --include-secrets",
            "saveconfig print --include-secrets",
            "SAVECONFIG name --INCLUDE-SECRETS=yes",
        ] {
            assert!(permitted(Admin, &args(line)), "{line}");
            assert!(!permitted(Operator, &args(line)), "{line}");
        }
        assert!(permitted(ReadOnly, &args("saveconfig print")));
        assert!(permitted(Operator, &args("saveconfig name")));
        assert!(!permitted(ReadOnly, &args("saveconfig name")));
    }

    #[test]
    fn aliases_find_their_command_and_the_console_keeps_its_own() {
        assert_eq!(find("COMMITHISTORY").map(|c| c.name), Some("commitlog"));
        assert!(permitted(ReadOnly, &args("commithistory")));
        assert_eq!(find("exit").map(|c| c.name), Some("quit"));
        assert!(daemon_command("version").is_none());
        assert!(daemon_command("frobnicate").is_none());
        assert!(daemon_command("tophosts").is_some());
        assert!(!daemon_names().contains(&"quit"));
    }
}

/// `docs/cli.md` documents the catalog: its "Commands" list names every
/// command and alias and nothing else, and each command is written out
/// somewhere else in the reference (a heading, a table or an example).
mod docs {
    use super::super::*;

    const CLI_MD: &str = include_str!("../../../docs/cli.md");

    /// Where the "Commands (every command ..." list is.
    fn list_range() -> std::ops::Range<usize> {
        let start = CLI_MD
            .find("\nCommands (every command")
            .expect("docs/cli.md has its Commands list");
        let len = CLI_MD[start..]
            .find("\n\nWho may run what")
            .expect("the list ends");
        start..start + len
    }

    #[test]
    fn the_command_list_of_docs_cli_md_is_the_catalog() {
        let mut listed: Vec<&str> = CLI_MD[list_range()].split('`').skip(1).step_by(2).collect();
        listed.sort_unstable();
        let catalog = all_names();
        let missing: Vec<&&str> = catalog.iter().filter(|n| !listed.contains(n)).collect();
        let unknown: Vec<&&str> = listed.iter().filter(|n| !catalog.contains(n)).collect();
        assert!(missing.is_empty(), "not in docs/cli.md's list: {missing:?}");
        assert!(unknown.is_empty(), "not in the catalog: {unknown:?}");
    }

    #[test]
    fn every_command_is_documented_beyond_the_list() {
        let list = list_range();
        let rest = format!("{}{}", &CLI_MD[..list.start], &CLI_MD[list.end..]);
        for c in CATALOG {
            let n = c.name;
            let written = [
                format!("`{n}`"),
                format!("`{n} "),
                format!("cli {n}"),
                format!("# {n}"),
            ]
            .iter()
            .any(|p| rest.contains(p.as_str()));
            assert!(written, "docs/cli.md does not document {n}");
        }
    }
}
