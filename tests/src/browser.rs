//! A real browser for the web UI tests: Debian's headless Chromium driven
//! through W3C WebDriver by Debian's `chromedriver`.
//!
//! ```text
//!   test ──HTTP/JSON (W3C WebDriver)──► chromedriver 127.0.0.1:<free port>
//!                                        └─► chromium --headless=new ──HTTPS──► gateway Management 127.3.n.1:8443
//! ```
//!
//! The client is a small blocking W3C WebDriver client over `ureq` and
//! `serde_json` (both already in the workspace). Why not a crate:
//! `fantoccini` is async (a tokio runtime and a `block_on` around every
//! call in these blocking tests) and pulls Mozilla's `webdriver` crate
//! with its own dependency tree; `thirtyfour` needs `reqwest` with its
//! own TLS stack (a second one next to our rustls/aws-lc) and, by
//! default, a driver downloader. The protocol part the tests need is a
//! dozen JSON endpoints of a standard (<https://www.w3.org/TR/webdriver2/>),
//! spoken only to a local chromedriver over plain HTTP.
//!
//! Chromium runs as the test runs (root in CI, hence `--no-sandbox`), with
//! a fresh profile in a temp dir, and with every background service that
//! would reach for the network switched off: the machine's network is
//! closed, and the tests only ever talk to 127.0.0.0/8.
//!
//! Every call panics with the WebDriver error and the request that caused
//! it, as the other test helpers do. On a panic, [`Browser`]'s drop saves a
//! screenshot and prints the page's URL and the tail of chromedriver's log.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::proc::{kill_and_reap, tail};
use crate::{SOON, wait_until};

/// Debian's Chromium launcher (it sets Debian's default flags, then runs
/// /usr/lib/chromium/chromium).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long [`Browser::find`] waits for an element to be present: pages
/// are rendered by the gateway and loaded by the browser before `goto` or
/// a navigating `click` returns, so this only covers script-made changes.
pub const FIND_WAIT: Duration = Duration::from_secs(10);

/// The W3C key of an element reference in a WebDriver reply.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The flags Chromium runs with in the tests.
fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless=new",
        // CI runs the tests as root; Chromium's sandbox refuses root.
        "--no-sandbox",
        "--disable-gpu",
        // The machine's network is closed: nothing may try the internet
        // (QUIC probes, component and safe-browsing updates, sync).
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // A small /dev/shm in containers crashes renderers; use /tmp.
        "--disable-dev-shm-usage",
        // The appliance serves its self-signed Demo certificate.
        "--ignore-certificate-errors",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .chain(std::iter::once(format!(
        "--user-data-dir={}",
        profile.display()
    )))
    .collect()
}

/// Where screenshots go: `$BREAKWATER_SCREENSHOTS`, else
/// `<target>/screenshots` (created when missing).
///
/// # Panics
/// When the directory cannot be created.
#[must_use]
pub fn screenshots_dir() -> PathBuf {
    let dir = std::env::var_os("BREAKWATER_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::gateway::target_dir().join("screenshots"));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("create screenshots dir {}: {e}", dir.display()));
    dir
}

/// A cookie as the browser holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub secure: bool,
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`, as WebDriver reports it (Chromium
    /// reports `Lax` for a cookie that was set without the attribute).
    pub same_site: String,
}

/// A headless Chromium session; the session ends, and chromedriver and
/// Chromium are killed, on drop.
#[derive(Debug)]
pub struct Browser {
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    agent: ureq::Agent,
    driver: Child,
    dir: TempDir,
}

/// An element of the current page.
#[derive(Debug)]
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
    /// The selector it was found with, for failure messages.
    css: String,
}

/// A WebDriver error reply: `(http status, error code, message)`.
type WdError = (u16, String, String);

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session
    /// with headless Chromium.
    ///
    /// # Panics
    /// When chromium or chromedriver is missing (`tools/install-packages`)
    /// or the session cannot be created.
    #[must_use]
    pub fn start() -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("bw-browser-")
            .tempdir()
            .expect("browser temp dir");
        let profile = dir.path().join("profile");
        std::fs::create_dir_all(&profile).expect("chromium profile dir");
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                // WebDriver errors are 4xx/5xx replies with a JSON body
                // worth reading.
                .http_status_as_error(false)
                // chromedriver is on loopback; never go through a proxy
                // from the environment.
                .proxy(None)
                // A page load is bounded by the session's own timeout.
                .timeout_global(Some(Duration::from_secs(180)))
                .build(),
        );
        // A free port can be taken by someone else between our probe and
        // chromedriver's bind: try a few.
        let log = dir.path().join("chromedriver.log");
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let base = format!("http://127.0.0.1:{port}");
            let mut driver = spawn_driver(port, &log);
            match wait_driver_ready(&agent, &base, &mut driver, &log) {
                Ok(()) => {
                    let mut browser = Browser {
                        session: base,
                        agent,
                        driver,
                        dir,
                    };
                    browser.new_session(&profile);
                    return browser;
                }
                Err(e) => {
                    last_err = e;
                    kill_and_reap(&mut driver);
                }
            }
        }
        panic!("chromedriver did not start: {last_err}")
    }

    fn new_session(&mut self, profile: &Path) {
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "acceptInsecureCerts": true,
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": chromium_args(profile),
                    },
                }
            }
        });
        let url = format!("{}/session", self.session);
        let v = self
            .raw("POST", &url, Some(&caps))
            .unwrap_or_else(|e| self.fail("new session", &e));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session reply without sessionId: {v}"));
        self.session = format!("{url}/{id}");
        // Generous page loads: CI has two cores and the gateway hashes
        // passphrases (argon2) on a login.
        self.post(
            "/timeouts",
            &json!({ "implicit": 0, "pageLoad": 120_000, "script": 60_000 }),
        );
    }

    /// One WebDriver request: the reply's `value`, or the error.
    fn raw(&self, method: &str, url: &str, body: Option<&Value>) -> Result<Value, WdError> {
        let result = match (method, body) {
            ("GET", _) => self.agent.get(url).call(),
            ("DELETE", _) => self.agent.delete(url).call(),
            (_, body) => self
                .agent
                .post(url)
                .header("Content-Type", "application/json; charset=utf-8")
                .send(body.unwrap_or(&json!({})).to_string()),
        };
        let mut resp = result.map_err(|e| (0, "transport".to_string(), e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| (status, "transport".to_string(), e.to_string()))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| (status, "bad reply".to_string(), format!("{e}: {text}")))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 {
            Ok(value)
        } else {
            Err((
                status,
                value["error"].as_str().unwrap_or("unknown").to_string(),
                value["message"].as_str().unwrap_or_default().to_string(),
            ))
        }
    }

    fn fail(&self, what: &str, e: &WdError) -> ! {
        panic!(
            "WebDriver {what}: {} {} (HTTP {}); chromedriver log:\n{}",
            e.1,
            e.2,
            e.0,
            tail(&self.dir.path().join("chromedriver.log"), 15)
        )
    }

    fn try_get(&self, path: &str) -> Result<Value, WdError> {
        self.raw("GET", &format!("{}{path}", self.session), None)
    }

    fn try_post(&self, path: &str, body: &Value) -> Result<Value, WdError> {
        self.raw("POST", &format!("{}{path}", self.session), Some(body))
    }

    fn get(&self, path: &str) -> Value {
        self.try_get(path)
            .unwrap_or_else(|e| self.fail(&format!("GET {path}"), &e))
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        self.try_post(path, body)
            .unwrap_or_else(|e| self.fail(&format!("POST {path} {body}"), &e))
    }

    /// Navigates to `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.post("/url", &json!({ "url": url }));
    }

    /// The URL of the current page.
    #[must_use]
    pub fn current_url(&self) -> String {
        str_value(self.get("/url"))
    }

    /// The current page's `<title>`.
    #[must_use]
    pub fn title(&self) -> String {
        str_value(self.get("/title"))
    }

    /// The current DOM serialized as HTML.
    #[must_use]
    pub fn page_source(&self) -> String {
        str_value(self.get("/source"))
    }

    /// The first element matching the CSS selector `css`, waiting up to
    /// [`FIND_WAIT`] for it to appear.
    ///
    /// # Panics
    /// When none appears, with the page's URL and title.
    #[must_use]
    pub fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + FIND_WAIT;
        loop {
            match self.try_post(
                "/element",
                &json!({ "using": "css selector", "value": css }),
            ) {
                Ok(v) => return self.element(&v, css),
                Err(e) if e.1 == "no such element" && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!(
                    "no element `{css}` within {FIND_WAIT:?} on {} (title {:?}): {} {}",
                    self.current_url(),
                    self.title(),
                    e.1,
                    e.2
                ),
            }
        }
    }

    /// Every element matching `css` now (no waiting; maybe none).
    #[must_use]
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self.post(
            "/elements",
            &json!({ "using": "css selector", "value": css }),
        );
        v.as_array()
            .map(|all| all.iter().map(|e| self.element(e, css)).collect())
            .unwrap_or_default()
    }

    fn element(&self, v: &Value, css: &str) -> Element<'_> {
        let id = v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("element reply for `{css}` without a reference: {v}"));
        Element {
            browser: self,
            id: id.to_string(),
            css: css.to_string(),
        }
    }

    /// Waits up to [`SOON`] until an element matching `css` shows `text`
    /// (a substring of its rendered text) and returns that text.
    ///
    /// # Panics
    /// On timeout, with what the matching elements showed.
    pub fn wait_for_text(&self, css: &str, text: &str) -> String {
        let found = wait_until(SOON, || {
            let all = self
                .try_post(
                    "/elements",
                    &json!({ "using": "css selector", "value": css }),
                )
                .ok()?;
            all.as_array()?.iter().find_map(|e| {
                let id = e[ELEMENT_KEY].as_str()?;
                let shown = self.try_get(&format!("/element/{id}/text")).ok()?;
                let shown = shown.as_str()?;
                shown.contains(text).then(|| shown.to_string())
            })
        });
        found.unwrap_or_else(|| {
            let shown: Vec<String> = self.find_all(css).iter().map(Element::text).collect();
            panic!(
                "no `{css}` showing {text:?} within {SOON:?} on {}; they show: {shown:?}",
                self.current_url()
            )
        })
    }

    /// Runs `js` as the body of a function in the page (`return ...;` to
    /// get a value back) and returns its result.
    pub fn execute(&self, js: &str) -> Value {
        self.post("/execute/sync", &json!({ "script": js, "args": [] }))
    }

    /// Saves a PNG screenshot of the viewport. A relative `path` lands in
    /// [`screenshots_dir`]; returns the file written.
    ///
    /// # Panics
    /// When the screenshot cannot be taken or written.
    pub fn screenshot(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = screenshots_dir().join(path.as_ref());
        let png = self.screenshot_png();
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("write screenshot {}: {e}", path.display()));
        path
    }

    fn screenshot_png(&self) -> Vec<u8> {
        let b64 = str_value(self.get("/screenshot"));
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"))
    }

    /// The cookies the browser holds for the current page.
    #[must_use]
    pub fn cookies(&self) -> Vec<Cookie> {
        let v = self.get("/cookie");
        v.as_array()
            .map(|all| {
                all.iter()
                    .map(|c| Cookie {
                        name: c["name"].as_str().unwrap_or_default().to_string(),
                        value: c["value"].as_str().unwrap_or_default().to_string(),
                        secure: c["secure"].as_bool().unwrap_or(false),
                        http_only: c["httpOnly"].as_bool().unwrap_or(false),
                        same_site: c["sameSite"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Browser {
    /// Sets `cookie` for the current page's site (its `path` is `/`), as
    /// a replayed or stolen cookie would arrive.
    pub fn add_cookie(&self, cookie: &Cookie) {
        self.post(
            "/cookie",
            &json!({ "cookie": {
                "name": cookie.name,
                "value": cookie.value,
                "path": "/",
                "secure": cookie.secure,
                "httpOnly": cookie.http_only,
                "sameSite": cookie.same_site,
            } }),
        );
    }
}

impl Element<'_> {
    fn path(&self, what: &str) -> String {
        format!("/element/{}/{what}", self.id)
    }

    fn fail(&self, what: &str, e: &WdError) -> ! {
        self.browser.fail(&format!("{what} on `{}`", self.css), e)
    }

    /// Clicks it (and waits for a navigation it starts to load).
    pub fn click(&self) {
        self.browser
            .try_post(&self.path("click"), &json!({}))
            .unwrap_or_else(|e| self.fail("click", &e));
    }

    /// Clicks a link or a submit button and waits until the page it leads
    /// to has loaded. chromedriver's own wait after a click can miss a
    /// navigation that starts a moment later (a form's POST, then the
    /// redirect), and the test would go on reading the old page; so the
    /// old page is marked first, and this returns once a document without
    /// the mark is complete.
    ///
    /// # Panics
    /// When no new page has loaded within [`SOON`].
    pub fn click_and_load(&self) {
        self.browser.execute("window.__breakwaterOldPage = true;");
        self.click();
        // While the old page unloads, scripts may fail to run: that is
        // "not yet", not an error.
        let loaded = wait_until(SOON, || {
            let v = self
                .browser
                .try_post(
                    "/execute/sync",
                    &json!({
                        "script": "return window.__breakwaterOldPage === undefined \
                                   && document.readyState === 'complete';",
                        "args": [],
                    }),
                )
                .ok()?;
            (v == Value::Bool(true)).then_some(())
        });
        if loaded.is_none() {
            panic!(
                "clicking {} loaded no new page within {SOON:?}; still at {}",
                self.css,
                self.browser.current_url()
            );
        }
    }

    /// Types `text` into it.
    pub fn send_keys(&self, text: &str) {
        self.browser
            .try_post(&self.path("value"), &json!({ "text": text }))
            .unwrap_or_else(|e| self.fail("send_keys", &e));
    }

    /// Empties an input or a textarea.
    pub fn clear(&self) {
        self.browser
            .try_post(&self.path("clear"), &json!({}))
            .unwrap_or_else(|e| self.fail("clear", &e));
    }

    /// Its rendered text, as a user sees it.
    #[must_use]
    pub fn text(&self) -> String {
        let v = self
            .browser
            .try_get(&self.path("text"))
            .unwrap_or_else(|e| self.fail("text", &e));
        str_value(v)
    }

    /// The attribute `name` as written in the HTML (`None` when absent).
    /// For what a user typed into an input, read the `value` property
    /// with [`Browser::execute`]: the attribute keeps the initial value.
    #[must_use]
    pub fn attr(&self, name: &str) -> Option<String> {
        let v = self
            .browser
            .try_get(&self.path(&format!("attribute/{name}")))
            .unwrap_or_else(|e| self.fail(&format!("attribute {name}"), &e));
        v.as_str().map(str::to_string)
    }

    /// For a `<select>`: picks the option whose visible text is `text`
    /// (surrounding whitespace ignored).
    ///
    /// # Panics
    /// When no option has that text, listing the ones there are.
    pub fn select_by_text(&self, text: &str) {
        let options = self
            .browser
            .try_post(
                &self.path("elements"),
                &json!({ "using": "css selector", "value": "option" }),
            )
            .unwrap_or_else(|e| self.fail("options", &e));
        let options: Vec<Element<'_>> = options
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|o| self.browser.element(o, &format!("{} option", self.css)))
                    .collect()
            })
            .unwrap_or_default();
        let texts: Vec<String> = options
            .iter()
            .map(|o| o.text().trim().to_string())
            .collect();
        let Some(i) = texts.iter().position(|t| t == text.trim()) else {
            panic!("`{}` has no option {text:?}; it has {texts:?}", self.css);
        };
        options[i].click();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Without "/session/", `new_session` failed: no session to end.
        let in_session = self.session.contains("/session/");
        if in_session && std::thread::panicking() {
            let name = format!(
                "panic-{}-{}.png",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default()
            );
            let shot = self
                .try_get("/screenshot")
                .ok()
                .and_then(|v| {
                    base64::engine::general_purpose::STANDARD
                        .decode(v.as_str()?.as_bytes())
                        .ok()
                })
                .and_then(|png| {
                    let path = screenshots_dir().join(name);
                    std::fs::write(&path, png).ok().map(|()| path)
                });
            let url = self.try_get("/url").ok().map(str_value);
            eprintln!(
                "---- browser at {url:?}; screenshot {shot:?} ----\n---- chromedriver log (last 20 lines) ----\n{}",
                tail(&self.dir.path().join("chromedriver.log"), 20)
            );
        }
        // Ending the session makes chromedriver quit Chromium; killing the
        // whole process group catches a Chromium that outlived it.
        if in_session {
            let _ = self.raw("DELETE", &self.session, None);
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        kill_and_reap(&mut self.driver);
    }
}

/// `chromedriver --port=<port>` in a process group of its own (so Chromium,
/// its child, can be killed with it), logging to `log`.
fn spawn_driver(port: u16, log: &Path) -> Child {
    use std::os::unix::process::CommandExt as _;
    Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run chromedriver ({e}): install the packages with tools/install-packages"
            )
        })
}

/// Waits until chromedriver at `base` says it is ready for a session.
fn wait_driver_ready(
    agent: &ureq::Agent,
    base: &str,
    driver: &mut Child,
    log: &Path,
) -> Result<(), String> {
    let status_url = format!("{base}/status");
    let ready = wait_until(SOON, || {
        if let Ok(Some(status)) = driver.try_wait() {
            return Some(Err(format!(
                "chromedriver exited ({status}); log:\n{}",
                tail(log, 20)
            )));
        }
        let mut resp = agent.get(&status_url).call().ok()?;
        let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().ok()?).ok()?;
        v["value"]["ready"].as_bool()?.then_some(Ok(()))
    });
    ready.unwrap_or_else(|| Err(format!("not ready within {SOON:?}")))
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn str_value(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => panic!("WebDriver reply is not a string: {other}"),
    }
}
