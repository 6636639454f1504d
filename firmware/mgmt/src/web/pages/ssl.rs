//! System Administration > SSL Configuration, as AsyncOS draws it: the
//! TLS methods and the OpenSSL-style cipher string of Inbound SMTP (the
//! listeners' STARTTLS) and Outbound SMTP (delivery), the suites each
//! string selects (`sslconfig verify`), and **Edit Settings...**. A change
//! is the CLI's `sslconfig inbound|outbound --methods ... --ciphers ...`,
//! one command per leg that changed, so the control plane validates it as
//! for the console (a string rustls cannot honour is refused with the
//! reason, which the page shows).

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use breakwater_config::ssl::{SslConfig, SslPolicy};
use maud::{Markup, html};

use crate::web::fields::field;
use crate::web::{Admin, Change, State, layout, web_wording};

const PAGE: &str = "/system-administration/ssl-configuration";
const EDIT: &str = "/system-administration/ssl-configuration/edit";

/// The two legs: the form's field prefix, the `sslconfig` word, the title.
const LEGS: [(&str, &str); 2] = [("inbound", "Inbound SMTP"), ("outbound", "Outbound SMTP")];

pub fn routes() -> Router<State> {
    Router::new()
        .route(PAGE, get(page))
        .route(EDIT, get(edit_page).post(edit))
}

fn leg<'a>(ssl: &'a SslConfig, name: &str) -> &'a SslPolicy {
    if name == "inbound" {
        &ssl.inbound
    } else {
        &ssl.outbound
    }
}

/// `TLS v1.2, TLS v1.3`: the methods as the AsyncOS page writes them.
fn method_labels(p: &SslPolicy) -> String {
    let mut m = Vec::new();
    if p.tls_1_2 {
        m.push("TLS v1.2");
    }
    if p.tls_1_3 {
        m.push("TLS v1.3");
    }
    m.join(", ")
}

/// Edit Settings: for each leg whose methods or cipher string differ from
/// `current`, `sslconfig <leg> --methods <list> --ciphers <string>`.
pub fn ssl_words(
    form: &[(String, String)],
    current: &SslConfig,
) -> Result<Vec<Vec<String>>, String> {
    let mut commands = Vec::new();
    for (name, title) in LEGS {
        let tls_1_2 = field(form, &format!("{name}_tls12")).is_some();
        let tls_1_3 = field(form, &format!("{name}_tls13")).is_some();
        if !(tls_1_2 || tls_1_3) {
            return Err(format!(
                "{title}: select at least one SSL method (TLS v1.2, TLS v1.3)."
            ));
        }
        let ciphers = field(form, &format!("{name}_ciphers")).ok_or_else(|| {
            format!("{title}: enter the SSL cipher(s) to use (factory: DEFAULT).")
        })?;
        let now = leg(current, name);
        if (tls_1_2, tls_1_3, ciphers) == (now.tls_1_2, now.tls_1_3, now.ciphers.as_str()) {
            continue;
        }
        let methods: Vec<&str> = [(tls_1_2, "TLSv1.2"), (tls_1_3, "TLSv1.3")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, m)| *m)
            .collect();
        commands.push(vec![
            "sslconfig".into(),
            name.into(),
            "--methods".into(),
            methods.join(","),
            "--ciphers".into(),
            ciphers.into(),
        ]);
    }
    if commands.is_empty() {
        return Err("Nothing to change.".into());
    }
    Ok(commands)
}

async fn page(admin: Admin) -> Response {
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return admin.page("SSL Configuration", layout::output(&e)),
    };
    let mut suites = Vec::new();
    for (name, _) in LEGS {
        let ciphers = leg(&cfg.ssl, name).ciphers.clone();
        let words = vec!["sslconfig".to_string(), "verify".into(), ciphers];
        suites.push(admin.run_words(words, None).await.unwrap_or_else(|e| e));
    }
    let body = html! {
        h2 { "SSL Configuration" }
        table.grid id="ssl-settings" {
            @for ((name, title), selected) in LEGS.iter().zip(&suites) {
                @let p = leg(&cfg.ssl, name);
                tr id=(format!("ssl-{name}")) {
                    th { (title) ":" }
                    td {
                        table.form {
                            tr { th { "SSL Method:" } td.methods { (method_labels(p)) } }
                            tr { th { "SSL Cipher(s) to use:" } td { code.ciphers { (p.ciphers) } } }
                            tr {
                                th { "Cipher suites selected:" }
                                td { (layout::output(selected)) }
                            }
                        }
                    }
                }
            }
        }
        @if admin.can_change() {
            a href=(EDIT) id="ssl-edit" { button type="button" { "Edit Settings..." } }
        }
        p.muted {
            "TLS v1.0 and v1.1 are not offered: rustls, Breakwater's TLS library, implements TLS 1.2 and 1.3 only. "
            "The TLS 1.3 suites are not chosen by the cipher string (as in OpenSSL)."
        }
    };
    admin.page("SSL Configuration", body)
}

fn edit_form(admin: &Admin, ssl: &SslConfig) -> Markup {
    html! {
        form method="post" action=(EDIT) {
            (admin.csrf())
            table.form id="ssl-form" {
                @for (name, title) in LEGS {
                    @let p = leg(ssl, name);
                    tr { th { b { (title) ":" } } td {} }
                    tr {
                        th { "SSL Method:" }
                        td {
                            label {
                                input type="checkbox" name=(format!("{name}_tls12")) value="on" checked[p.tls_1_2];
                                " TLS v1.2"
                            }
                            " "
                            label {
                                input type="checkbox" name=(format!("{name}_tls13")) value="on" checked[p.tls_1_3];
                                " TLS v1.3"
                            }
                        }
                    }
                    tr {
                        th { label for=(format!("{name}_ciphers")) { "SSL Cipher(s) to use:" } }
                        td {
                            textarea id=(format!("{name}_ciphers")) name=(format!("{name}_ciphers")) rows="3" {
                                (p.ciphers)
                            }
                        }
                    }
                }
                tr {
                    th {}
                    td {
                        button.primary type="submit" id="ssl-submit" { "Submit" }
                        " "
                        a href=(PAGE) { button type="button" { "Cancel" } }
                    }
                }
            }
        }
    }
}

async fn edit_page(admin: Admin) -> Response {
    if !admin.can_change() {
        return Redirect::to(PAGE).into_response();
    }
    match admin.config().await {
        Ok(cfg) => {
            let form = edit_form(&admin, &cfg.ssl);
            admin.page("Edit SSL Configuration", form)
        }
        Err(e) => admin.page("Edit SSL Configuration", layout::output(&e)),
    }
}

async fn edit(change: Change) -> Response {
    let admin = &change.admin;
    let back = |error: String| {
        admin.flash(false, error);
        Redirect::to(EDIT).into_response()
    };
    let cfg = match admin.config().await {
        Ok(c) => c,
        Err(e) => return back(e),
    };
    let commands = match ssl_words(&change.fields, &cfg.ssl) {
        Ok(c) => c,
        Err(e) => return back(e),
    };
    // One command per leg, as at the CLI; the first refusal stops.
    let mut said = Vec::new();
    for words in commands {
        match admin.run_words(words, None).await {
            Ok(out) => said.push(web_wording(&out)),
            Err(out) => {
                said.push(out);
                return back(said.join("\n"));
            }
        }
    }
    admin.flash(true, said.join("\n"));
    Redirect::to(PAGE).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    const SEED: &str = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA";

    #[test]
    fn edit_settings_runs_sslconfig_for_each_leg_that_changed() {
        let factory = SslConfig::default();
        let f = form(&[
            ("inbound_tls12", "on"),
            ("inbound_tls13", "on"),
            ("inbound_ciphers", SEED),
            ("outbound_tls12", "on"),
            ("outbound_tls13", "on"),
            ("outbound_ciphers", " DEFAULT "),
        ]);
        assert_eq!(
            ssl_words(&f, &factory).unwrap(),
            [[
                "sslconfig",
                "inbound",
                "--methods",
                "TLSv1.2,TLSv1.3",
                "--ciphers",
                SEED
            ]]
        );
        let f = form(&[
            ("inbound_tls12", "on"),
            ("inbound_tls13", "on"),
            ("inbound_ciphers", "DEFAULT"),
            ("outbound_tls13", "on"),
            ("outbound_ciphers", "DEFAULT"),
        ]);
        assert_eq!(
            ssl_words(&f, &factory).unwrap(),
            [[
                "sslconfig",
                "outbound",
                "--methods",
                "TLSv1.3",
                "--ciphers",
                "DEFAULT"
            ]]
        );
    }

    #[test]
    fn edit_settings_refuses_no_method_no_string_and_no_change() {
        let factory = SslConfig::default();
        let same = form(&[
            ("inbound_tls12", "on"),
            ("inbound_tls13", "on"),
            ("inbound_ciphers", "DEFAULT"),
            ("outbound_tls12", "on"),
            ("outbound_tls13", "on"),
            ("outbound_ciphers", "DEFAULT"),
        ]);
        assert_eq!(
            ssl_words(&same, &factory).unwrap_err(),
            "Nothing to change."
        );
        let no_method = form(&[("inbound_ciphers", "DEFAULT")]);
        assert!(
            ssl_words(&no_method, &factory)
                .unwrap_err()
                .starts_with("Inbound SMTP: select at least one SSL method")
        );
        let no_string = form(&[("inbound_tls12", "on"), ("inbound_ciphers", "  ")]);
        assert!(
            ssl_words(&no_string, &factory)
                .unwrap_err()
                .starts_with("Inbound SMTP: enter the SSL cipher(s)")
        );
    }
}
