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
    date: chrono::DateTime<chrono::Local>,
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
            chrono::Local::now(),
        );
        assert!(h.starts_with("Received: from clientX-Evil:1 (mx.example [192.0.2.1])\r\n  by gw with ESMTP id 7;\r\n"), "{h}");
        assert!(h.ends_with("\r\n"));
        assert_eq!(h.matches("\r\n").count(), 3);
    }
}
