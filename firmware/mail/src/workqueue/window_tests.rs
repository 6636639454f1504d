//! The window over a real store (sled + spool in a temporary directory):
//! paging order, a full window, out-of-order commits, draining, restart.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use proptest::prelude::*;

use super::{Origin, PAGE, Window, remove_orphans};
use crate::ids::{Icid, Mid, Rid};
use crate::queue::{
    MessageRecord, QueueStore, Reception, Recipient, RecipientStatus, SledSpoolStore,
};

struct Disk {
    _dir: tempfile::TempDir,
    store: Arc<SledSpoolStore>,
}

fn disk() -> Disk {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path().join("db"))
        .open()
        .unwrap();
    let store = Arc::new(SledSpoolStore::open(&db, dir.path()).unwrap());
    Disk { _dir: dir, store }
}

fn record(mid: u64) -> MessageRecord {
    MessageRecord {
        mid: Mid(mid),
        received_at: 0,
        reception: Reception {
            icid: Icid(1),
            listener: "IncomingMail".into(),
            interface: "Data 1".into(),
            sender_group: String::new(),
            policy: String::new(),
            client_ip: "192.0.2.1".parse().unwrap(),
            rdns: None,
            rdns_verified: false,
            helo: "client".into(),
            tls: None,
        },
        mail_from: "a@example.com".into(),
        recipients: vec![Recipient {
            rid: Rid(0),
            address: "b@example.net".into(),
            status: RecipientStatus::Pending,
            attempts: 0,
            next_attempt: 0,
            last_response: None,
        }],
        body_size: 10,
        message_id: None,
        subject: None,
        processing: Default::default(),
    }
}

/// Commits as the committer does: body, then record (what a page reads
/// is sled's state; the flush that makes it durable is the committer's
/// business and is left out to keep the simulation fast).
fn commit(store: &SledSpoolStore, mid: u64) {
    store.append_body(Mid(mid), b"body", true).unwrap();
    store.put(&record(mid)).unwrap();
}

/// Retires as the work queue does.
fn retire(store: &SledSpoolStore, window: &mut Window, mid: Mid) {
    store.remove(mid).unwrap();
    store.remove_body(mid).unwrap();
    window.release(mid);
}

fn mids(taken: &[(MessageRecord, Origin)]) -> Vec<u64> {
    taken.iter().map(|(r, _)| r.mid.0).collect()
}

#[test]
fn scan_page_returns_records_above_the_cursor_in_mid_order() {
    let d = disk();
    for mid in [5, 1, 300, 2, 256, 257] {
        commit(&d.store, mid);
    }
    let all: Vec<u64> = d
        .store
        .scan_page(None, 100)
        .unwrap()
        .iter()
        .map(|r| r.mid.0)
        .collect();
    assert_eq!(all, [1, 2, 5, 256, 257, 300]);
    let page: Vec<u64> = d
        .store
        .scan_page(Some(Mid(5)), 2)
        .unwrap()
        .iter()
        .map(|r| r.mid.0)
        .collect();
    assert_eq!(page, [256, 257]);
    assert!(d.store.scan_page(Some(Mid(300)), 10).unwrap().is_empty());
}

#[test]
fn a_restart_pages_the_queue_in_mid_order_never_more_than_the_window() {
    let d = disk();
    for mid in 1..=25 {
        commit(&d.store, mid);
    }
    let mut w = Window::new(10, d.store.clone(), Mid(100));
    assert!(
        w.page(0).unwrap().is_empty(),
        "no page before the orphan scan"
    );
    w.set_ready();
    let first = w.page(0).unwrap();
    assert_eq!(mids(&first), (1..=10).collect::<Vec<_>>());
    assert!(first.iter().all(|(_, o)| *o == Origin::Recovered));
    assert!(w.page(0).unwrap().is_empty(), "the window is full");
    assert!(!w.wants_page(0, 1));
    // Three finish: three more come in, the next oldest.
    for mid in 1..=3 {
        retire(&d.store, &mut w, Mid(mid));
    }
    assert_eq!(mids(&w.page(0).unwrap()), [11, 12, 13]);
    // Quarantined messages do not count against the window.
    assert_eq!(mids(&w.page(2).unwrap()), [14, 15]);
    assert!(w.backlog());
}

#[test]
fn a_new_message_waits_on_disk_while_the_window_is_full_and_comes_in_once() {
    let d = disk();
    for mid in 1..=4 {
        commit(&d.store, mid);
    }
    let mut w = Window::new(4, d.store.clone(), Mid(10));
    w.set_ready();
    assert_eq!(mids(&w.page(0).unwrap()), [1, 2, 3, 4]);
    commit(&d.store, 10);
    assert!(!w.committed(Mid(10), 0), "full: it stays on disk");
    retire(&d.store, &mut w, Mid(1));
    let taken = w.page(0).unwrap();
    assert_eq!(mids(&taken), [10]);
    assert_eq!(taken[0].1, Origin::New);
    assert!(
        !w.backlog(),
        "the page came back short: nothing left on disk"
    );
    // With room, a commit is taken in at once, and a page skips it.
    retire(&d.store, &mut w, Mid(2));
    commit(&d.store, 11);
    assert!(w.committed(Mid(11), 0));
    assert!(!w.committed(Mid(11), 0), "owned already");
    assert!(w.page(0).unwrap().is_empty());
}

#[test]
fn a_message_committed_after_the_pager_passed_its_mid_is_found() {
    let d = disk();
    // MID 7 was allocated before 8 and 9 but commits last.
    commit(&d.store, 8);
    commit(&d.store, 9);
    let mut w = Window::new(2, d.store.clone(), Mid(5));
    w.set_ready();
    assert!(w.committed(Mid(8), 0));
    // 8 was taken at its commit; the page takes 9.
    assert_eq!(mids(&w.page(0).unwrap()), [9]);
    commit(&d.store, 7);
    assert!(!w.committed(Mid(7), 0), "full");
    retire(&d.store, &mut w, Mid(9));
    let taken = w.page(0).unwrap();
    assert_eq!(mids(&taken), [7], "the cursor went back below 7");
    assert!(!w.backlog());
}

#[test]
fn the_orphan_scan_leaves_this_runs_files_alone() {
    let d = disk();
    commit(&d.store, 1);
    d.store
        .append_body(Mid(2), b"never acknowledged", true)
        .unwrap();
    d.store
        .append_body(Mid(50), b"being received now", true)
        .unwrap();
    assert_eq!(remove_orphans(d.store.as_ref(), Mid(10)).unwrap(), 1);
    assert!(d.store.read_body(Mid(1)).is_ok());
    assert!(d.store.read_body(Mid(2)).is_err());
    assert!(d.store.read_body(Mid(50)).is_ok());
}

#[test]
fn load_finds_one_record_by_mid() {
    let d = disk();
    commit(&d.store, 3);
    commit(&d.store, 9);
    let w = Window::new(1, d.store.clone(), Mid(10));
    assert_eq!(w.load(Mid(9)).unwrap().map(|r| r.mid), Some(Mid(9)));
    assert!(w.load(Mid(4)).unwrap().is_none());
    assert!(w.load(Mid(0)).unwrap().is_none());
}

#[test]
fn pages_skip_owned_records_without_counting_them() {
    let d = disk();
    for mid in 1..=(PAGE as u64 + 5) {
        commit(&d.store, mid);
    }
    let mut w = Window::new(PAGE * 4, d.store.clone(), Mid(1));
    // All of this run's: taken at commit.
    for mid in 1..=10 {
        assert!(w.committed(Mid(mid), 0));
    }
    w.set_ready();
    let first = w.page(0).unwrap();
    assert_eq!(first.len(), PAGE - 10);
    assert_eq!(first[0].0.mid, Mid(11));
    assert!(w.backlog(), "a full page: maybe more");
    assert_eq!(
        w.page(0).unwrap().len(),
        5,
        "261 on disk, 10 owned: 246 + 5"
    );
    assert!(!w.backlog());
}

/// One step of the simulation below.
#[derive(Debug, Clone)]
enum Step {
    /// A session starts: a MID is allocated.
    Allocate,
    /// The n-th (modulo) session still in progress commits.
    Commit(usize),
    /// The n-th (modulo) message in the window finishes.
    Finish(usize),
    /// The work queue reads a page.
    Page,
    /// kill -9 and start again.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Allocate),
        3 => any::<usize>().prop_map(Step::Commit),
        2 => any::<usize>().prop_map(Step::Finish),
        2 => Just(Step::Page),
        1 => Just(Step::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Out-of-order commits, a small window, drains and restarts in any
    /// order: every committed message is taken in exactly once per run
    /// until it finishes, the window never holds more than its limit, and
    /// at the end every committed message has been taken in.
    #[test]
    fn no_message_is_lost_or_taken_twice(limit in 1usize..6, steps in proptest::collection::vec(step(), 1..120)) {
        let d = disk();
        let mut next = 1u64;
        let mut window = Window::new(limit, d.store.clone(), Mid(next));
        window.set_ready();
        let mut in_progress: Vec<u64> = Vec::new();
        let mut on_disk: BTreeSet<u64> = BTreeSet::new();
        // Taken in this run: MID -> times.
        let mut taken: HashMap<u64, u32> = HashMap::new();
        let take = |taken: &mut HashMap<u64, u32>, mid: u64| *taken.entry(mid).or_default() += 1;
        for s in steps {
            match s {
                Step::Allocate => {
                    in_progress.push(next);
                    next += 1;
                }
                Step::Commit(n) if !in_progress.is_empty() => {
                    let mid = in_progress.remove(n % in_progress.len());
                    commit(&d.store, mid);
                    on_disk.insert(mid);
                    if window.committed(Mid(mid), 0) {
                        take(&mut taken, mid);
                    }
                }
                Step::Finish(n) => {
                    let owned: Vec<u64> = taken.keys().copied().filter(|m| window.owns(Mid(*m))).collect();
                    if !owned.is_empty() {
                        let mut owned = owned;
                        owned.sort_unstable();
                        let mid = owned[n % owned.len()];
                        retire(&d.store, &mut window, Mid(mid));
                        on_disk.remove(&mid);
                    }
                }
                Step::Page => {
                    for (r, _) in window.page(0).unwrap() {
                        take(&mut taken, r.mid.0);
                    }
                }
                Step::Restart => {
                    // Sessions in progress die with the daemon (never acknowledged).
                    in_progress.clear();
                    next += 1000; // the allocator's reserved block
                    window = Window::new(limit, d.store.clone(), Mid(next));
                    window.set_ready();
                    taken.clear();
                }
                Step::Commit(_) => {}
            }
            prop_assert!(window.in_use(0) <= limit);
            prop_assert!(taken.values().all(|n| *n == 1), "taken twice: {taken:?}");
        }
        // Drain: finish everything in the window, page, until nothing is left.
        for _ in 0..10_000 {
            let owned: Vec<u64> = taken.keys().copied().filter(|m| window.owns(Mid(*m))).collect();
            for mid in owned {
                retire(&d.store, &mut window, Mid(mid));
                on_disk.remove(&mid);
            }
            let page = window.page(0).unwrap();
            if page.is_empty() && !window.backlog() {
                break;
            }
            for (r, _) in page {
                take(&mut taken, r.mid.0);
            }
            prop_assert!(taken.values().all(|n| *n == 1));
        }
        prop_assert!(on_disk.is_empty(), "left on disk, never taken in: {on_disk:?}");
        prop_assert!(d.store.scan_page(None, 10).unwrap().is_empty());
    }
}
