//! The identifiers AsyncOS administrators track mail by: MID (message),
//! ICID (incoming connection), DCID (delivery connection) and RID (a
//! recipient's index within its message).
//!
//! MIDs, ICIDs and DCIDs are never reused, also across restarts and crashes:
//! the allocator reserves blocks of numbers in sled and makes each
//! reservation durable before handing out a number from it. A crash wastes
//! at most the rest of a block, which is harmless (AsyncOS numbers have gaps
//! too).

use std::fmt;
use std::sync::Mutex;

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

/// Numbers handed out per durable reservation.
const BLOCK: u64 = 1000;

struct Counter {
    next: u64,
    reserved_until: u64,
}

/// Hands out MIDs, ICIDs and DCIDs that are unique for the life of the data
/// directory.
pub struct IdAllocator {
    tree: sled::Tree,
    counters: Mutex<[Counter; 3]>,
}

#[derive(Clone, Copy)]
enum Kind {
    Mid = 0,
    Icid = 1,
    Dcid = 2,
}

const KEYS: [&str; 3] = ["mid", "icid", "dcid"];

impl IdAllocator {
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        let tree = db.open_tree("ids")?;
        let load = |key: &str| -> sled::Result<Counter> {
            let start = tree
                .get(key)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(1);
            Ok(Counter {
                next: start,
                reserved_until: start,
            })
        };
        let counters = [load(KEYS[0])?, load(KEYS[1])?, load(KEYS[2])?];
        Ok(Self {
            tree,
            counters: Mutex::new(counters),
        })
    }

    fn take(&self, kind: Kind) -> sled::Result<u64> {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let c = &mut counters[kind as usize];
        if c.next >= c.reserved_until {
            let until = c.next + BLOCK;
            self.tree
                .insert(KEYS[kind as usize], &until.to_be_bytes())?;
            // The reservation must be on disk before any number from it is
            // used, or a crash could hand the same number out twice.
            crate::durable::flush(&self.tree)?;
            c.reserved_until = until;
        }
        let id = c.next;
        c.next += 1;
        Ok(id)
    }

    pub fn mid(&self) -> sled::Result<Mid> {
        self.take(Kind::Mid).map(Mid)
    }

    pub fn icid(&self) -> sled::Result<Icid> {
        self.take(Kind::Icid).map(Icid)
    }

    pub fn dcid(&self) -> sled::Result<Dcid> {
        self.take(Kind::Dcid).map(Dcid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_not_reused_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let db = sled::open(dir.path()).unwrap();
            let ids = IdAllocator::open(&db).unwrap();
            let a = ids.mid().unwrap();
            let b = ids.mid().unwrap();
            assert!(b > a);
            b
        };
        let db = sled::open(dir.path()).unwrap();
        let ids = IdAllocator::open(&db).unwrap();
        assert!(ids.mid().unwrap() > first);
        assert_eq!(rid_list(&[Rid(0), Rid(2)]), "[0, 2]");
    }
}
