//! The web UI through `curl`, as a script or an impatient administrator
//! uses it: a cookie jar in a temp dir, `-k` for the appliance's
//! self-signed certificate, forms posted URL-encoded with the session's
//! CSRF token added.
//!
//! ```text
//!   curl (cookie jar) ──HTTPS──► gateway Management 127.3.n.1:8443
//! ```

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::Gateway;

/// The passphrase [`WebClient::login`] gives an account whose first login
/// lands on the forced change (`/passwd`), e.g. the factory `admin` with
/// `breakwater`.
pub const FIRST_CHANGE_PASSPHRASE: &str = "web client pass 1";

/// A logged-in web session driven by `curl`.
pub struct WebClient {
    base: String,
    dir: TempDir,
    csrf: String,
}

impl WebClient {
    /// Logs in as `user` (POST /login). When the account must change its
    /// passphrase first (it lands on /passwd), changes it there to
    /// [`FIRST_CHANGE_PASSPHRASE`].
    ///
    /// # Panics
    /// When the login is refused or a page cannot be read.
    #[must_use]
    pub fn login(gw: &Gateway, user: &str, pass: &str) -> WebClient {
        let dir = tempfile::Builder::new()
            .prefix("bw-curl-")
            .tempdir()
            .expect("curl temp dir");
        let mut web = WebClient {
            base: gw.https_base(),
            dir,
            csrf: String::new(),
        };
        let (status, location) = web.send("/login", &[("username", user), ("password", pass)]);
        assert_eq!(
            status, 303,
            "login as {user} was not accepted (status {status}, to {location:?})"
        );
        if location == "/passwd" {
            web.csrf = web.csrf_of("/passwd");
            let (status, to) = web.post(
                "/passwd",
                &[
                    ("old", pass),
                    ("new", FIRST_CHANGE_PASSPHRASE),
                    ("again", FIRST_CHANGE_PASSPHRASE),
                ],
            );
            assert!(
                status == 303 && to != "/passwd",
                "first passphrase change of {user} refused (status {status}, to {to})"
            );
        }
        web.csrf = web.csrf_of("/monitor/status");
        web
    }

    /// The page at `path`, redirects followed (so a change's outcome,
    /// flashed on the page it redirects to, is in the answer).
    ///
    /// # Panics
    /// When curl fails or the final answer is not 200.
    #[must_use]
    pub fn get(&self, path: &str) -> String {
        let body = self.dir.path().join("body.html");
        let out = self
            .curl()
            .args(["-L", "-o"])
            .arg(&body)
            .args(["-w", "%{http_code}"])
            .arg(self.url(path))
            .output()
            .expect("run curl");
        let status = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && status == "200",
            "GET {path}: status {status}, curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&body).expect("read the page")
    }

    /// Posts the form `fields` (plus the session's CSRF token) to `path`:
    /// the status and the Location it redirects to (empty if none).
    ///
    /// # Panics
    /// When curl fails.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.send(path, &all)
    }

    /// POST without adding anything: `(status, location)`.
    fn send(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let headers = self.dir.path().join("headers.txt");
        let mut cmd = self.curl();
        cmd.args(["-o", "/dev/null", "-D"]).arg(&headers);
        for (k, v) in fields {
            cmd.arg("--data-urlencode").arg(format!("{k}={v}"));
        }
        let out = cmd
            .args(["-w", "%{http_code}"])
            .arg(self.url(path))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "POST {path}: curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        let headers = std::fs::read_to_string(&headers).unwrap_or_default();
        let location = headers
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("location")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default();
        (status, location)
    }

    /// The session's CSRF token, from the hidden field of a page's forms.
    fn csrf_of(&self, path: &str) -> String {
        let page = self.get(path);
        let marker = r#"name="csrf" value=""#;
        let start = page
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field on {path}"))
            + marker.len();
        let end = page[start..].find('"').expect("end of the CSRF value") + start;
        page[start..end].to_string()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn jar(&self) -> PathBuf {
        self.dir.path().join("cookies.txt")
    }

    fn curl(&self) -> Command {
        let mut cmd = Command::new("curl");
        cmd.args(["-k", "-sS", "--noproxy", "*", "--max-time", "60", "-c"])
            .arg(self.jar())
            .arg("-b")
            .arg(self.jar());
        cmd
    }
}
