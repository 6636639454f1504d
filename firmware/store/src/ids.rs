//! The durable ID allocator: MIDs, ICIDs and DCIDs unique for the life of
//! the data directory. The ID types themselves live in `breakwater-types`
//! (re-exported here so `crate::ids::Mid` names the same type); only this
//! allocator names sled, so a protocol core handed its IDs never reaches a
//! flush.

use std::sync::Mutex;

pub use breakwater_types::ids::*;

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

    /// The MID the next `mid()` will hand out, without taking it: every
    /// MID allocated from now on is at least this one (the work queue's
    /// recovery tells this run's spool files from a crashed run's by it;
    /// taking one would make an administrator's first message MID 2).
    pub fn next_mid(&self) -> Mid {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        Mid(counters[Kind::Mid as usize].next)
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
