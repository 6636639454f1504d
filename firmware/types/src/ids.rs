//! The identifiers AsyncOS administrators track mail by: MID (message),
//! ICID (incoming connection), DCID (delivery connection) and RID (a
//! recipient's index within its message).
//!
//! MIDs, ICIDs and DCIDs are never reused, also across restarts and crashes:
//! the store's allocator (`breakwater::ids::IdAllocator`) reserves blocks of
//! numbers in sled and makes each reservation durable before handing out a
//! number from it. Only the types live here, so every crate can name them
//! without naming the store.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// Message ID.
    Mid
);
id_type!(
    /// Incoming connection ID.
    Icid
);
id_type!(
    /// Delivery connection ID.
    Dcid
);

/// Recipient ID: the index of a recipient within its message, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rid(pub u32);

impl fmt::Display for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Formats RIDs the way AsyncOS logs them: `[0, 1, 2]`.
pub fn rid_list(rids: &[Rid]) -> String {
    let inner: Vec<String> = rids.iter().map(|r| r.0.to_string()).collect();
    format!("[{}]", inner.join(", "))
}
