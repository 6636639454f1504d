//! The browser harness itself (tests/src/browser.rs): headless Chromium
//! through chromedriver against a small static site served by Python's
//! `http.server` on loopback, exercising every call the web UI tests use.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use breakwater_e2e::browser::{Browser, Cookie, screenshots_dir};

/// A form like the web UI's login page: it submits with GET to a page
/// whose script echoes what arrived, so a click really navigates.
const FORM: &str = r#"<!DOCTYPE html>
<html><head><title>Harness Form</title></head>
<body>
<h1 id="heading">Log In</h1>
<form method="get" action="result.html">
  <input name="username" value="prefilled">
  <input name="password" type="password">
  <select name="role">
    <option value="op">Operator</option>
    <option value="admin">Administrator</option>
    <option value="help">Help Desk User</option>
  </select>
  <button type="submit" data-kind="primary">Log In</button>
</form>
<ul><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
<script>
  document.cookie = "harness=yes; SameSite=Strict; path=/";
  // Appears later: find and wait_for_text must wait for it.
  setTimeout(function () {
    var p = document.createElement("p");
    p.id = "late";
    p.textContent = "Loaded late";
    document.body.appendChild(p);
  }, 700);
</script>
</body></html>
"#;

const RESULT: &str = r#"<!DOCTYPE html>
<html><head><title>Harness Result</title></head>
<body><p id="result"></p>
<script>
  var q = new URLSearchParams(location.search);
  document.getElementById("result").textContent =
    "Welcome " + q.get("username") + " (" + q.get("role") + ", " + q.get("password").length + " chars)";
</script>
</body></html>
"#;

/// `python3 -m http.server` on 127.0.0.1 (a port of its choosing),
/// killed on drop.
struct StaticSite {
    child: Child,
    base: String,
}

impl StaticSite {
    fn serve(dir: &Path) -> StaticSite {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run python3 -m http.server");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read http.server banner");
        let port: u16 = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in http.server banner {line:?}"));
        StaticSite {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn chromium_fills_a_form_navigates_and_reports_the_page() {
    let site_dir = tempfile::tempdir().expect("site dir");
    std::fs::write(site_dir.path().join("index.html"), FORM).expect("write form");
    std::fs::write(site_dir.path().join("result.html"), RESULT).expect("write result");
    let site = StaticSite::serve(site_dir.path());

    let browser = Browser::start();
    browser.goto(&format!("{}/index.html", site.base));
    assert_eq!(browser.title(), "Harness Form");
    assert_eq!(browser.current_url(), format!("{}/index.html", site.base));
    assert!(
        browser
            .page_source()
            .contains(r#"<h1 id="heading">Log In</h1>"#)
    );
    assert_eq!(browser.find("#heading").text(), "Log In");

    // An element a script adds later is waited for.
    assert_eq!(browser.find("#late").text(), "Loaded late");
    assert_eq!(browser.wait_for_text("p", "late"), "Loaded late");

    let items: Vec<String> = browser
        .find_all("li.item")
        .iter()
        .map(|e| e.text())
        .collect();
    assert_eq!(items, ["one", "two", "three"]);
    assert!(browser.find_all("table").is_empty());

    let button = browser.find("button[type=submit]");
    assert_eq!(button.attr("data-kind").as_deref(), Some("primary"));
    assert_eq!(button.attr("formaction"), None);

    let cookies = browser.cookies();
    let harness = cookies
        .iter()
        .find(|c| c.name == "harness")
        .unwrap_or_else(|| panic!("no harness cookie in {cookies:?}"));
    assert_eq!(harness.value, "yes");
    assert_eq!(harness.same_site, "Strict");
    assert!(!harness.secure && !harness.http_only);
    let added = Cookie {
        name: "added".into(),
        value: "by-webdriver".into(),
        secure: false,
        http_only: true,
        same_site: "Lax".into(),
    };
    browser.add_cookie(&added);
    assert!(
        browser.cookies().contains(&added),
        "{:?}",
        browser.cookies()
    );
    // HttpOnly: the page's scripts do not see it.
    assert_eq!(browser.execute("return document.cookie;"), "harness=yes");

    let user = browser.find("input[name=username]");
    user.clear();
    user.send_keys("operator1");
    assert_eq!(
        browser.execute("return document.querySelector('input[name=username]').value;"),
        "operator1"
    );
    browser
        .find("input[name=password]")
        .send_keys("s3cret pass");
    browser
        .find("select[name=role]")
        .select_by_text("Help Desk User");
    assert_eq!(
        browser.execute("return document.querySelector('select[name=role]').value;"),
        "help"
    );

    let before = browser.screenshot("harness-form.png");
    button.click();
    assert_eq!(browser.title(), "Harness Result");
    assert!(
        browser
            .current_url()
            .starts_with(&format!("{}/result.html?", site.base)),
        "{}",
        browser.current_url()
    );
    assert_eq!(
        browser.wait_for_text("#result", "Welcome"),
        "Welcome operator1 (help, 11 chars)"
    );

    let after = browser.screenshot("harness-result.png");
    for shot in [&before, &after] {
        assert!(shot.starts_with(screenshots_dir()), "{}", shot.display());
        let png = std::fs::read(shot).expect("read screenshot");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            shot.display()
        );
    }
    assert_ne!(
        std::fs::read(&before).expect("before"),
        std::fs::read(&after).expect("after"),
        "the two pages look the same"
    );
}
