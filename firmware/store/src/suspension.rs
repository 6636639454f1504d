//! The operational suspension of receiving and delivery (`suspendlistener`,
//! `suspenddel`, `suspend` and their `resume` commands), kept across
//! restarts as AsyncOS keeps it across reboots. It is an operational state,
//! not configuration: it lives in its own tree, outside the committed
//! configuration, so `commit`, `rollbackconfig` and `loadconfig` neither
//! carry nor undo it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::codec;

const KEY: &str = "suspension";
/// The record's codec version.
const VERSION: u8 = 1;

/// What is suspended now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// Listeners (by name) that answer new connections with 421.
    pub listeners: BTreeSet<String>,
    /// No delivery starts: queued mail stays queued.
    pub delivery: bool,
}

impl Suspension {
    /// Whether the listener named `name` is suspended.
    pub fn listener(&self, name: &str) -> bool {
        self.listeners.contains(name)
    }

    /// AsyncOS's "System status" line for the configured listeners
    /// `names`: receiving counts as suspended once every one of them is.
    pub fn system_status<'a>(&self, mut names: impl Iterator<Item = &'a str>) -> &'static str {
        let first = names.next();
        let receiving_suspended =
            first.is_some_and(|n| self.listener(n)) && names.all(|n| self.listener(n));
        match (receiving_suspended, self.delivery) {
            (false, false) => "Online",
            (true, false) => "Receiving suspended",
            (false, true) => "Delivery suspended",
            (true, true) => "Receiving and delivery suspended",
        }
    }
}

/// Where the suspension is kept.
#[derive(Clone)]
pub struct SuspensionStore {
    tree: sled::Tree,
}

impl SuspensionStore {
    /// Opens the `operational` tree.
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("operational")?,
        })
    }

    /// The saved state; nothing suspended when none was saved, or when
    /// the record is unreadable (mail flowing is the safe default of a
    /// gateway: it was configured to receive and deliver).
    pub fn load(&self) -> Suspension {
        self.tree
            .get(KEY)
            .ok()
            .flatten()
            .and_then(|bytes| codec::decode(VERSION, &bytes).ok())
            .unwrap_or_default()
    }

    /// Saves `state` and flushes it: an administrator who suspended
    /// receiving before a power cut must find it suspended after it.
    pub fn save(&self, state: &Suspension) -> Result<(), SuspensionError> {
        let bytes = codec::encode(VERSION, state)?;
        self.tree.insert(KEY, bytes)?;
        self.tree.flush()?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SuspensionError {
    #[error("cannot encode the suspension state: {0}")]
    Codec(#[from] codec::CodecError),
    #[error("cannot save the suspension state: {0}")]
    Store(#[from] sled::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_survives_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let store = SuspensionStore::open(&db).unwrap();
            assert_eq!(store.load(), Suspension::default());
            let state = Suspension {
                listeners: ["IncomingMail".to_string()].into(),
                delivery: true,
            };
            store.save(&state).unwrap();
        }
        let db = sled::open(dir.path()).unwrap();
        let state = SuspensionStore::open(&db).unwrap().load();
        assert!(state.listener("IncomingMail"));
        assert!(!state.listener("OutgoingMail"));
        assert!(state.delivery);
    }

    #[test]
    fn system_status_says_what_is_suspended() {
        let mut s = Suspension::default();
        let names = ["In", "Out"];
        assert_eq!(s.system_status(names.into_iter()), "Online");
        s.listeners.insert("In".into());
        assert_eq!(s.system_status(names.into_iter()), "Online");
        s.listeners.insert("Out".into());
        assert_eq!(s.system_status(names.into_iter()), "Receiving suspended");
        s.delivery = true;
        assert_eq!(
            s.system_status(names.into_iter()),
            "Receiving and delivery suspended"
        );
        s.listeners.clear();
        assert_eq!(s.system_status(names.into_iter()), "Delivery suspended");
        // No listener at all: nothing to call suspended.
        assert_eq!(s.system_status([].into_iter()), "Delivery suspended");
    }
}
