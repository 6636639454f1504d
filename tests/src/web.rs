//! The web UI as `curl` sees it: a logged-in browser session with a cookie
//! jar, for the end-to-end tests of the management plane's pages. Every
//! POST carries the page's CSRF token, read from the last page fetched
//! (or from System Status), as a browser submitting a form would.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::Gateway;

/// A curl session against one gateway's HTTPS port.
pub struct WebClient {
    base: String,
    jar: PathBuf,
    _dir: TempDir,
}

/// An answer: the status, the `Location` of a redirect, the body.
#[derive(Debug)]
pub struct WebReply {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl WebClient {
    /// A client with an empty cookie jar (not logged in).
    pub fn anonymous(gw: &Gateway) -> WebClient {
        let dir = tempfile::Builder::new()
            .prefix("bw-web-")
            .tempdir()
            .expect("web client dir");
        WebClient {
            base: gw.https_base(),
            jar: dir.path().join("cookies.txt"),
            _dir: dir,
        }
    }

    /// Logs in as `user` with `pass` through the login form. The factory
    /// admin's first login (`admin`/`breakwater`) lands on the forced
    /// passphrase change, which this makes with "admin web pass 1".
    ///
    /// # Panics
    /// When the login is refused.
    pub fn login(gw: &Gateway, user: &str, pass: &str) -> WebClient {
        let client = WebClient::anonymous(gw);
        let r = client.request("POST", "/login", &[("username", user), ("password", pass)]);
        assert_eq!(r.status, 303, "login of {user} refused:\n{}", r.body);
        if r.location.as_deref() == Some("/passwd") {
            let new = "admin web pass 1";
            let (status, location) =
                client.post("/passwd", &[("old", pass), ("new", new), ("again", new)]);
            assert_eq!(
                (status, location.as_deref()),
                (303, Some("/monitor/status"))
            );
        }
        client
    }

    /// GETs `path` (a page answers 200; a redirect is not followed).
    pub fn get(&self, path: &str) -> String {
        let r = self.request("GET", path, &[]);
        assert_eq!(r.status, 200, "GET {path}: {} {:?}", r.status, r.location);
        r.body
    }

    /// POSTs a form with the session's CSRF token added: `(status,
    /// Location)` (a change answers 303 back to its page).
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, Option<String>) {
        let csrf = self.csrf();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let r = self.request("POST", path, &all);
        (r.status, r.location)
    }

    /// The session's CSRF token, as every form of a page carries it.
    pub fn csrf(&self) -> String {
        let page = self.request("GET", "/monitor/status", &[]).body;
        csrf_in(&page).unwrap_or_default()
    }

    /// One request; fields are sent url-encoded (POST) and nothing is
    /// added.
    pub fn request(&self, method: &str, path: &str, fields: &[(&str, &str)]) -> WebReply {
        let mut cmd = Command::new("curl");
        cmd.args(["-sk", "-X", method, "-b"])
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar)
            .args(["-w", "\n%{http_code} %{redirect_url}"]);
        for (k, v) in fields {
            cmd.arg("--data-urlencode").arg(format!("{k}={v}"));
        }
        cmd.arg(format!("{}{path}", self.base));
        let out = cmd.output().expect("curl (package curl)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, tail) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        let mut tail = tail.splitn(2, ' ');
        let status = tail.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let location = tail
            .next()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.strip_prefix(&self.base).unwrap_or(l).to_string());
        WebReply {
            status,
            location,
            body: body.to_string(),
        }
    }

    /// The text of a page with its tags removed (for assertions on what
    /// an administrator reads).
    pub fn text(&self, path: &str) -> String {
        strip_tags(&self.get(path))
    }
}

/// The value of the first `name="csrf"` field of a page.
pub fn csrf_in(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &page[at..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A page's text: tags dropped, entities for `<>&"` decoded, runs of
/// white space made one space (as a reader sees it).
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}
