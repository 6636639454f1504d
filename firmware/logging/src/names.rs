//! AsyncOS's names for rotated logs: `<prefix>.@<%Y%m%dT%H%M%S>.s`, with
//! `.1`, `.2`, ... before `.s` when several rotations fall in one second.
//!
//! Names are the only record of age (mtimes are rewritten by copies and
//! restores), so they must sort by age: the fixed-width stamp does that, and
//! [`next_rotated_path`] never hands out a number below one already used.

use std::io;

use chrono::{NaiveDateTime, SubsecRound as _};

use breakwater_safe_fs::Dir;

const ROTATED_TIME_FORMAT: &str = "%Y%m%dT%H%M%S";

/// Orders rotated files oldest first: (stamp, collision number).
pub(crate) type RotatedKey = (NaiveDateTime, u32);

/// Rotated files of `prefix` in `dir` (names), unsorted. Only names this
/// module produces are listed, so pruning never touches anything else.
pub(crate) fn list_rotated(dir: &Dir, prefix: &str) -> io::Result<Vec<(RotatedKey, String)>> {
    Ok(dir
        .names()?
        .into_iter()
        .filter_map(|name| {
            let name = name.into_string().ok()?;
            let key = parse_rotated_name(prefix, &name)?;
            Some((key, name))
        })
        .collect())
}

/// The name for a file rotated at `now`. Numbering continues above the
/// highest number already used for that second, never into a gap left by
/// pruning: reusing `.s` there would make the newest file sort oldest, and
/// the next prune would delete it.
pub(crate) fn next_rotated_name(dir: &Dir, prefix: &str, now: NaiveDateTime) -> io::Result<String> {
    let now = now.trunc_subsecs(0);
    let first = list_rotated(dir, prefix)?
        .into_iter()
        .filter(|((time, _), _)| *time == now)
        .map(|((_, n), _)| n.saturating_add(1))
        .max()
        .unwrap_or(0);
    let stamp = now.format(ROTATED_TIME_FORMAT).to_string();
    for n in first.. {
        let name = match n {
            0 => format!("{prefix}.@{stamp}.s"),
            n => format!("{prefix}.@{stamp}.{n}.s"),
        };
        // Also skips a same-named file of another kind (a directory, say).
        if !dir.exists(&name)? {
            return Ok(name);
        }
    }
    Err(io::Error::other("no free name for a rotated log"))
}

fn parse_rotated_name(prefix: &str, name: &str) -> Option<RotatedKey> {
    let rest = name
        .strip_prefix(prefix)?
        .strip_prefix(".@")?
        .strip_suffix(".s")?;
    let (stamp, n) = match rest.split_once('.') {
        Some((stamp, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (stamp, n.parse().ok()?)
        }
        Some(_) => return None,
        None => (rest, 0),
    };
    let time = NaiveDateTime::parse_from_str(stamp, ROTATED_TIME_FORMAT).ok()?;
    Some((time, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(h, m, s))
            .unwrap()
    }

    #[test]
    fn parses_only_our_rotated_names() {
        assert_eq!(
            parse_rotated_name("mail", "mail.@20261124T010639.s"),
            Some((at(1, 6, 39), 0))
        );
        assert_eq!(
            parse_rotated_name("mail", "mail.@20261124T010639.12.s"),
            Some((at(1, 6, 39), 12))
        );
        for name in [
            "mail.current",
            "mail.@20261124T010639.x.s",
            "mail.@20261124T010639.+1.s",
            "mail.@2026.s",
            "system.@20261124T010639.s",
        ] {
            assert_eq!(parse_rotated_name("mail", name), None, "{name}");
        }
    }

    #[test]
    fn numbers_continue_above_the_highest_used() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let now = at(1, 6, 39);
        let next = || next_rotated_name(&dir, "mail", now).unwrap();
        assert_eq!(next(), "mail.@20261124T010639.s");
        std::fs::write(tmp.path().join("mail.@20261124T010639.3.s"), "").unwrap();
        assert_eq!(next(), "mail.@20261124T010639.4.s");
        // Another second starts again at no number.
        let later = next_rotated_name(&dir, "mail", at(1, 6, 40)).unwrap();
        assert_eq!(later, "mail.@20261124T010640.s");
    }
}
