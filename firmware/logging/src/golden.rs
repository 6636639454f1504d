//! Golden files: expected output kept under `firmware/logging/tests/golden/` and
//! compared byte for byte, so a change to what users read (mail_logs
//! lines, command output) shows up as a diff in review.
//!
//! `BREAKWATER_BLESS=1 cargo test -p breakwater-logging <test>` rewrites the
//! files from what the code prints now; review `git diff` before committing.

use std::path::PathBuf;

/// The environment variable that rewrites golden files instead of
/// comparing against them.
pub(crate) const BLESS_ENV: &str = "BREAKWATER_BLESS";

/// Where golden file `name` lives.
pub(crate) fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with golden file `name` (or rewrites it when blessing),
/// failing with the first line that differs.
pub(crate) fn check(name: &str, actual: &str) {
    let path = path(name);
    if std::env::var(BLESS_ENV).is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with {BLESS_ENV}=1 to create it)",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (mut exp, mut act) = (expected.lines(), actual.lines());
    for n in 1.. {
        let (e, a) = (exp.next(), act.next());
        if e != a {
            panic!(
                "{} differs at line {n}:\n expected: {e:?}\n   actual: {a:?}\n(run with {BLESS_ENV}=1 to accept the new output)",
                path.display()
            );
        }
        if e.is_none() {
            break;
        }
    }
    panic!("{} differs in line endings", path.display());
}
