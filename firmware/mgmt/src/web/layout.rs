//! The page chrome every page shares, in AsyncOS's layout: the product
//! bar with the host name, the user and Log Out; the five menus (Monitor,
//! Mail Policies, Security Services, Network, System Administration); the
//! change banner with **Commit Changes** whenever changes are staged (from
//! the web or the CLI: the control plane's `__state` says); the outcome of
//! the last change; then the page.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::Flash;

/// One menu: its title and its pages (title, path).
pub struct Menu {
    pub title: &'static str,
    pub pages: &'static [(&'static str, &'static str)],
}

/// The menus, in AsyncOS's order and names.
pub const MENUS: &[Menu] = &[
    Menu {
        title: "Monitor",
        pages: &[
            ("System Status", "/monitor/status"),
            ("Message Tracking", "/monitor/tracking"),
            ("Delivery Status", "/monitor/delivery"),
            ("Work Queue", "/monitor/workqueue"),
            ("Quarantines", "/monitor/quarantines"),
            ("Reports", "/monitor/reports"),
        ],
    },
    Menu {
        title: "Mail Policies",
        pages: &[
            ("Incoming Mail Policies", "/mail-policies/incoming"),
            ("Outgoing Mail Policies", "/mail-policies/outgoing"),
            ("HAT Overview", "/mail-policies/hat"),
            ("Mail Flow Policies", "/mail-policies/mail-flow"),
            ("Recipient Access Table (RAT)", "/mail-policies/rat"),
            (
                "Destination Controls",
                "/mail-policies/destination-controls",
            ),
            ("Message Filters", "/mail-policies/filters"),
            ("Signing Keys and Profiles", "/mail-policies/signing"),
            ("DMARC", "/mail-policies/dmarc"),
            ("Bounce Verification", "/mail-policies/bounce-verification"),
        ],
    },
    Menu {
        title: "Security Services",
        pages: &[
            ("Anti-Spam", "/security/antispam"),
            ("Anti-Virus", "/security/antivirus"),
            ("Threat Defense Connector", "/security/threat-defense"),
        ],
    },
    Menu {
        title: "Network",
        pages: &[
            ("Listeners", "/network/listeners"),
            ("SMTP Routes", "/network/smtp-routes"),
            ("DNS", "/network/dns"),
            ("Bounce Profiles", "/network/bounce-profiles"),
            ("SMTP Call-Ahead", "/network/smtp-call-ahead"),
            ("Certificates", "/network/certificates"),
        ],
    },
    Menu {
        title: "System Administration",
        pages: &[
            ("Commit Changes", "/commit"),
            ("Cluster", super::cluster::CLUSTER_PATH),
            ("Configuration History", "/system/history"),
            ("Change Passphrase", "/passwd"),
            (
                "SSL Configuration",
                "/system-administration/ssl-configuration",
            ),
            ("Alerts", "/system-administration/alerts"),
            ("Time Settings", "/system-administration/time-settings"),
            (
                "Log Subscriptions",
                "/system-administration/log-subscriptions",
            ),
        ],
    },
];

/// What the chrome shows about the session.
pub struct Chrome<'a> {
    pub hostname: &'a str,
    pub user: &'a str,
    pub role: &'a str,
    pub staged: bool,
    pub csrf: &'a str,
    pub flash: Option<&'a Flash>,
    /// The path of the page, to mark its menu.
    pub path: &'a str,
    /// Clustered: the mode bar under the title (see [`super::cluster`]).
    pub mode_bar: Option<Markup>,
}

/// A whole page.
pub fn page(chrome: &Chrome<'_>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " - " (chrome.hostname) " - Breakwater" }
                link rel="stylesheet" href="/static/breakwater.css";
            }
            body {
                header.bar {
                    span.product { "Breakwater" small { " Email Security Gateway" } }
                    span.host { (chrome.hostname) }
                    span.user {
                        "Logged in as: " b { (chrome.user) } " (" (chrome.role) ") "
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            button.link type="submit" { "Log Out" }
                        }
                    }
                }
                nav.menus {
                    @for menu in MENUS {
                        @let active = menu.pages.iter().any(|(_, p)| chrome.path.starts_with(p));
                        div.menu.active[active] {
                            span.title { (menu.title) }
                            ul {
                                @for (name, path) in menu.pages {
                                    li { a href=(path) { (name) } }
                                }
                            }
                        }
                    }
                    div.changes {
                        @if chrome.staged {
                            a.commit href="/commit" id="commit-changes" { "Commit Changes" }
                        } @else {
                            span.nochanges { "No Changes Pending" }
                        }
                    }
                }
                @if chrome.staged {
                    div.banner.staged {
                        "Uncommitted changes: your changes are staged, not yet in effect. "
                        a href="/commit" { "Commit Changes" } " to apply them, or abandon them there."
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(bar) = &chrome.mode_bar { (bar) }
                    @if let Some(f) = chrome.flash {
                        div.flash.ok[f.ok].error[!f.ok] { (f.text) }
                    }
                    (body)
                }
                footer { "Breakwater " (env!("CARGO_PKG_VERSION")) }
            }
        }
    }
}

/// A page without the session chrome (login, errors before login).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " - Breakwater" }
                link rel="stylesheet" href="/static/breakwater.css";
            }
            body.bare {
                header.bar { span.product { "Breakwater" small { " Email Security Gateway" } } }
                main { (body) }
            }
        }
    }
}

/// The hidden CSRF field every form that changes something carries.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// Text a command printed, as it printed it.
pub fn output(text: &str) -> Markup {
    html! { pre.output { (text) } }
}

/// The style sheet (served as `/static/breakwater.css`, so the Content
/// Security Policy can forbid inline styles and scripts).
pub const STYLE: PreEscaped<&str> = PreEscaped(
    r#"
body { margin: 0; font: 13px/1.4 Arial, Helvetica, sans-serif; color: #222; background: #f4f5f7; }
header.bar { display: flex; align-items: center; gap: 24px; background: #04264a; color: #fff; padding: 8px 16px; }
header.bar .product { font-size: 18px; font-weight: bold; }
header.bar .product small { font-weight: normal; font-size: 12px; color: #b8c7d9; }
header.bar .host { color: #b8c7d9; }
header.bar .user { margin-left: auto; }
form.inline { display: inline; }
button.link { background: none; border: none; color: #9cd0ff; cursor: pointer; text-decoration: underline; padding: 0; font: inherit; }
nav.menus { display: flex; background: #0b3d6e; padding: 0 16px; align-items: stretch; }
nav.menus .menu { position: relative; }
nav.menus .menu .title { display: block; color: #fff; padding: 8px 14px; cursor: default; }
nav.menus .menu.active .title { background: #f4f5f7; color: #04264a; font-weight: bold; }
nav.menus .menu ul { display: none; position: absolute; z-index: 10; list-style: none; margin: 0; padding: 4px 0; background: #fff; border: 1px solid #9aa; min-width: 240px; }
nav.menus .menu:hover ul, nav.menus .menu:focus-within ul { display: block; }
nav.menus .menu li a { display: block; padding: 4px 12px; color: #04264a; text-decoration: none; }
nav.menus .menu li a:hover { background: #e3edf7; }
nav.menus .changes { margin-left: auto; padding: 5px 0; }
a.commit { display: inline-block; background: #f0a81c; color: #000; font-weight: bold; padding: 3px 12px; border-radius: 3px; text-decoration: none; }
span.nochanges { display: inline-block; color: #b8c7d9; padding: 3px 12px; border: 1px solid #4a6d93; border-radius: 3px; }
div.banner.staged { background: #fff3cd; border-bottom: 1px solid #e0c36a; padding: 6px 16px; }
main { padding: 12px 24px 32px; }
h1 { font-size: 20px; color: #04264a; margin: 8px 0 12px; }
h2 { font-size: 15px; color: #04264a; margin: 18px 0 6px; }
div.flash { padding: 8px 12px; margin: 0 0 12px; border-radius: 3px; white-space: pre-wrap; }
div.flash.ok { background: #e1f3e1; border: 1px solid #7cbf7c; }
div.flash.error { background: #fbe3e3; border: 1px solid #d77; }
table.grid { border-collapse: collapse; background: #fff; margin: 4px 0 12px; }
table.grid th { background: #dfe5ec; text-align: left; padding: 5px 8px; border: 1px solid #c2ccd6; }
table.grid td { padding: 5px 8px; border: 1px solid #d6dde4; vertical-align: top; }
td.num { text-align: right; }
table.form th { text-align: right; padding: 4px 10px 4px 0; font-weight: normal; color: #444; vertical-align: top; }
table.form td { padding: 4px 0; }
input[type=text], input[type=password], input[type=number], select, textarea { font: inherit; padding: 3px 5px; border: 1px solid #99a; border-radius: 2px; }
textarea { width: 60em; max-width: 100%; }
button, input[type=submit] { font: inherit; padding: 4px 14px; border: 1px solid #5b7ea3; background: #e8eff7; border-radius: 3px; cursor: pointer; }
button.primary { background: #0b5cad; color: #fff; border-color: #0b5cad; }
button.danger { background: #fff; color: #a00; border-color: #c66; }
pre.output { background: #fff; border: 1px solid #ccd; padding: 8px; overflow-x: auto; }
.muted { color: #777; }
div.cluster-bar { background: #fff; border: 1px solid #c2ccd6; padding: 6px 10px; margin: 0 0 12px; }
div.cluster-bar details { display: inline-block; margin-left: 16px; vertical-align: top; }
div.cluster-bar summary { cursor: pointer; color: #0b5cad; text-decoration: underline; }
div.cluster-bar p.cluster-note { margin: 6px 0 0; color: #8a5a00; }
footer { color: #888; padding: 8px 24px; font-size: 11px; }
body.bare main { max-width: 420px; margin: 60px auto; background: #fff; border: 1px solid #ccd; padding: 20px 28px; }
"#,
);
