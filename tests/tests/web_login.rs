//! Logging in to the web UI with a real browser (headless Chromium through
//! chromedriver, tests/src/browser.rs), as an administrator does: the
//! login page over HTTPS (the appliance's self-signed Demo certificate),
//! a wrong passphrase refused, the right one landing on System Status with
//! a session cookie that scripts and other sites cannot use, Log Out, and
//! the factory account's forced first passphrase change.
//!
//! Screenshots of each step land in `target/screenshots/` (or
//! `$BREAKWATER_SCREENSHOTS`).

use breakwater_e2e::browser::{Browser, Cookie};
use breakwater_e2e::{Gateway, TestNet};

/// The session cookie of the web UI.
const SESSION_COOKIE: &str = "bw_session";

fn session_cookie(browser: &Browser) -> Option<Cookie> {
    browser
        .cookies()
        .into_iter()
        .find(|c| c.name == SESSION_COOKIE)
}

/// Fills in and submits the login form on the current page.
fn log_in(browser: &Browser, user: &str, passphrase: &str) {
    let name = browser.find("input[name=username]");
    name.clear();
    name.send_keys(user);
    let pass = browser.find("input[name=password]");
    pass.clear();
    pass.send_keys(passphrase);
    browser.find("form button[type=submit]").click_and_load();
}

/// The "Log Out" button of the page's header.
fn log_out(browser: &Browser) {
    let buttons = browser.find_all("button[type=submit]");
    let log_out = buttons
        .iter()
        .find(|b| b.text().trim() == "Log Out")
        .unwrap_or_else(|| {
            panic!(
                "no Log Out button on {}; buttons: {:?}",
                browser.current_url(),
                buttons.iter().map(|b| b.text()).collect::<Vec<_>>()
            )
        });
    log_out.click_and_load();
}

#[test]
fn admin_logs_in_sees_system_status_and_logs_out() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let passphrase = gw.ready_admin();
    let https = gw.https_base();

    let browser = Browser::start();

    // Plain HTTP on the Management interface sends the browser to HTTPS.
    browser.goto(&format!("{}/login", gw.http_base()));
    assert_eq!(browser.current_url(), format!("{https}/login"));
    assert_eq!(
        browser.find("input[name=password]").attr("type").as_deref(),
        Some("password"),
        "the passphrase is typed into a password field"
    );
    browser.screenshot("web_login-1-login-page.png");

    // A wrong passphrase: the login page again, with the console's answer
    // (the same for an unknown name, a wrong passphrase or a lockout).
    log_in(&browser, "admin", "not the passphrase");
    browser.wait_for_text("body", "Login incorrect.");
    assert!(
        browser.current_url().starts_with(&format!("{https}/login")),
        "{}",
        browser.current_url()
    );
    assert_eq!(session_cookie(&browser), None, "no session after a refusal");
    browser.screenshot("web_login-2-login-incorrect.png");

    // The right one: System Status, the user's name and Log Out on it.
    log_in(&browser, "admin", &passphrase);
    assert_eq!(browser.current_url(), format!("{https}/monitor/status"));
    assert_eq!(browser.find("main h1").text(), "System Status");
    assert!(
        browser.title().contains("System Status"),
        "{}",
        browser.title()
    );
    browser.wait_for_text("header", "Logged in as: admin");
    browser.screenshot("web_login-3-system-status.png");

    let cookie = session_cookie(&browser)
        .unwrap_or_else(|| panic!("no {SESSION_COOKIE} cookie in {:?}", browser.cookies()));
    assert!(
        cookie.secure,
        "the session cookie is HTTPS-only: {cookie:?}"
    );
    assert!(
        cookie.http_only,
        "scripts cannot read the session cookie: {cookie:?}"
    );
    assert_eq!(cookie.same_site, "Strict", "{cookie:?}");
    // And indeed the page's scripts do not see it.
    let visible = browser.execute("return document.cookie;");
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains(SESSION_COOKIE),
        "document.cookie shows the session: {visible}"
    );

    // Log Out: back to the login page, the session gone for good.
    log_out(&browser);
    assert!(
        browser.current_url().starts_with(&format!("{https}/login")),
        "{}",
        browser.current_url()
    );
    assert_eq!(browser.find("main h1").text(), "Log In");
    assert_eq!(session_cookie(&browser), None, "the cookie is cleared");
    browser.screenshot("web_login-4-logged-out.png");
    browser.goto(&format!("{https}/monitor/status"));
    assert!(
        browser.current_url().starts_with(&format!("{https}/login")),
        "after Log Out the status page asks for a login again: {}",
        browser.current_url()
    );
    // The session ended on the gateway, not only in this browser: the old
    // cookie, replayed, opens nothing.
    browser.add_cookie(&cookie);
    browser.goto(&format!("{https}/monitor/status"));
    assert!(
        browser.current_url().starts_with(&format!("{https}/login")),
        "the logged-out session's cookie still opens {}",
        browser.current_url()
    );
}

#[test]
fn factory_admin_must_change_the_passphrase_first() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let https = gw.https_base();

    let browser = Browser::start();
    browser.goto(&format!("{https}/login"));
    // The factory account, as the appliance's label documents it.
    log_in(&browser, "admin", "breakwater");
    assert_eq!(browser.current_url(), format!("{https}/passwd"));
    assert_eq!(browser.find("main h1").text(), "Change Passphrase");
    browser.screenshot("web_login-5-forced-change.png");

    browser.find("input[name=old]").send_keys("breakwater");
    browser
        .find("input[name=new]")
        .send_keys("a better admin passphrase");
    browser
        .find("input[name=again]")
        .send_keys("a better admin passphrase");
    browser
        .find("main form button[type=submit]")
        .click_and_load();
    assert_eq!(browser.current_url(), format!("{https}/monitor/status"));
    assert_eq!(browser.find("main h1").text(), "System Status");

    // The new passphrase is the account's everywhere: the console takes it.
    let (ok, reply) = gw.control(
        &["__auth", "admin", "pts/9", "network"],
        Some("a better admin passphrase"),
    );
    assert!(ok, "console login with the new passphrase: {reply}");
    let v: serde_json::Value = serde_json::from_str(&reply).expect("auth reply is JSON");
    assert_eq!(v["must_change"], false, "{reply}");
}
