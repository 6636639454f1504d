//! Parses arbitrary text as an `Authentication-Results:` value, as the
//! filters read the gateway's own header back (sender authentication
//! rules). Properties checked: no panic, and an accepted value's
//! authserv-id is not empty and the results stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(r) = breakwater::filters::auth_results::parse(value) {
        assert!(!r.authserv_id.is_empty());
        assert!(r.dkim.len() <= 64);
    }
});
