//! A real `ConfigStore` on a temporary sled holding the committed factory
//! configuration, and a way to run command lines against it.

use std::sync::Mutex;

use super::{CliError, CommandContext, run};
use crate::config::factory::factory_config;
use crate::config::{Certificate, Config, ConfigStore};

pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) store: ConfigStore,
    /// Every config `on_commit` was called with.
    pub(super) applied: Mutex<Vec<Config>>,
}

impl Fixture {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let store = ConfigStore::open(&db).unwrap();
        store.commit("admin", "factory", Some(&factory())).unwrap();
        Self {
            _dir: dir,
            store,
            applied: Mutex::new(Vec::new()),
        }
    }

    /// Runs `line`, split like a shell would (double quotes group words).
    pub(super) fn run(&self, line: &str) -> Result<String, CliError> {
        self.run_args(&breakwater_control_proto::split_words(line))
    }

    pub(super) fn run_args(&self, args: &[String]) -> Result<String, CliError> {
        let on_commit = |c: &Config| self.applied.lock().unwrap().push(c.clone());
        let ctx = CommandContext {
            store: &self.store,
            user: "admin",
            on_commit: &on_commit,
        };
        run(&ctx, None, args, None)
    }

    pub(super) fn staged(&self) -> Option<Config> {
        self.store.staged().unwrap()
    }

    pub(super) fn working(&self) -> Config {
        self.store.working().unwrap()
    }

    /// Runs each bad line and checks it fails and leaves nothing staged.
    pub(super) fn assert_refused(&self, lines: &[&str]) {
        for line in lines {
            let result = self.run(line);
            assert!(result.is_err(), "{line} was accepted: {result:?}");
            assert!(self.staged().is_none(), "{line} staged a change");
        }
    }
}

pub(super) fn factory() -> Config {
    let board = breakwater_board::BoardProfile::builtin("dev").unwrap();
    let cert = Certificate {
        name: "Demo".into(),
        cert_pem: "-----BEGIN CERTIFICATE-----\nCERTDATA\n-----END CERTIFICATE-----\n".into(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-----\n".into(),
    };
    factory_config(&board, cert)
}
