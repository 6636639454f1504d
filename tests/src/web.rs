//! The web UI as `curl` sees it: a logged-in browser session with a cookie
//! jar, for the end-to-end tests of the management plane's pages. Every
//! POST carries the page's CSRF token, read from the last page fetched
//! (or from System Status), as a browser submitting a form would.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::Gateway;

/// The passphrase [`WebClient::login`] chooses when a first login lands
/// on the forced passphrase change.
pub fn changed_passphrase(pass: &str) -> String {
    format!("{pass} changed on the web")
}

/// A curl session against one gateway's HTTPS port.
pub struct WebClient {
    base: String,
    jar: PathBuf,
    /// The session's CSRF token (empty before a login).
    csrf: String,
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
            csrf: String::new(),
            _dir: dir,
        }
    }

    /// Logs in as `user` with `pass` through the login form. A first
    /// login (the factory `admin`/`breakwater`, a new user) lands on the
    /// forced passphrase change, which this makes, choosing
    /// [`changed_passphrase`].
    ///
    /// # Panics
    /// When the login is refused.
    pub fn login(gw: &Gateway, user: &str, pass: &str) -> WebClient {
        let mut client = WebClient::anonymous(gw);
        let r = client.request("POST", "/login", &[("username", user), ("password", pass)]);
        assert_eq!(r.status, 303, "login of {user} refused:\n{}", r.body);
        let to = r.location.unwrap_or_default();
        client.csrf = csrf_in(&client.get(&to))
            .unwrap_or_else(|| panic!("no CSRF token on {to} after the login of {user}"));
        if to == "/passwd" {
            let new = changed_passphrase(pass);
            let (status, location) =
                client.post("/passwd", &[("old", pass), ("new", &new), ("again", &new)]);
            assert_eq!((status, location.as_str()), (303, "/monitor/status"));
        }
        client
    }

    /// The HTTPS base URL (`https://<Management>:8443`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs `path`, following redirects, and expects the page (200).
    pub fn get(&self, path: &str) -> String {
        let mut at = path.to_string();
        for _ in 0..5 {
            let r = self.request("GET", &at, &[]);
            match (r.status, r.location) {
                (200, _) => return r.body,
                (301..=308, Some(next)) => at = next,
                (status, location) => panic!("GET {at}: {status} {location:?}\n{}", r.body),
            }
        }
        panic!("GET {path}: too many redirects")
    }

    /// POSTs a form with the session's CSRF token added: `(status,
    /// Location)`, the location relative to the base and empty when there
    /// is none (a change answers 303 back to its page).
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let (status, location, _) = self.post_page(path, fields);
        (status, location)
    }

    /// Like [`WebClient::post`], with the body (a form shown again with
    /// its error answers 200).
    pub fn post_page(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let r = self.request("POST", path, &all);
        (r.status, r.location.unwrap_or_default(), r.body)
    }

    /// The session's CSRF token, as every form of a page carries it.
    pub fn csrf(&self) -> &str {
        &self.csrf
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

/// `text` as the pages escape it (to find what a form echoes back).
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
