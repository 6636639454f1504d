//! System Administration > SSL Configuration through `curl` (a real HTTPS
//! client with a cookie jar), as the seeds' administrator uses it: the
//! factory settings, **Edit Settings...**, the seeds' cipher string on
//! Inbound SMTP, Submit. The change must be staged exactly as the CLI's
//! `sslconfig inbound` stages it (`sslconfig print` shows it), and a
//! string rustls cannot honour is refused with the control plane's reason.

use breakwater_e2e::web::{WebClient, html_escape, strip_tags};
use breakwater_e2e::{Gateway, TestNet};

/// The string the seeds recommend for System Administration > SSL
/// Configuration.
const SEED: &str = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA";

const PAGE: &str = "/system-administration/ssl-configuration";
const EDIT: &str = "/system-administration/ssl-configuration/edit";

#[test]
fn the_ssl_configuration_page_stages_the_seeds_cipher_string() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let passphrase = gw.ready_admin();
    let web = WebClient::login(&gw, "admin", &passphrase);

    // The menu entry, and the factory settings with what they select.
    let status = web.get("/monitor/status");
    assert!(
        status.contains(&format!("href=\"{PAGE}\"")),
        "no menu entry"
    );
    let page = strip_tags(&web.get(PAGE));
    assert!(
        page.contains("Inbound SMTP: SSL Method: TLS v1.2, TLS v1.3 SSL Cipher(s) to use: DEFAULT"),
        "{page}"
    );
    assert!(
        page.contains(
            "Outbound SMTP: SSL Method: TLS v1.2, TLS v1.3 SSL Cipher(s) to use: DEFAULT"
        ),
        "{page}"
    );
    assert!(
        page.contains("ECDHE-ECDSA-AES256-GCM-SHA384 TLSv1.2 Kx=ECDH Au=ECDSA"),
        "{page}"
    );
    assert!(page.contains("Edit Settings..."), "{page}");

    // Edit Settings...: both legs' checkboxes and strings, Submit/Cancel.
    let form = web.get(EDIT);
    for field in [
        "inbound_tls12",
        "inbound_tls13",
        "outbound_tls12",
        "outbound_tls13",
    ] {
        assert!(
            form.contains(&format!("name=\"{field}\" value=\"on\" checked")),
            "{field}: {form}"
        );
    }
    let text = strip_tags(&form);
    assert!(text.contains("SSL Method: TLS v1.2 TLS v1.3"), "{text}");
    assert!(text.contains("SSL Cipher(s) to use:"), "{text}");
    assert!(text.contains("Submit") && text.contains("Cancel"), "{text}");

    // The seeds' string on Inbound SMTP; Outbound left as it is.
    let (status, location) = web.post(
        EDIT,
        &[
            ("inbound_tls12", "on"),
            ("inbound_tls13", "on"),
            ("inbound_ciphers", SEED),
            ("outbound_tls12", "on"),
            ("outbound_tls13", "on"),
            ("outbound_ciphers", "DEFAULT"),
        ],
    );
    assert_eq!((status, location.as_str()), (303, PAGE));
    let page = web.get(PAGE);
    assert!(page.contains("Commit Changes"), "no staged-changes banner");
    let text = strip_tags(&page);
    assert!(
        text.contains("Inbound SMTP: TLSv1.2, TLSv1.3; TLS 1.2 suites ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-GCM-SHA256."),
        "{text}"
    );
    assert!(
        text.contains("Changes staged. Press Commit Changes"),
        "{text}"
    );
    assert!(
        page.contains(&html_escape(SEED)),
        "the page does not show the string"
    );

    // Staged as the CLI stages it: `sslconfig print` shows it.
    let printed = gw.cli_ok(&["sslconfig", "print"]);
    assert!(
        printed.contains(&format!("Inbound SMTP ciphers: {SEED}\n")),
        "{printed}"
    );
    assert!(
        printed.contains("Inbound SMTP TLS 1.2 suites: ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-GCM-SHA256"),
        "{printed}"
    );
    assert!(
        printed.contains("Outbound SMTP ciphers: DEFAULT\n"),
        "{printed}"
    );
    let from_web = gw.cli_ok(&["showconfig", "--json"]);
    gw.cli_ok(&["clear"]);
    gw.cli_ok(&["sslconfig", "inbound", "--ciphers", SEED]);
    assert_eq!(from_web, gw.cli_ok(&["showconfig", "--json"]));

    // A suite rustls does not implement: refused, the reason flashed on
    // the form, nothing more staged.
    let before = gw.cli_ok(&["showconfig", "--json"]);
    let (status, location) = web.post(
        EDIT,
        &[
            ("inbound_tls12", "on"),
            ("inbound_tls13", "on"),
            ("inbound_ciphers", SEED),
            ("outbound_tls12", "on"),
            ("outbound_ciphers", "HIGH:DHE-RSA-AES128-GCM-SHA256"),
        ],
    );
    assert_eq!((status, location.as_str()), (303, EDIT));
    let text = strip_tags(&web.get(EDIT));
    assert!(
        text.contains("Outbound SMTP: cipher string: 'DHE-RSA-AES128-GCM-SHA256' is a cipher suite rustls (Breakwater's TLS library) does not implement"),
        "{text}"
    );
    // No method at all: the form says so before the control plane is asked.
    web.post(
        EDIT,
        &[
            ("inbound_ciphers", SEED),
            ("outbound_tls12", "on"),
            ("outbound_ciphers", "DEFAULT"),
        ],
    );
    let text = strip_tags(&web.get(EDIT));
    assert!(
        text.contains("Inbound SMTP: select at least one SSL method"),
        "{text}"
    );
    assert_eq!(before, gw.cli_ok(&["showconfig", "--json"]));
}
