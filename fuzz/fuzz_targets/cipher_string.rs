//! Reads arbitrary text as an `sslconfig` cipher string.
//! Properties checked: evaluation never panics; a result names each suite
//! at most once; the result written back as suite names evaluates to
//! itself; and `!ECDSA` in front removes every ECDSA suite whatever
//! follows (a kill cannot be undone).
#![no_main]

use breakwater::config::ssl::{Tls12Suite, evaluate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(suites) = evaluate(text) else {
        return;
    };
    for (i, s) in suites.iter().enumerate() {
        assert!(!suites[..i].contains(s), "{s} twice for {text:?}");
    }
    let names: Vec<&str> = suites.iter().map(|s| s.openssl_name()).collect();
    assert_eq!(evaluate(&names.join(":")).as_ref(), Ok(&suites), "{text:?}");
    let killed = evaluate(&format!("!ECDSA:{text}")).expect("the same words");
    assert!(
        killed.iter().all(|s| s.openssl_name().starts_with("ECDHE-RSA-")),
        "{text:?} gave {killed:?}"
    );
    assert!(killed.iter().all(|s| Tls12Suite::ALL.contains(s)));
});
