//! The crate graph is the one `docs/architecture.md` draws ("Crates"):
//! every workspace crate is in its table, depends (for its build, not its
//! tests) only on the workspace crates its row allows, and names none of
//! the outside crates its row forbids (a protocol core that cannot name
//! tokio, sled or tracing; sled in the store alone). Cargo already refuses
//! cycles; this makes the rest of the documented rules a failing test
//! instead of a paragraph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// One row of the table: the crate, the workspace crates it may depend
/// on, and the outside crates it must not name.
#[derive(Debug)]
struct Rule {
    may_depend_on: BTreeSet<String>,
    never_names: BTreeSet<String>,
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The "Crates" table of docs/architecture.md: `| crate (path) | holds |
/// may depend on | never names |`, names in backticks.
fn documented_rules(doc: &str) -> BTreeMap<String, Rule> {
    let section = doc
        .split("\n## Crates")
        .nth(1)
        .expect("docs/architecture.md has a \"## Crates\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rules = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert!(cells.len() >= 6, "a Crates row has four cells: {line}");
        let name = backticked(cells[1])
            .into_iter()
            .next()
            .expect("the first cell names the crate");
        let rule = Rule {
            may_depend_on: backticked(cells[3]).into_iter().collect(),
            never_names: backticked(cells[4]).into_iter().collect(),
        };
        assert!(rules.insert(name.clone(), rule).is_none(), "{name} twice");
    }
    rules
}

#[test]
fn every_crate_depends_only_on_what_the_architecture_allows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let rules = documented_rules(&doc);
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let workspace: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();

    let mut problems = Vec::new();
    for name in rules.keys() {
        if !workspace.contains(name) {
            problems.push(format!("{name} is documented but is not a workspace crate"));
        }
    }
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let Some(rule) = rules.get(name) else {
            problems.push(format!(
                "{name} is a workspace crate missing from docs/architecture.md's Crates table"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().unwrap() {
            // Build dependencies of the crate itself; its tests may use more.
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let dep_name = dep["name"].as_str().unwrap();
            if workspace.contains(dep_name) {
                if !rule.may_depend_on.contains(dep_name) {
                    problems.push(format!(
                        "{name} depends on {dep_name}, which its row does not allow"
                    ));
                }
            } else if rule.never_names.contains(dep_name) {
                problems.push(format!("{name} names {dep_name}, which its row forbids"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_table_is_read_as_written() {
    let doc = "intro\n## Crates\n\n| crate | holds | may depend on | never names |\n| --- | --- | --- | --- |\n| `a` (`firmware/a`) | things | `b`, `c` | `sled` |\n| `b` (`firmware/b`) | more | — | `tokio`, `sled` |\n\n## Next\n| `z` | not | read | here |\n";
    let rules = documented_rules(doc);
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules["a"].may_depend_on,
        ["b", "c"].map(String::from).into()
    );
    assert!(rules["b"].may_depend_on.is_empty());
    assert!(rules["b"].never_names.contains("tokio"));
}
