//! Feeds arbitrary text as a join token pasted into `clusterconfig join`
//! (`breakwater_cluster::JoinToken::decode`). Properties checked: no
//! panic; an accepted token names a valid cluster, 1 to `MAX_ENDPOINTS`
//! https endpoints and a CA; and it encodes to a token that decodes to
//! itself.
#![no_main]

use breakwater_cluster::{JoinToken, MAX_ENDPOINTS, valid_endpoint, valid_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(token) = JoinToken::decode(text) else {
        return;
    };
    assert!(valid_name(&token.cluster));
    assert!((1..=MAX_ENDPOINTS).contains(&token.endpoints.len()));
    assert!(token.endpoints.iter().all(|e| valid_endpoint(e)));
    let again = token.encode().expect("an accepted token encodes");
    assert_eq!(JoinToken::decode(&again).expect("re-encoded token"), token);
});
