//! Firmware version ordering for anti-rollback: Debian's rules
//! (`deb-version(7)`, dpkg's `verrevcmp`), so a release numbering an
//! administrator knows from Debian orders the same way here:
//! `[epoch:]upstream[-revision]`, the epoch compared as a number first,
//! then upstream and revision alternately as non-digit runs (letters
//! before other characters, `~` before everything, even the end) and
//! digit runs compared as numbers. `1.0~rc1 < 1.0 < 1.0-1 < 1.0+b1 <
//! 1:0.1`.
//!
//! Written here rather than taken from a crate: the one maintained Rust
//! port of dpkg's code (`deb-version7`) is GPL-3, this project is
//! Apache-2.0, and the algorithm is forty lines with a table of tests.

use std::cmp::Ordering;

/// A version a manifest may carry: `[digits:]upstream[-revision]`, the
/// upstream part starting with a digit, no empty part (dpkg's own
/// checks). The characters themselves are checked by the caller.
pub fn is_debian_version(v: &str) -> bool {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => (Some(e), r),
        None => (None, v),
    };
    let epoch_ok = epoch
        .is_none_or(|e| !e.is_empty() && e.len() <= 9 && e.bytes().all(|b| b.is_ascii_digit()));
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, Some(r)),
        None => (rest, None),
    };
    epoch_ok
        && upstream.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && revision.is_none_or(|r| !r.is_empty() && !r.contains(':'))
}

/// dpkg's order of one character in a non-digit run: `~` first, then the
/// end of the part (and digits, which end a run), letters, then the rest.
fn order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` over one part (upstream or revision).
fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // The non-digit run, character by character.
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // The digit run, as a number of any length: leading zeros skipped,
        // then the longer run is larger, else the first differing digit.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// Splits `[epoch:]upstream[-revision]` as dpkg does: the epoch before
/// the first `:`, the revision after the last `-`.
fn split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => (e.parse().unwrap_or(0), r),
        None => (0, v),
    };
    let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (epoch, upstream, revision)
}

/// Orders two versions as dpkg does (`dpkg --compare-versions`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ae, au, ar) = split(a);
    let (be, bu, br) = split(b);
    ae.cmp(&be)
        .then_with(|| compare_part(au.as_bytes(), bu.as_bytes()))
        .then_with(|| compare_part(ar.as_bytes(), br.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Cases from deb-version(7) and dpkg's own test suite
    /// (`lib/dpkg/t/t-version.c`), and the ones this project uses.
    #[test]
    fn versions_order_as_dpkg_orders_them() {
        for (a, b, want) in [
            ("0.1.0", "0.1.0", Equal),
            ("0.2.0", "0.1.0", Greater),
            ("0.0.9", "0.1.0", Less),
            ("0.10.0", "0.9.0", Greater),
            ("1.0", "1.0.0", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1.0+b1", "1.0", Greater),
            ("1.0-1", "1.0", Greater),
            ("1.0-1", "1.0-2", Less),
            ("1.0-10", "1.0-9", Greater),
            ("1.0-1~bpo12+1", "1.0-1", Less),
            ("0.1.0-next", "0.1.0", Greater),
            ("0.1.0-broken", "0.1.0-next", Less),
            ("1:0.1", "9.9", Greater),
            ("0:1.0", "1.0", Equal),
            ("2:1.0", "10:0.1", Less),
            ("1.001", "1.1", Equal),
            ("1.0.0010", "1.0.9", Greater),
            ("1.2.3~rc1+deb12", "1.2.3~rc1", Greater),
            ("1.0-a-1", "1.0-a", Greater),
            ("99999999999999999999999.0", "9.0", Greater),
            ("a", "1", Greater),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn only_well_formed_debian_versions_pass() {
        for good in [
            "0.1.0",
            "1:2.0-3",
            "1.2.3~rc1+deb12",
            "0.1.0-next",
            "1:2.0:1-1",
        ] {
            assert!(is_debian_version(good), "{good}");
        }
        for bad in [
            "",
            "v1.0",
            "x:1.0",
            ":1.0",
            "1.0-",
            "-1",
            "1:",
            "1234567890:1",
            "2.0:1-1",
        ] {
            assert!(!is_debian_version(bad), "{bad}");
        }
    }
}
