//! A browser-less web client for the management plane's pages: `curl`
//! (a real HTTP client) with a cookie jar, over HTTPS to the gateway's
//! Management address on the test board's port (8443). It logs in with a
//! console account, keeps the session's CSRF token and adds it to every
//! form it posts, as the browser does with the hidden field.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::gateway::Gateway;
use crate::{SOON, wait_until};

/// A logged-in web session.
#[derive(Debug)]
pub struct WebClient {
    base: String,
    dir: TempDir,
    csrf: String,
}

impl WebClient {
    /// Logs in as `user` with `pass` (POST /login). A first login that
    /// must change its passphrase (the factory `admin` / `breakwater`)
    /// lands on /passwd: the passphrase is changed there to
    /// [`WebClient::changed_passphrase`]`(pass)`.
    ///
    /// # Panics
    /// When the web UI does not answer or the login is refused.
    #[must_use]
    pub fn login(gw: &Gateway, user: &str, pass: &str) -> WebClient {
        let base = gw.https_base();
        let dir = tempfile::Builder::new()
            .prefix("bw-web-")
            .tempdir()
            .expect("tempdir");
        let mut client = WebClient {
            base,
            dir,
            csrf: String::new(),
        };
        // The management plane starts with the daemon; wait for it.
        let up = wait_until(SOON, || {
            let (code, _, _) = client.curl(&["-X", "GET"], "/login");
            (code == 200).then_some(())
        });
        assert!(up.is_some(), "the web UI at {} never answered", client.base);
        let (code, location, body) = client.curl(
            &[
                "--data-urlencode",
                &format!("username={user}"),
                "--data-urlencode",
                &format!("password={pass}"),
            ],
            "/login",
        );
        assert!(
            code == 303 && !location.contains("/login"),
            "login as {user} refused ({code} {location}): {body}"
        );
        let page = client.get(&location);
        client.csrf = csrf_in(&page).unwrap_or_else(|| panic!("no csrf on {location}: {page}"));
        if location.ends_with("/passwd") {
            let new = Self::changed_passphrase(pass);
            let (code, to) =
                client.post("/passwd", &[("old", pass), ("new", &new), ("again", &new)]);
            assert!(
                code == 303 && !to.ends_with("/passwd"),
                "passphrase change of {user}: {code} {to}: {}",
                client.get("/passwd")
            );
        }
        client
    }

    /// The passphrase [`WebClient::login`] sets when the first login must
    /// change `old`.
    #[must_use]
    pub fn changed_passphrase(old: &str) -> String {
        format!("{old} changed on the web")
    }

    /// The base URL (`https://127.3.n.1:8443`).
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The session's CSRF token.
    #[must_use]
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// GET `path`: the page's HTML (whatever the status).
    ///
    /// # Panics
    /// When curl cannot run.
    #[must_use]
    pub fn get(&self, path: &str) -> String {
        self.curl(&["-X", "GET"], path).2
    }

    /// POST the form `fields` (URL-encoded, the session's `csrf` added) to
    /// `path`: the status and the `Location` it redirects to (empty when
    /// none).
    ///
    /// # Panics
    /// When curl cannot run.
    #[must_use]
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let (code, location, _) = self.post_page(path, fields);
        (code, location)
    }

    /// [`WebClient::post`] with the body of the answer as well (a form
    /// shown again with its error).
    ///
    /// # Panics
    /// When curl cannot run.
    #[must_use]
    pub fn post_page(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let mut args: Vec<String> = Vec::new();
        let mut with_csrf: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        with_csrf.extend_from_slice(fields);
        for (k, v) in with_csrf {
            args.push("--data-urlencode".into());
            args.push(format!("{k}={v}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.curl(&args, path)
    }

    /// One request: (status, Location path, body).
    fn curl(&self, args: &[&str], path: &str) -> (u16, String, String) {
        let jar = self.jar();
        let body = self.dir.path().join("body");
        let _ = fs::remove_file(&body);
        let out = Command::new("curl")
            .args(["-s", "-k", "--max-time", "60"])
            .arg("-b")
            .arg(&jar)
            .arg("-c")
            .arg(&jar)
            .arg("-o")
            .arg(&body)
            .args(["-w", "%{http_code}\n%header{location}"])
            .args(args)
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("run curl (apt-get install curl)");
        let meta = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = meta.lines();
        let code = lines
            .next()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0);
        let location = lines.next().unwrap_or("").trim().to_string();
        let location = location
            .strip_prefix(&self.base)
            .map_or(location.clone(), str::to_string);
        let body = fs::read_to_string(&body).unwrap_or_default();
        (code, location, body)
    }

    fn jar(&self) -> PathBuf {
        self.dir.path().join("cookies")
    }
}

/// The hidden `csrf` field's value in a page.
fn csrf_in(page: &str) -> Option<String> {
    let re = regex::Regex::new(r#"name="csrf" value="([0-9a-fA-F]+)""#).expect("static regex");
    Some(re.captures(page)?.get(1)?.as_str().to_string())
}

/// Text as it appears in a page's HTML (maud escapes `& < > "`).
#[must_use]
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
