//! The `Received:` trace header reception prepends to every message.

use std::net::IpAddr;

use crate::ids::Mid;

/// `Received: from <helo> (<verified name or unknown> [<ip>]) by <host>
/// with ESMTP[S] id <mid>; <date>`, folded as RFC 5322 wants.
pub fn header(
    helo: &str,
    verified_name: Option<&str>,
    ip: IpAddr,
    hostname: &str,
    tls: Option<&(String, String)>,
    mid: Mid,
    date: chrono::DateTime<breakwater_types::clock::Tz>,
) -> String {
    let with = match tls {
        Some((proto, cipher)) => format!("ESMTPS ({proto}:{cipher})"),
        None => "ESMTP".to_string(),
    };
    // The HELO argument comes from the client: keep only printable ASCII
    // so it cannot break the header.
    let helo: String = helo
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    // RFC 5322's date, with the numeric offset of the appliance's zone.
    format!(
        "Received: from {helo} ({} [{ip}])\r\n  by {hostname} with {with} id {mid};\r\n  {}\r\n",
        verified_name.unwrap_or("unknown"),
        date.to_rfc2822()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_one_folded_field_with_the_client_facts() {
        let h = header(
            "client\r\nX-Evil: 1",
            Some("mx.example"),
            "192.0.2.1".parse().unwrap(),
            "gw",
            None,
            Mid(7),
            breakwater_types::clock::now(),
        );
        assert!(h.starts_with("Received: from clientX-Evil:1 (mx.example [192.0.2.1])\r\n  by gw with ESMTP id 7;\r\n"), "{h}");
        assert!(h.ends_with("\r\n"));
        assert_eq!(h.matches("\r\n").count(), 3);
    }

    #[test]
    fn an_underscore_host_name_and_the_zone_offset_reach_the_header() {
        use chrono::TimeZone as _;
        let zone = breakwater_types::clock::parse_zone("America/Chicago").unwrap();
        let at = chrono::Utc
            .with_ymd_and_hms(2024, 2, 17, 1, 55, 34)
            .unwrap();
        let h = header(
            "mail.example.org",
            None,
            "192.0.2.1".parse().unwrap(),
            "esa1.your_domain.com",
            None,
            Mid(7),
            zone.from_utc_datetime(&at.naive_utc()),
        );
        assert_eq!(
            h,
            "Received: from mail.example.org (unknown [192.0.2.1])\r\n  \
             by esa1.your_domain.com with ESMTP id 7;\r\n  \
             Fri, 16 Feb 2024 19:55:34 -0600\r\n"
        );
    }
}
