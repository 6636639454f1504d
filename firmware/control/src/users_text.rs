//! What `who`, `last` and `userconfig print` show: the accounts' and
//! sessions' records (kept by `breakwater_store::users`) as operator text.

use std::fmt::Write as _;

use breakwater_store::users::{LoginRecord, SessionRecord, UserRecord};
use breakwater_types::clock;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `who`: the open console sessions.
pub fn render_who(sessions: &[SessionRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<10} {:<26} {:>8}",
        "Username", "Terminal", "Login Time", "Idle"
    );
    let now = now_ms();
    for s in sessions {
        let idle = (now - s.last_seen_ms).max(0) / 1000;
        let _ = write!(
            out,
            "\n{:<16} {:<10} {:<26} {:>5}:{:02}",
            s.user,
            s.tty,
            time(s.login_ms),
            idle / 60,
            idle % 60
        );
    }
    out
}

/// `last`: recent logins, newest first.
pub fn render_last(logins: &[LoginRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<10} {:<26} Logout",
        "Username", "Terminal", "Login Time"
    );
    for l in logins {
        let end = match l.logout_ms {
            Some(t) => format!("{} ({})", time(t), l.ended),
            None => "still logged in".to_string(),
        };
        let _ = write!(
            out,
            "\n{:<16} {:<10} {:<26} {end}",
            l.user,
            l.tty,
            time(l.login_ms)
        );
    }
    out
}

/// `userconfig print`.
pub fn render_users(users: &[UserRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<24} {:<10} Status",
        "Username", "Full Name", "Role"
    );
    let now = now_ms();
    for u in users {
        let status = if u.locked_until_ms > now {
            "locked"
        } else if u.must_change {
            "active (must change passphrase)"
        } else {
            "active"
        };
        let _ = write!(
            out,
            "\n{:<16} {:<24} {:<10} {status}",
            u.name,
            u.full_name,
            u.role.name()
        );
    }
    out
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| {
        clock::local(t).format(clock::LOG_TIME_FORMAT).to_string()
    })
}
