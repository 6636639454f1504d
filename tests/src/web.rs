//! A web UI client for end-to-end tests: `curl` (a real HTTPS client)
//! with its own cookie jar, logged in on the gateway's Management address
//! like an administrator's browser.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::Gateway;

/// The passphrase [`WebClient::login`] chooses when the account must
/// change its passphrase first (the factory `admin` / `breakwater`).
pub const WEB_PASSPHRASE: &str = "web e2e passphrase";

pub struct WebClient {
    base: String,
    _dir: TempDir,
    jar: PathBuf,
    csrf: String,
}

/// `https://MANAGEMENT:PORT` from the gateway's board file (the
/// Management interface's address, `[management_ports] https`).
fn https_base(gw: &Gateway) -> String {
    let board = std::fs::read_to_string(gw.board_file()).expect("board file");
    let mut lines = board.lines().map(str::trim);
    let mut address = None;
    while let Some(l) = lines.next() {
        if l == "name = \"Management\"" {
            address = lines
                .find_map(|l| l.strip_prefix("address = "))
                .map(|a| a.trim_matches('"').to_string());
            break;
        }
    }
    let port = board
        .split("[management_ports]")
        .nth(1)
        .and_then(|s| {
            s.lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("https = "))
        })
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or(443);
    format!(
        "https://{}:{port}",
        address.expect("the board file names the Management address")
    )
}

/// The value of the hidden `csrf` field of a page.
fn csrf_of(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = page[at..].find('"')?;
    Some(page[at..at + end].to_string())
}

impl WebClient {
    /// Logs in (POST /login); an account that must change its passphrase
    /// changes it to [`WEB_PASSPHRASE`] on /passwd.
    ///
    /// # Panics
    /// When the login is refused or the server does not answer.
    #[must_use]
    pub fn login(gw: &Gateway, user: &str, pass: &str) -> WebClient {
        let dir = tempfile::tempdir().expect("cookie jar dir");
        let jar = dir.path().join("cookies");
        let mut c = WebClient {
            base: https_base(gw),
            _dir: dir,
            jar,
            csrf: String::new(),
        };
        // The web server starts with the daemon: wait for it to answer.
        let deadline = std::time::Instant::now() + crate::SOON;
        let (status, location) = loop {
            let (status, location) =
                c.request("POST", "/login", &[("username", user), ("password", pass)]);
            if status != 0 || std::time::Instant::now() > deadline {
                break (status, location);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        assert!(
            (300..400).contains(&status) && location != "/login",
            "login as {user}: {status} {location}"
        );
        c.csrf = csrf_of(&c.get("/monitor/status")).expect("a csrf field in the page");
        if location == "/passwd" {
            let (status, location) = c.post(
                "/passwd",
                &[
                    ("old", pass),
                    ("new", WEB_PASSPHRASE),
                    ("again", WEB_PASSPHRASE),
                ],
            );
            assert!(
                status == 303 && location == "/monitor/status",
                "first passphrase change: {status} {location}"
            );
        }
        c
    }

    /// The base URL, `https://MANAGEMENT:PORT`.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `path`; the body (redirects are not followed).
    ///
    /// # Panics
    /// When curl cannot run.
    #[must_use]
    pub fn get(&self, path: &str) -> String {
        let out = Command::new("curl")
            .args(["-sk", "--max-time", "60", "-b"])
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar)
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// POST a form to `path` with the session's CSRF token; the status
    /// and the redirect's path (empty when none).
    ///
    /// # Panics
    /// When curl cannot run.
    #[must_use]
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.request("POST", path, &all)
    }

    fn request(&self, method: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sk",
            "--max-time",
            "60",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n%{redirect_url}",
            "-X",
            method,
            "-b",
        ])
        .arg(&self.jar)
        .arg("-c")
        .arg(&self.jar);
        for (k, v) in fields {
            cmd.arg("--data-urlencode").arg(format!("{k}={v}"));
        }
        let out = cmd
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (status, location) = text.split_once('\n').unwrap_or((&text, ""));
        let location = location
            .strip_prefix(&self.base)
            .unwrap_or(location)
            .to_string();
        (status.trim().parse().unwrap_or(0), location)
    }
}
