//! `saveconfig` and `loadconfig`: the whole committed configuration as a
//! TOML file an administrator can read, keep, diff and load back.
//!
//! The file is the [`Config`] itself through serde (so a new setting is
//! exported the day it is added), under a small header:
//!
//! ```toml
//! # Breakwater configuration, saved ...
//! format = 1
//! secrets = "masked"
//!
//! [config]
//! hostname = "mail.example.com"
//! ...
//! ```
//!
//! **Secrets.** Certificates' private keys are written as [`MASK`] unless
//! `--include-secrets` is given. Loading a masked file takes each masked
//! key from the certificate of the same name and certificate in the
//! current configuration, so a masked save loads back on the appliance it
//! came from; anywhere else it is refused. Console passphrases are not
//! part of the configuration at all (they live with the users, see
//! `control::users`), so no hash is ever exported.
//!
//! **Exactness.** `loadconfig` of a file `saveconfig` wrote stages a
//! config equal to the one saved. TOML has no null, so the two
//! "explicitly none" settings of a destination control row
//! (`Option<Option<_>>`: `--recipient_limit none`, `--client_certificate
//! none`) would read back as "inherit"; they are written as the string
//! [`NONE`] and restored by [`from_text`]. `saveconfig` checks the round
//! trip before it writes anything, so a future setting TOML cannot carry
//! is an error at save time, not a surprise at load time.
//!
//! **Files.** Saved files go to `<data-dir>/configuration/<name>.toml`,
//! owner-only (they may hold private keys), written to a temporary name
//! and renamed. Names are plain (`[A-Za-z0-9._-]`), so no path reaches
//! outside that directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::args::{invalid, parse_opts, usage};
use super::setgateway::check_gateway;
use super::{CliError, CommandContext};
use crate::config::{Config, DestinationControl};
use crate::supervisor::safe_fs::Dir;

pub(super) use breakwater_control_proto::usage::SAVECONFIG as USAGE;

/// What a masked private key reads.
pub const MASK: &str = "*****";
/// How an "explicitly none" destination setting is written.
pub const NONE: &str = "none";
/// The file format; bumped (with a reader for the old one) if the header
/// or the encoding of `config` ever changes.
const FORMAT: u32 = 1;
/// The directory under the data directory.
pub const DIRECTORY: &str = "configuration";
/// A configuration is a few hundred kB at most; refuse anything absurd.
const MAX_FILE: u64 = 16 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Document {
    format: u32,
    /// "masked" or "included".
    secrets: String,
    config: toml::Value,
}

/// Runs `saveconfig ...` or `loadconfig ...` (`name` says which). Without
/// a data directory (a bare command context), `saveconfig` can only print
/// and `loadconfig` only read standard input.
pub fn run(
    ctx: &CommandContext<'_>,
    data_dir: Option<&Path>,
    name: &str,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    if name.eq_ignore_ascii_case("loadconfig") {
        return load(ctx, data_dir, args, stdin);
    }
    let opts = parse_opts(args, &[], &["include-secrets"], USAGE)?;
    let secrets = opts.flag("include-secrets");
    let cfg = ctx.store.committed()?;
    let text = to_text(&cfg, secrets)?;
    match opts.positional.as_slice() {
        [p] if p.eq_ignore_ascii_case("print") => Ok(text),
        [] | [_] => {
            let Some(dir) = data_dir else {
                return Err(invalid(
                    "Saving to a file needs the daemon's data directory; use \"saveconfig print\".",
                ));
            };
            let file = match opts.positional.first() {
                Some(n) => check_file_name(n)?,
                None => format!(
                    "config-{}-{}",
                    cfg.hostname,
                    breakwater_types::clock::now().format("%Y%m%dT%H%M%S")
                ),
            };
            let path = write_file(dir, &file, &text)
                .map_err(|e| invalid(format!("Cannot save the configuration: {e}")))?;
            Ok(format!(
                "The configuration in force was saved to {} ({}).\nUse \"loadconfig {file}\" to stage it again.",
                path.display(),
                if secrets {
                    "private keys included: keep this file safe"
                } else {
                    "private keys masked"
                }
            ))
        }
        _ => Err(usage(USAGE)),
    }
}

fn load(
    ctx: &CommandContext<'_>,
    data_dir: Option<&Path>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let [source] = args else {
        return Err(usage(USAGE));
    };
    let (text, from) = if source == "-" {
        let text = stdin.ok_or_else(|| {
            invalid("\"loadconfig -\" reads the configuration from standard input (paste it at the console).")
        })?;
        (text.to_string(), "the pasted text".to_string())
    } else {
        let Some(dir) = data_dir else {
            return Err(invalid(
                "Loading a file needs the daemon's data directory; use \"loadconfig -\".",
            ));
        };
        let name = check_file_name(source)?;
        let path = dir.join(DIRECTORY).join(format!("{name}.toml"));
        let text = read_file(&path).map_err(|e| {
            invalid(format!(
                "Cannot read {}: {e} (see the names \"saveconfig\" printed).",
                path.display()
            ))
        })?;
        (text, path.display().to_string())
    };
    // Loading over uncommitted edits would silently lose them.
    if ctx.store.staged()?.is_some() {
        return Err(invalid(
            "There are uncommitted changes; run \"commit\" or \"clear\" before loading a configuration.",
        ));
    }
    let current = ctx.store.working()?;
    let cfg = from_text(&text, &current)?;
    let problems = check(&cfg);
    if !problems.is_empty() {
        return Err(invalid(format!(
            "The configuration in {from} was not loaded:\n  {}",
            problems.join("\n  ")
        )));
    }
    if cfg == ctx.store.committed()? {
        return Ok(format!(
            "The configuration in {from} is the one in force; nothing was staged."
        ));
    }
    ctx.store.stage(&cfg)?;
    Ok(format!(
        "The configuration in {from} is staged.\n\
         Run \"commit\" to put it in force, or \"clear\" to keep the current configuration."
    ))
}

/// `name`, without a `.toml` suffix, if it is a plain file name.
fn check_file_name(name: &str) -> Result<String, CliError> {
    let n = name.strip_suffix(".toml").unwrap_or(name);
    let ok = !n.is_empty()
        && n.len() <= 100
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(n.to_string())
    } else {
        Err(invalid(format!(
            "'{name}' is not a configuration file name: use letters, digits, '.', '_' and '-'."
        )))
    }
}

/// Written through the data directory's descriptor ([`Dir::write_file`]:
/// a fresh temporary, synced, renamed), following no link.
fn write_file(data_dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = Dir::open(data_dir)?.subdir(Path::new(DIRECTORY), Some(0o700))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    let file = format!("{name}.toml");
    dir.write_file(&file, text.as_bytes(), 0o600)?;
    Ok(dir.path().join(file))
}

fn read_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_FILE)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// `cfg` with every certificate's private key replaced by [`MASK`] (what
/// `saveconfig` and `showconfig --json` show without `--include-secrets`).
pub fn masked(cfg: &Config) -> Config {
    let mut shown = cfg.clone();
    for c in &mut shown.certificates {
        c.key_pem = MASK.to_string();
    }
    // Bounce verification's tagging keys are secrets too (issue 17).
    for k in &mut shown.bounce_verification.keys {
        k.secret = MASK.to_string();
    }
    for k in &mut shown.domain_keys.keys {
        k.private_pem = MASK.to_string();
    }
    shown
}

/// The file for `cfg`; private keys masked unless `secrets`.
pub fn to_text(cfg: &Config, secrets: bool) -> Result<String, CliError> {
    let shown = if secrets { cfg.clone() } else { masked(cfg) };
    let mut value = toml::Value::try_from(&shown)
        .map_err(|e| invalid(format!("Cannot export the configuration: {e}")))?;
    mark_explicit_none(&shown.destination_controls, &mut value);
    let doc = Document {
        format: FORMAT,
        secrets: if secrets { "included" } else { "masked" }.to_string(),
        config: value,
    };
    let body = toml::to_string(&doc)
        .map_err(|e| invalid(format!("Cannot export the configuration: {e}")))?;
    let text = format!(
        "# Breakwater configuration of {}, saved {}.\n\
         # \"loadconfig\" stages it; nothing changes until \"commit\".\n{}{body}",
        cfg.hostname,
        breakwater_types::clock::now().format(breakwater_types::clock::HEADER_TIME_FORMAT),
        if secrets {
            "# This file holds private keys: keep it safe.\n"
        } else {
            "# Private keys are masked (*****): this file loads back on this appliance only.\n"
        }
    );
    // The promise is an exact round trip: check it before anyone relies on it.
    if from_text(&text, &shown)? != shown {
        return Err(invalid(
            "Cannot export the configuration: it does not read back identically (a setting TOML cannot carry).",
        ));
    }
    Ok(text)
}

/// The `Option<Option<_>>` settings of the destination control rows that
/// are `Some(None)`: written as [`NONE`] (TOML has no null).
fn mark_explicit_none(rows: &[DestinationControl], value: &mut toml::Value) {
    let Some(tables) = value
        .get_mut("destination_controls")
        .and_then(toml::Value::as_array_mut)
    else {
        return;
    };
    for (row, table) in rows.iter().zip(tables) {
        let Some(table) = table.as_table_mut() else {
            continue;
        };
        if row.recipient_limit == Some(None) {
            table.insert("recipient_limit".into(), NONE.into());
        }
        if row.client_certificate == Some(None) {
            table.insert("client_certificate".into(), NONE.into());
        }
    }
}

/// Which rows had an explicit none, by index: (recipient_limit, client_certificate).
fn take_explicit_none(value: &mut toml::Value) -> Vec<(bool, bool)> {
    let Some(tables) = value
        .get_mut("destination_controls")
        .and_then(toml::Value::as_array_mut)
    else {
        return Vec::new();
    };
    tables
        .iter_mut()
        .map(|t| match t.as_table_mut() {
            Some(t) => {
                let mut take = |key: &str| {
                    let none = t.get(key).and_then(toml::Value::as_str) == Some(NONE);
                    if none {
                        t.remove(key);
                    }
                    none
                };
                (take("recipient_limit"), take("client_certificate"))
            }
            None => (false, false),
        })
        .collect()
}

/// Reads a saved file. Masked private keys are taken from `current`'s
/// certificate of the same name and certificate, or refused.
pub fn from_text(text: &str, current: &Config) -> Result<Config, CliError> {
    let doc: Document = toml::from_str(text)
        .map_err(|e| invalid(format!("This is not a Breakwater configuration file: {e}")))?;
    if doc.format != FORMAT {
        return Err(invalid(format!(
            "This configuration file has format {}; this version reads format {FORMAT}.",
            doc.format
        )));
    }
    let mut value = doc.config;
    let nones = take_explicit_none(&mut value);
    let mut cfg: Config = value.try_into().map_err(|e: toml::de::Error| {
        invalid(format!("The configuration is incomplete or wrong: {e}"))
    })?;
    for (row, (limit, cert)) in cfg.destination_controls.iter_mut().zip(nones) {
        if limit {
            row.recipient_limit = Some(None);
        }
        if cert {
            row.client_certificate = Some(None);
        }
    }
    for k in &mut cfg.bounce_verification.keys {
        if k.secret != MASK {
            continue;
        }
        let same = current
            .bounce_verification
            .keys
            .iter()
            .find(|c| c.number == k.number && c.created == k.created);
        match same {
            Some(c) => k.secret = c.secret.clone(),
            None => {
                return Err(invalid(format!(
                    "Bounce verification key {} is masked in this file and this appliance has no such key: save it with --include-secrets.",
                    k.number
                )));
            }
        }
    }
    for c in &mut cfg.certificates {
        if c.key_pem != MASK {
            continue;
        }
        let same = current
            .certificates
            .iter()
            .find(|k| k.name == c.name && k.cert_pem == c.cert_pem);
        match same {
            Some(k) => c.key_pem = k.key_pem.clone(),
            None => {
                return Err(invalid(format!(
                    "The private key of certificate {} is masked in this file and this appliance has no such certificate: save it with --include-secrets.",
                    c.name
                )));
            }
        }
    }
    // DKIM signing keys: a masked key is the appliance's key of that name.
    for k in &mut cfg.domain_keys.keys {
        if k.private_pem != MASK {
            continue;
        }
        match current.domain_keys.key(&k.name) {
            Some(same) if same.algorithm == k.algorithm => k.private_pem = same.private_pem.clone(),
            _ => {
                return Err(invalid(format!(
                    "The private key of DKIM signing key {} is masked in this file and this appliance has no such key: save it with --include-secrets.",
                    k.name
                )));
            }
        }
    }
    Ok(cfg)
}

/// What a loaded file must satisfy before it is staged: [`Config::validate`]
/// (what every staged change must pass, each problem naming its field),
/// and the default gateway's check `setgateway` makes.
pub fn check(cfg: &Config) -> Vec<String> {
    let mut problems: Vec<String> = match cfg.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    };
    if let Some(gw) = cfg.default_gateway
        && let Err(e) = check_gateway(cfg, &gw.to_string())
    {
        problems.push(format!("default_gateway: {e}"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Fixture, factory};
    use super::*;
    use crate::config::RecipientLimit;

    fn with_everything() -> Config {
        let mut cfg = factory();
        cfg.hostname = "mail.example.com".into();
        cfg.interfaces[1].address = Some("192.0.2.10".parse().unwrap());
        cfg.interfaces[1].prefix = 24;
        cfg.default_gateway = Some("192.0.2.1".parse().unwrap());
        cfg.destination_controls = vec![
            DestinationControl {
                domain: "example.com".into(),
                recipient_limit: Some(None),
                client_certificate: Some(None),
                max_concurrency: Some(10),
                ..Default::default()
            },
            DestinationControl {
                domain: ".example.org".into(),
                recipient_limit: Some(Some(RecipientLimit {
                    recipients: 5,
                    minutes: 10,
                })),
                client_certificate: Some(Some("Demo".into())),
                ..Default::default()
            },
            DestinationControl {
                domain: "plain.example".into(),
                ..Default::default()
            },
        ];
        cfg.listeners[0].rat[0].text = Some("say \"no\" \\ and 'bye'".into());
        let bv = &mut cfg.bounce_verification;
        bv.add_key("BVSECRETKEY-1".into(), 1_780_000_000).unwrap();
        bv.default_tagging = true;
        bv.set_destination("example.com", false);
        bv.invalid_action = crate::config::bounce_verification::InvalidBounceAction::AddHeader {
            name: "X-Bounce".into(),
            value: "invalid".into(),
        };
        cfg
    }

    #[test]
    fn bounce_verification_keys_are_masked_like_private_keys() {
        let cfg = with_everything();
        let text = to_text(&cfg, false).unwrap();
        assert!(!text.contains("BVSECRETKEY"), "{text}");
        assert_eq!(from_text(&text, &cfg).unwrap(), cfg);
        let mut elsewhere = cfg.clone();
        elsewhere.bounce_verification.keys.clear();
        let err = from_text(&text, &elsewhere).unwrap_err();
        assert!(err.to_string().contains("--include-secrets"), "{err}");
        assert!(to_text(&cfg, true).unwrap().contains("BVSECRETKEY-1"));
    }

    #[test]
    fn a_saved_file_loads_into_a_fresh_store_exactly() {
        let f = Fixture::new();
        let cfg = with_everything();
        f.store.stage(&cfg).unwrap();
        f.run("commit everything").unwrap();
        let text = f.run("saveconfig print --include-secrets").unwrap();
        assert!(
            text.contains("SECRETKEY") && text.contains("format = 1"),
            "{text}"
        );
        assert!(text.contains("recipient_limit = \"none\""), "{text}");
        assert!(text.contains("default_gateway = \"192.0.2.1\""), "{text}");

        let fresh = Fixture::new();
        let ctx = CommandContext {
            store: &fresh.store,
            user: "admin",
            on_commit: &|_| {},
        };
        let out = run(&ctx, None, "loadconfig", &["-".into()], Some(&text)).unwrap();
        assert!(out.contains("is staged"), "{out}");
        assert_eq!(fresh.staged().unwrap(), cfg);
        // The same file again: already staged changes are not overwritten.
        assert!(run(&ctx, None, "loadconfig", &["-".into()], Some(&text)).is_err());
    }

    #[test]
    fn private_keys_are_masked_unless_asked_and_masked_files_load_back_here_only() {
        let f = Fixture::new();
        let text = f.run("saveconfig print").unwrap();
        assert!(!text.contains("SECRETKEY") && text.contains(MASK), "{text}");
        assert!(
            text.contains("CERTDATA"),
            "the certificate itself is public"
        );
        let committed = f.store.committed().unwrap();
        assert_eq!(from_text(&text, &committed).unwrap(), committed);

        let mut elsewhere = committed.clone();
        elsewhere.certificates[0].cert_pem = "another certificate".into();
        let err = from_text(&text, &elsewhere).unwrap_err();
        assert!(err.to_string().contains("--include-secrets"), "{err}");
    }

    #[test]
    fn files_are_written_owner_only_under_the_data_directory_and_read_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let f = Fixture::new();
        let dir = tempfile::tempdir().unwrap();
        let ctx = CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &|_| {},
        };
        let out = run(
            &ctx,
            Some(dir.path()),
            "saveconfig",
            &["backup-1".into()],
            None,
        )
        .unwrap();
        let path = dir.path().join("configuration/backup-1.toml");
        assert!(out.contains(&path.display().to_string()), "{out}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let same = run(
            &ctx,
            Some(dir.path()),
            "loadconfig",
            &["backup-1.toml".into()],
            None,
        )
        .unwrap();
        assert!(same.contains("nothing was staged"), "{same}");
        assert!(f.staged().is_none());
        for bad in ["../etc/passwd", ".hidden", "a/b", ""] {
            assert!(
                run(&ctx, Some(dir.path()), "saveconfig", &[bad.into()], None).is_err(),
                "{bad}"
            );
            assert!(
                run(&ctx, Some(dir.path()), "loadconfig", &[bad.into()], None).is_err(),
                "{bad}"
            );
        }
        assert!(
            run(
                &ctx,
                Some(dir.path()),
                "loadconfig",
                &["missing".into()],
                None
            )
            .is_err()
        );
    }

    #[test]
    fn line_breaks_in_reply_texts_are_refused_naming_the_field() {
        let f = Fixture::new();
        let mut cfg = f.working();
        cfg.listeners[0].rat[0].text = Some("hello".into());
        f.store.stage(&cfg).unwrap();
        f.run("commit texts").unwrap();
        let good = f.run("saveconfig print --include-secrets").unwrap();
        let listener = &cfg.listeners[0].name;
        let cases = [
            (
                good.replacen(
                    "reject_banner_text = \"Access Denied\"",
                    "reject_banner_text = \"Access Denied\\r\\n250 forged\"",
                    1,
                ),
                "reject_banner_text",
            ),
            (
                good.replacen("text = \"hello\"", "text = \"hello\\n250 ok\"", 1),
                ".rat[0].text",
            ),
        ];
        let ctx = CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &|_| {},
        };
        for (text, field) in cases {
            assert_ne!(text, good, "the case changes the file");
            let err = run(&ctx, None, "loadconfig", &["-".into()], Some(&text)).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("was not loaded")
                    && msg.contains(&format!("listeners[{listener}]"))
                    && msg.contains(field)
                    && msg.contains("no control characters"),
                "{msg}"
            );
            assert!(f.staged().is_none());
        }
    }

    #[test]
    fn broken_or_inconsistent_files_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        let good = f.run("saveconfig print --include-secrets").unwrap();
        let bad_policy = good.replacen("policy = \"TRUSTED\"", "policy = \"NOPE\"", 1);
        let bad_host = good.replacen(
            "hostname = \"breakwater.dev.local\"",
            "hostname = \"not a host\"",
            1,
        );
        // Loopback is no gateway, and no interface is on 203.0.113.0/24.
        let bad_gateway = |gw: &str| {
            good.replacen(
                "hostname = \"breakwater.dev.local\"\n",
                &format!("hostname = \"breakwater.dev.local\"\ndefault_gateway = \"{gw}\"\n"),
                1,
            )
        };
        let cases = [
            "this is not toml at all [".to_string(),
            bad_gateway("127.0.1.254"),
            bad_gateway("203.0.113.1"),
            good.replacen("format = 1", "format = 99", 1),
            good.replacen("hostname = ", "hostnam = ", 1),
            bad_policy,
            bad_host,
        ];
        let ctx = CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &|_| {},
        };
        for text in &cases {
            assert!(
                run(&ctx, None, "loadconfig", &["-".into()], Some(text)).is_err(),
                "{text}"
            );
            assert!(f.staged().is_none());
        }
        assert!(f.run("saveconfig").is_err(), "no data directory here");
    }
}
