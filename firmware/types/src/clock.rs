//! The appliance's wall clock in its configured time zone (`settz`).
//!
//! AsyncOS shows every time an administrator reads (log lines, `status`,
//! `tophosts`, message tracking) in the appliance's zone, with the zone's
//! abbreviation where a header names it (`Fri Feb 16 19:55:34 2024 CST`).
//! The image carries no `/usr/share/zoneinfo` and no `TZ`, so
//! `chrono::Local` would always be UTC there; the zone lives here instead,
//! set by the daemon from the committed configuration and read by every
//! stage that formats a time. The IANA database is compiled in
//! (`chrono-tz`), so an Olson name is checked the same way on every box.

use std::sync::RwLock;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
pub use chrono_tz::Tz;

/// The factory zone, and the zone of a configuration that names none.
pub const DEFAULT_ZONE: &str = "UTC";

/// The time at the head of every log line and in the one-line times of
/// the CLI (`Wed Dec  6 16:36:48 2026`): AsyncOS pads the day with a
/// space, like C's `ctime`, so the stamp is always 24 characters wide.
/// The log readers (`findevent`, `grep`, the web UI's tracking) parse
/// lines with the same format.
pub const LOG_TIME_FORMAT: &str = "%a %b %e %H:%M:%S %Y";

/// A header time with the zone's abbreviation, as `status` and
/// `tophosts` print it: `Fri Feb 16 19:55:34 2024 CST`.
pub const HEADER_TIME_FORMAT: &str = "%a %b %e %H:%M:%S %Y %Z";

/// A poisoned lock only means a writer panicked between two plain stores
/// of a `Copy` value; the value is still whole, so readers keep using it.
static ZONE: RwLock<Tz> = RwLock::new(Tz::UTC);

/// A name that is not in the IANA time zone database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Unknown time zone '{0}': use an IANA (Olson) name such as America/Chicago, Europe/Paris or UTC"
)]
pub struct UnknownZone(pub String);

/// The zone an Olson name stands for (`America/Chicago`, `Etc/GMT+6`,
/// `UTC`); names are matched exactly as the database spells them, then
/// ignoring case (`utc`, `asia/tokyo`).
pub fn parse_zone(name: &str) -> Result<Tz, UnknownZone> {
    name.parse::<Tz>()
        .or_else(|_| Tz::from_str_insensitive(name))
        .map_err(|_| UnknownZone(name.to_string()))
}

/// Every name of the database, as it spells them (`settz`'s region and
/// zone choice at the console).
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())
}

/// Makes `zone` the appliance's zone for every time formatted from now on.
pub fn set_zone(zone: Tz) {
    match ZONE.write() {
        Ok(mut z) => *z = zone,
        Err(poisoned) => *poisoned.into_inner() = zone,
    }
}

/// The appliance's zone.
pub fn zone() -> Tz {
    match ZONE.read() {
        Ok(z) => *z,
        Err(poisoned) => *poisoned.into_inner(),
    }
}

/// Now, in the appliance's zone.
pub fn now() -> DateTime<Tz> {
    local(Utc::now())
}

/// An instant in the appliance's zone.
pub fn local(t: DateTime<Utc>) -> DateTime<Tz> {
    zone().from_utc_datetime(&t.naive_utc())
}

/// The start of a log line (its first 24 characters) as the local time
/// it was written in; `None` for anything else.
pub fn parse_log_time(stamp: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(stamp, LOG_TIME_FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_pad_the_day_with_a_space_and_parse_back() {
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 16, 36, 48).unwrap();
        let stamp = t.format(LOG_TIME_FORMAT).to_string();
        assert_eq!(stamp, "Sun Dec  6 16:36:48 2026");
        assert_eq!(stamp.len(), 24);
        assert_eq!(parse_log_time(&stamp), Some(t.naive_utc()));
        let two_digits = Utc.with_ymd_and_hms(2026, 11, 24, 1, 6, 39).unwrap();
        assert_eq!(
            parse_log_time("Tue Nov 24 01:06:39 2026"),
            Some(two_digits.naive_utc())
        );
        assert_eq!(parse_log_time("Tue Nov 24 01:06:39 2026 Info"), None);
        assert_eq!(parse_log_time("not a time at all, no way"), None);
    }

    #[test]
    fn olson_names_parse_and_unknown_ones_say_so() {
        assert_eq!(parse_zone("America/Chicago"), Ok(Tz::America__Chicago));
        assert_eq!(parse_zone("utc"), Ok(Tz::UTC));
        let err = parse_zone("Mars/Olympus").unwrap_err();
        assert!(err.to_string().contains("Unknown time zone 'Mars/Olympus'"));
    }

    #[test]
    fn a_winter_time_in_chicago_is_cst() {
        let t = Utc.with_ymd_and_hms(2024, 2, 17, 1, 55, 34).unwrap();
        let local = Tz::America__Chicago.from_utc_datetime(&t.naive_utc());
        assert_eq!(
            local.format(HEADER_TIME_FORMAT).to_string(),
            "Fri Feb 16 19:55:34 2024 CST"
        );
    }
}
