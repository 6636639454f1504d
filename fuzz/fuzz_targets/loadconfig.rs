//! Feeds arbitrary text to `loadconfig` (a configuration file an
//! administrator pastes or uploads). Properties checked: reading and
//! checking never panic, and whatever is read saves again
//! (`saveconfig --include-secrets`) and loads back to the same
//! configuration.
#![no_main]

use std::sync::LazyLock;

use breakwater::config::Certificate;
use breakwater::config::factory::factory_config;
use breakwater::control::commands::saveconfig::{check, from_text, to_text};
use breakwater_board::BoardProfile;
use libfuzzer_sys::fuzz_target;

/// The configuration in force while the file is loaded (masked private
/// keys are taken from it).
static CURRENT: LazyLock<breakwater::config::Config> = LazyLock::new(|| {
    let board = BoardProfile::builtin("dev").expect("the dev board");
    let cert = Certificate {
        name: "Demo".into(),
        cert_pem: "-----BEGIN CERTIFICATE-----\nCERTDATA\n-----END CERTIFICATE-----\n".into(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-----\n".into(),
    };
    factory_config(&board, cert)
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = from_text(text, &CURRENT) else {
        return;
    };
    let _ = check(&cfg);
    let saved = to_text(&cfg, true).expect("a loaded configuration saves again");
    let again = from_text(&saved, &CURRENT).expect("a saved configuration loads");
    assert_eq!(again, cfg, "load/save round trip");
});
