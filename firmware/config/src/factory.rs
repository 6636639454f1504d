//! Factory defaults: the configuration a new appliance (or a new data
//! directory) starts from, as AsyncOS ships it, with addresses from the
//! board profile.

use breakwater_board::BoardProfile;

use super::model::*;

/// The factory configuration for `board`, with `cert` as the "Demo"
/// certificate both listeners use until the administrator installs one.
pub fn factory_config(board: &BoardProfile, cert: Certificate) -> Config {
    let interfaces = board
        .interfaces
        .iter()
        .map(|i| Interface {
            name: i.name.clone(),
            // With DHCP on Management, its address is the lease's.
            address: i
                .address
                .filter(|_| !(board.management_dhcp && i.name == "Management")),
            prefix: i.prefix,
        })
        .collect();
    let group = |name: &str, members: &[&str], policy: &str| SenderGroup {
        name: name.to_string(),
        members: members.iter().map(|m| (*m).into()).collect(),
        policy: policy.to_string(),
    };
    let incoming = ListenerConfig {
        name: "IncomingMail".to_string(),
        kind: ListenerKind::Public,
        interface: "Data 1".to_string(),
        port: board.listener_port,
        hat: vec![
            group("ALLOWED_LIST", &[], "TRUSTED"),
            group("BLOCKED_LIST", &[], "BLOCKED"),
            group("SUSPECTLIST", &[], "THROTTLED"),
            group("UNKNOWNLIST", &[], "ACCEPTED"),
            group("ALL", &["ALL"], "ACCEPTED"),
        ],
        policies: vec![
            MailFlowPolicy::predefined("TRUSTED", Behavior::Accept),
            MailFlowPolicy::predefined("BLOCKED", Behavior::Reject),
            MailFlowPolicy::predefined("THROTTLED", Behavior::Accept),
            MailFlowPolicy::predefined("ACCEPTED", Behavior::Accept),
        ],
        rat: vec![RatEntry {
            address: "ALL".into(),
            action: RatAction::Reject,
            code: None,
            text: None,
            bypass_receiving_control: false,
        }],
        certificate: cert.name.clone(),
        max_concurrency: 300,
        crlf: CrLfHandling::Strict,
        session: SessionLimits::default(),
    };
    let outgoing = ListenerConfig {
        name: "OutgoingMail".to_string(),
        kind: ListenerKind::Private,
        interface: "Data 2".to_string(),
        port: board.listener_port,
        hat: vec![
            group("RELAYLIST", &[], "RELAYED"),
            group("ALL", &["ALL"], "BLOCKED"),
        ],
        policies: vec![
            MailFlowPolicy::predefined("RELAYED", Behavior::Relay),
            MailFlowPolicy::predefined("BLOCKED", Behavior::Reject),
        ],
        rat: Vec::new(),
        certificate: cert.name.clone(),
        max_concurrency: 600,
        crlf: CrLfHandling::Strict,
        session: SessionLimits::default(),
    };
    Config {
        hostname: board.hostname.clone(),
        interfaces,
        listeners: vec![incoming, outgoing],
        smtp_routes: Vec::new(),
        dns: DnsConfig::default(),
        delivery: DeliveryConfig::default(),
        destination_default: DestinationSettings::default(),
        destination_controls: Vec::new(),
        bounce_profiles: vec![BounceProfile::default()],
        queue: QueueSettings::default(),
        mail_logs: Default::default(),
        certificates: vec![cert],
        ca_certificates: Vec::new(),
        message_filters: Vec::new(),
        incoming_policies: super::policy::MailPolicyTable::default(),
        outgoing_policies: super::policy::MailPolicyTable::default(),
        quarantines: super::policy::QuarantineConfig::predefined(),
        archive: super::policy::ArchiveSettings::default(),
        threat_defense: Default::default(),
        // AsyncOS ships without one too: `systemsetup` asks for it.
        default_gateway: None,
        connections: Default::default(),
        reception: Default::default(),
        management_dhcp: board.management_dhcp,
        management: super::management::ManagementAccess {
            https_port: board.management_ports.https,
            http_port: board.management_ports.http,
            ssh_port: board.management_ports.ssh,
            ..Default::default()
        },
        time_zone: breakwater_types::clock::DEFAULT_ZONE.to_string(),
        ssl: Default::default(),
        hat_comments: Vec::new(),
        ntp: Default::default(),
        metrics: Default::default(),
        alerts: Default::default(),
        log_shipping: Default::default(),
        bounce_verification: Default::default(),
        antispam: Default::default(),
        quarantine_settings: Default::default(),
        domain_keys: Default::default(),
        sender_auth: Default::default(),
        call_ahead: Default::default(),
        antivirus: Default::default(),
        connection_cache: Default::default(),
    }
}

/// Generates the self-signed "Demo" certificate for `hostname`.
/// Its subject names the host and says what it is, as AsyncOS's "Cisco
/// Appliance Demo Certificate" does (a browser shows it when it asks the
/// administrator to accept the certificate). The key is RSA-2048, as
/// AsyncOS's is: every TLS 1.2 client can use it, and the ciphers the
/// seeds recommend (`!ECDSA`) leave only RSA-authenticated TLS 1.2 suites
/// (docs/decisions/0014-tls-ciphers-and-demo-certificate.md).
pub fn demo_certificate(hostname: &str) -> Result<Certificate, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_string()])?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, hostname);
    name.push(
        rcgen::DnType::OrganizationName,
        "Breakwater Appliance Demo Certificate",
    );
    params.distinguished_name = name;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
    let cert = params.self_signed(&key)?;
    Ok(Certificate {
        name: "Demo".to_string(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The factory configuration of the `dev` board with an empty "Demo"
/// certificate: what unit tests start from (no key generation), in this
/// crate and in the crates above it (so it cannot be `cfg(test)`).
pub fn dev_factory_for_tests() -> Config {
    let board = BoardProfile::builtin("dev").expect("the dev board is built in");
    let cert = Certificate {
        name: "Demo".into(),
        cert_pem: String::new(),
        key_pem: String::new(),
    };
    factory_config(&board, cert)
}
