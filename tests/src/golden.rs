//! Golden transcripts: operator-visible output of a fixed scenario, kept
//! under `tests/golden/` and compared after [`normalise`] took out what
//! differs from run to run. `BREAKWATER_BLESS=1 cargo test -p
//! breakwater-e2e --test golden_output` rewrites them from the current
//! output; review `git diff` before committing.

use std::path::PathBuf;

use regex::Regex;

/// The environment variable that rewrites golden files instead of
/// comparing against them.
pub const BLESS_ENV: &str = "BREAKWATER_BLESS";

/// Replaces the parts of operator output that change between runs of the
/// same scenario with placeholders, and nothing else:
/// - times (`Sun Dec  6 10:22:23 2026`, the day padded with a space as
///   AsyncOS does, with an optional zone: `CST`, `+0530`) → `<TIME>`: the
///   clock;
/// - 127.0.0.0/8 addresses → `<IP>` and the port after one → `<PORT>`:
///   every test runs on a loopback subnet of its own;
/// - `ready N bytes` → `ready <SIZE> bytes`: the gateway's `Received:`
///   header holds the time, so its length varies;
/// - the sink's `queued as ID` → `queued as <ID>`;
/// - `Rates (per hour)` values → `<RATE>`: they divide by the uptime.
#[must_use]
pub fn normalise(text: &str) -> String {
    let rules: [(&str, &str); 6] = [
        (
            r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}( [A-Z]{2,5}\b| [+-]\d{2}:?\d{2})?",
            "<TIME>",
        ),
        (r"\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d+\b", "<IP>:<PORT>"),
        (r"\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "<IP>"),
        (r"\bport \d+\b", "port <PORT>"),
        (r"ready \d+ bytes", "ready <SIZE> bytes"),
        (r"queued as [0-9A-Za-z]+", "queued as <ID>"),
    ];
    let mut out = text.to_string();
    for (pattern, with) in rules {
        let re = Regex::new(pattern).expect("static regex");
        out = re.replace_all(&out, with).into_owned();
    }
    // The value is right-aligned: `<RATE>` keeps the line's width, so a
    // fast run's `36000.0` and a slow one's `360.0` read the same.
    let rate = Regex::new(r"(?m)^(    (?:Messages Received|Recipients Delivered))( +\d+\.\d)$")
        .expect("static regex");
    rate.replace_all(&out, |c: &regex::Captures<'_>| {
        format!("{}{:>width$}", &c[1], "<RATE>", width = c[2].len())
    })
    .into_owned()
}

/// Compares `actual` (already normalised) with `tests/golden/<name>`, or
/// rewrites the file when [`BLESS_ENV`] is `1`.
///
/// # Panics
/// When the file is missing or differs: the message names the first line
/// that differs.
pub fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name);
    if std::env::var(BLESS_ENV).is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("golden dir");
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
        assert_eq!(
            e,
            a,
            "{} differs at line {n} (run with {BLESS_ENV}=1 to accept the new output)\nactual output:\n{actual}",
            path.display()
        );
        if e.is_none() {
            break;
        }
    }
    panic!("{} differs in line endings", path.display());
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn normalise_replaces_only_what_varies() {
        let text = "Status as of:                Sun Dec  6 10:22:23 2026 CST\n\
                    Tue Nov 24 01:06:39 2026 Info: New SMTP DCID 3 interface 127.4.9.1 address 127.4.9.25 port 2525\n\
                    Tue Nov 24 01:06:39 2026 Info: MID 1 ready 412 bytes from <a@b.example>\n\
                    \x20   Messages Received                 3600.0\n\
                    \x20   Messages Received                36000.0\n\
                    \x20   Messages Received                      1\n";
        assert_eq!(
            normalise(text),
            "Status as of:                <TIME>\n\
             <TIME> Info: New SMTP DCID 3 interface <IP> address <IP> port <PORT>\n\
             <TIME> Info: MID 1 ready <SIZE> bytes from <a@b.example>\n\
             \x20   Messages Received                 <RATE>\n\
             \x20   Messages Received                 <RATE>\n\
             \x20   Messages Received                      1\n"
        );
    }
}
