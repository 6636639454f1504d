//! A web UI client for the tests: `curl` (a real HTTP client) with a
//! cookie jar, logged in as a console user on the gateway's Management
//! address ([`Gateway::https_base`]). The certificate is the appliance's
//! self-signed one, hence `-k`.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::Gateway;

/// The passphrase [`WebClient::login`] chooses when the first login
/// lands on Change Passphrase.
#[must_use]
pub fn changed_passphrase(pass: &str) -> String {
    format!("{pass} changed on the web")
}

/// A logged-in browser session.
#[derive(Debug)]
pub struct WebClient {
    base: String,
    _dir: TempDir,
    jar: PathBuf,
    body: PathBuf,
    csrf: String,
}

impl WebClient {
    /// Logs in as `user` with `pass` (POST /login). A first login that lands
    /// on /passwd (the factory `admin`/`breakwater`, a new user) changes the
    /// passphrase there to [`changed_passphrase`]`(pass)`.
    ///
    /// # Panics
    /// When the login or the passphrase change fails.
    #[must_use]
    pub fn login(gw: &Gateway, user: &str, pass: &str) -> WebClient {
        let dir = tempfile::Builder::new()
            .prefix("bw-web-")
            .tempdir()
            .expect("web client temp dir");
        let mut c = WebClient {
            base: gw.https_base(),
            jar: dir.path().join("cookies"),
            body: dir.path().join("body"),
            _dir: dir,
            csrf: String::new(),
        };
        let (status, location) =
            c.request("/login", Some(&[("username", user), ("password", pass)]));
        assert!(
            status == 303 && !location.starts_with("/login"),
            "login as {user}: {status} {location}\n{}",
            std::fs::read_to_string(&c.body).unwrap_or_default()
        );
        let page = c.get(&location);
        c.csrf = csrf_in(&page).unwrap_or_else(|| panic!("no csrf on {location}:\n{page}"));
        if location == "/passwd" {
            let new = changed_passphrase(pass);
            let (status, to) = c.post("/passwd", &[("old", pass), ("new", &new), ("again", &new)]);
            assert!(
                status == 303 && to != "/passwd",
                "first passphrase change of {user}: {status} {to}\n{}",
                c.get("/passwd")
            );
        }
        c
    }

    /// The body of `path` (following redirects).
    ///
    /// # Panics
    /// When curl fails.
    #[must_use]
    pub fn get(&self, path: &str) -> String {
        let out = self.curl(path).arg("-L").output().expect("run curl");
        assert!(
            out.status.success(),
            "curl GET {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&self.body).unwrap_or_default()
    }

    /// POSTs the form `fields` to `path` with the session's CSRF token
    /// added; the status and the `Location` it redirects to (a path).
    ///
    /// # Panics
    /// When curl fails.
    #[must_use]
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.request(path, Some(&all))
    }

    fn curl(&self, path: &str) -> Command {
        let mut cmd = Command::new("curl");
        cmd.args(["-sk", "--max-time", "60", "-b"])
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar)
            .arg("-o")
            .arg(&self.body)
            .arg(format!("{}{path}", self.base));
        cmd
    }

    fn request(&self, path: &str, form: Option<&[(&str, &str)]>) -> (u16, String) {
        let mut cmd = self.curl(path);
        cmd.args(["-w", "%{http_code}\n%{redirect_url}"]);
        for (k, v) in form.unwrap_or_default() {
            cmd.arg("--data-urlencode").arg(format!("{k}={v}"));
        }
        let out = cmd.output().expect("run curl");
        assert!(
            out.status.success(),
            "curl {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (status, location) = text.split_once('\n').unwrap_or((&text, ""));
        let location = location
            .strip_prefix(&self.base)
            .unwrap_or(location)
            .to_string();
        (status.trim().parse().unwrap_or(0), location)
    }
}

/// The CSRF token of a page's forms.
fn csrf_in(page: &str) -> Option<String> {
    let re = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).expect("static regex");
    Some(re.captures(page)?.get(1)?.as_str().to_string())
}
