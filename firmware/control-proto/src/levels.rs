//! Which sections of the configuration each configuration command edits
//! (issue 20): levels are a property of the catalog. In a cluster, a
//! command changing a section is allowed only in a mode whose level
//! defines that section (`clusterconfig levels COMMAND` lists them).
//! Section names are the configuration's top-level field names.

/// The sections `args` (`args[0]` the command) edits; empty for a command
/// that edits none (`showconfig`, `help`, `commit`...).
pub fn sections_of(args: &[String]) -> &'static [&'static str] {
    let word = |i: usize| args.get(i).map(|s| s.to_ascii_lowercase());
    let Some(name) = word(0) else {
        return &[];
    };
    match name.as_str() {
        // The HAT's comment lines (`hat_comments`) travel with the
        // listeners they annotate: a machine overriding `listeners` keeps
        // editing its HAT without a second override.
        "listenerconfig" => &["listeners"],
        "smtproutes" => &["smtp_routes"],
        "dnsconfig" => &["dns"],
        "interfaceconfig" => &["interfaces"],
        "deliveryconfig" => &["delivery"],
        "destconfig" => &["destination_default", "destination_controls"],
        "bounceconfig" => &["bounce_profiles"],
        "certconfig" if word(1).as_deref() == Some("certauthority") => &["ca_certificates"],
        "certconfig" => &["certificates"],
        "sslconfig" => &["ssl"],
        "adminaccessconfig" | "sshconfig" => &["management"],
        "threatdefenseconfig" => &["threat_defense"],
        "domainkeysconfig" => &["domain_keys"],
        "logconfig" => &["mail_logs", "log_shipping"],
        "filters" => &["message_filters"],
        "policyconfig" => &["incoming_policies", "outgoing_policies"],
        "antispamconfig" => &["antispam"],
        "quarantineconfig" => &["quarantines", "quarantine_settings"],
        "sethostname" => &["hostname"],
        "setgateway" => &["default_gateway"],
        "settz" => &["time_zone"],
        "ntpconfig" => &["ntp"],
        "bvconfig" => &["bounce_verification"],
        "antivirusconfig" => &["antivirus"],
        "dmarcconfig" => &["sender_auth"],
        "smtpcallahead" => &["call_ahead"],
        "alertconfig" => &["alerts"],
        "systemsetup" => &["hostname", "interfaces", "default_gateway"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn commands_name_their_sections() {
        assert_eq!(
            sections_of(&args("listenerconfig edit IncomingMail")),
            &["listeners"]
        );
        assert_eq!(sections_of(&args("DNSCONFIG")), &["dns"]);
        assert_eq!(
            sections_of(&args("certconfig certauthority new x -")),
            &["ca_certificates"]
        );
        assert!(sections_of(&args("showconfig")).is_empty());
    }
}
