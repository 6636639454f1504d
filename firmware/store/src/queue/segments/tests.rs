use std::path::Path;

use breakwater_types::ids::Icid;
use breakwater_types::record::{Reception, Recipient, RecipientStatus};

use super::*;
use crate::queue::location::BodyError;
use crate::queue::store::SledSpoolStore;

fn record(mid: u64, size: u64) -> MessageRecord {
    MessageRecord {
        mid: Mid(mid),
        received_at: 1_796_578_200,
        reception: Reception {
            icid: Icid(1),
            listener: "IncomingMail".into(),
            interface: "Data 1".into(),
            sender_group: "UNKNOWNLIST".into(),
            policy: "ACCEPTED".into(),
            client_ip: "192.0.2.10".parse().unwrap(),
            rdns: None,
            rdns_verified: false,
            helo: "client".into(),
            tls: None,
        },
        mail_from: "alice@example.org".into(),
        recipients: vec![Recipient {
            rid: breakwater_types::ids::Rid(0),
            address: "bob@example.com".into(),
            status: RecipientStatus::Pending,
            attempts: 0,
            next_attempt: 0,
            last_response: None,
        }],
        body_size: size,
        message_id: None,
        subject: None,
        processing: Default::default(),
    }
}

/// Opens the test's database. After a "restart" sled's flusher thread of
/// the dropped `Db` may still hold the directory's lock for a moment: wait
/// for it rather than fail.
fn open_db(dir: &Path) -> sled::Db {
    let mut tries = 0;
    loop {
        match sled::Config::new().path(dir.join("db")).open() {
            Err(sled::Error::Io(e))
                if tries < 100
                    && (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock")) =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other.unwrap(),
        }
    }
}

/// What the committer does for a batch.
fn commit(store: &dyn QueueStore, mids: &[u64]) {
    let mids: Vec<Mid> = mids.iter().map(|m| Mid(*m)).collect();
    store.sync_bodies(&mids).unwrap();
    for mid in &mids {
        store.put(&record(mid.0, 0)).unwrap();
    }
    store.flush().unwrap();
}

/// What retiring a delivered message does: record out, flush, bytes out.
fn retire(store: &dyn QueueStore, mid: u64) {
    store.remove(Mid(mid)).unwrap();
    store.flush().unwrap();
    store.remove_body(Mid(mid)).unwrap();
}

fn body(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("spool/segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn interleaved_streamed_bodies_read_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (body(1, 150_000), body(2, 70_000), body(3, 10));
    {
        let db = open_db(dir.path());
        let store = SegmentStore::open(&db, dir.path()).unwrap();
        // Two sessions' 64 KiB chunks arrive interleaved.
        store.append_body(Mid(1), &a[..65536], true).unwrap();
        store.append_body(Mid(2), &b[..65536], true).unwrap();
        store.append_body(Mid(1), &a[65536..131072], false).unwrap();
        store.finish_body(Mid(2), &b[65536..], false).unwrap();
        store.finish_body(Mid(1), &a[131072..], false).unwrap();
        store.write_body(Mid(3), &c).unwrap();
        commit(&store, &[1, 2, 3]);
        assert_eq!(store.read_body(Mid(1)).unwrap(), a);
        assert_eq!(store.read_body(Mid(2)).unwrap(), b);
        assert_eq!(store.segment_count(), 1, "one segment, not a file per body");
    }
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    assert_eq!(store.scan().unwrap().len(), 3);
    assert!(store.orphan_bodies().unwrap().is_empty());
    assert_eq!(store.read_body(Mid(1)).unwrap(), a);
    assert_eq!(store.read_body(Mid(2)).unwrap(), b);
    assert_eq!(store.read_body(Mid(3)).unwrap(), c);
}

#[test]
fn first_starts_a_body_anew() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    store
        .append_body(Mid(7), b"abandoned transaction", true)
        .unwrap();
    store.append_body(Mid(7), b"Subject: x\r\n", true).unwrap();
    store.finish_body(Mid(7), b"\r\nbody\r\n", false).unwrap();
    commit(&store, &[7]);
    assert_eq!(
        store.read_body(Mid(7)).unwrap(),
        b"Subject: x\r\n\r\nbody\r\n"
    );
}

#[test]
fn segments_rotate_and_come_back_once_their_messages_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    // Four 1000-byte bodies per segment.
    let store = SegmentStore::open_with(&db, dir.path(), 4000).unwrap();
    for mid in 1..=12 {
        store.write_body(Mid(mid), &body(mid as u8, 1000)).unwrap();
    }
    commit(&store, &(1..=12).collect::<Vec<_>>());
    assert_eq!(segment_files(dir.path()).len(), 3);
    // The first segment's four messages are delivered but for one.
    for mid in 1..=3 {
        retire(&store, mid);
    }
    assert_eq!(
        segment_files(dir.path()).len(),
        3,
        "MID 4 pins the first segment"
    );
    assert_eq!(
        store.slack_bytes(),
        3000,
        "the dead bytes of a pinned segment count"
    );
    retire(&store, 4);
    assert_eq!(segment_files(dir.path()).len(), 2);
    assert_eq!(store.slack_bytes(), 0);
    // The active (last) segment stays while it takes bodies, even empty.
    for mid in 5..=12 {
        retire(&store, mid);
    }
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert_eq!(store.scan().unwrap().len(), 0);
}

#[test]
fn a_removal_not_yet_flushed_keeps_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let store = SegmentStore::open_with(&db, dir.path(), 1000).unwrap();
    store.write_body(Mid(1), &body(1, 1000)).unwrap();
    store.write_body(Mid(2), &body(2, 1000)).unwrap();
    commit(&store, &[1, 2]);
    store.remove(Mid(1)).unwrap();
    // The committer calls remove_body only after its flush; until then the
    // segment stays whatever else happens.
    assert_eq!(segment_files(dir.path()).len(), 2);
    store.flush().unwrap();
    store.remove_body(Mid(1)).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[test]
fn uncommitted_chunks_die_with_their_segment_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path());
        let store = SegmentStore::open(&db, dir.path()).unwrap();
        store.append_body(Mid(1), &body(1, 5000), true).unwrap();
        store.write_body(Mid(2), &body(2, 5000)).unwrap();
        commit(&store, &[2]);
        // "Crash": MID 1 was never committed, MID 2's record is gone
        // durably but its bytes were not freed yet.
        store.remove(Mid(2)).unwrap();
        store.flush().unwrap();
    }
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    assert!(store.scan().unwrap().is_empty());
    assert!(
        segment_files(dir.path()).is_empty(),
        "nothing lives in the old segment"
    );
}

#[test]
fn a_replaced_body_is_durable_and_the_old_bytes_go() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path());
        let store = SegmentStore::open_with(&db, dir.path(), 1000).unwrap();
        store.write_body(Mid(1), &body(1, 1000)).unwrap();
        commit(&store, &[1]);
        store
            .replace_body(Mid(1), b"rewritten by a filter")
            .unwrap();
        assert_eq!(store.read_body(Mid(1)).unwrap(), b"rewritten by a filter");
        assert_eq!(
            segment_files(dir.path()).len(),
            1,
            "the old body's segment went"
        );
    }
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    assert_eq!(store.read_body(Mid(1)).unwrap(), b"rewritten by a filter");
}

#[test]
fn damage_in_a_segment_is_reported_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path());
        let store = SegmentStore::open(&db, dir.path()).unwrap();
        store.write_body(Mid(1), &body(1, 4000)).unwrap();
        store.write_body(Mid(2), &body(2, 4000)).unwrap();
        commit(&store, &[1, 2]);
    }
    let seg = segment_files(dir.path()).remove(0);
    let mut bytes = fs::read(&seg).unwrap();
    bytes[100] ^= 0x40;
    bytes.truncate(6000);
    fs::write(&seg, &bytes).unwrap();
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    assert!(matches!(
        store.read_body(Mid(1)),
        Err(QueueError::Body {
            source: BodyError::Checksum { .. },
            ..
        })
    ));
    assert!(matches!(
        store.read_body(Mid(2)),
        Err(QueueError::Body {
            source: BodyError::OutOfBounds { .. },
            ..
        })
    ));
}

#[test]
fn a_queue_written_by_the_file_per_body_firmware_is_delivered_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path());
        let old = SledSpoolStore::open(&db, dir.path()).unwrap();
        old.write_body(Mid(1), b"queued before the upgrade")
            .unwrap();
        old.append_body(Mid(2), b"streamed, ", true).unwrap();
        old.finish_body(Mid(2), b"then committed", false).unwrap();
        commit(&old, &[1, 2]);
        // A body whose record never made it (a crash before the commit).
        old.write_body(Mid(3), b"never acknowledged").unwrap();
    }
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    assert_eq!(store.orphan_bodies().unwrap(), vec![Mid(3)]);
    store.remove_body(Mid(3)).unwrap();
    assert_eq!(store.scan().unwrap().len(), 2);
    assert_eq!(
        store.read_body(Mid(1)).unwrap(),
        b"queued before the upgrade"
    );
    assert_eq!(
        store.read_body(Mid(2)).unwrap(),
        b"streamed, then committed"
    );
    // New mail goes to segments beside the old spool.
    store.write_body(Mid(4), b"after the upgrade").unwrap();
    commit(&store, &[4]);
    assert_eq!(store.read_body(Mid(4)).unwrap(), b"after the upgrade");
    // A filter rewrites an old message: its file goes once the new body is durable.
    store.replace_body(Mid(2), b"rewritten").unwrap();
    assert_eq!(store.read_body(Mid(2)).unwrap(), b"rewritten");
    let legacy = FileSpool::new(&dir.path().join("spool"));
    assert!(!legacy.body_path(Mid(2)).exists());
    retire(&store, 1);
    assert!(!legacy.body_path(Mid(1)).exists());
    drop(store);
    drop(db);
    // Once the old spool is empty its directories go too.
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    assert!(!legacy.bucket(Mid(1)).exists());
    assert_eq!(store.read_body(Mid(4)).unwrap(), b"after the upgrade");
}

#[test]
fn a_discarded_body_frees_its_pin() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let store = SegmentStore::open_with(&db, dir.path(), 1000).unwrap();
    store.append_body(Mid(1), &body(1, 1000), true).unwrap();
    store.remove_body(Mid(1)).unwrap();
    store.write_body(Mid(2), &body(2, 1000)).unwrap();
    commit(&store, &[2]);
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "the refused body's segment went"
    );
}

#[test]
fn a_long_deferred_message_does_not_hold_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path());
        let store = SegmentStore::open_with(&db, dir.path(), 8000).unwrap();
        for mid in 1..=16 {
            store.write_body(Mid(mid), &body(mid as u8, 1000)).unwrap();
        }
        commit(&store, &(1..=16).collect::<Vec<_>>());
        // MID 3 is deferred; the rest of the first segment is delivered.
        for mid in [1, 2, 4, 5, 6, 7, 8] {
            retire(&store, mid);
        }
        assert_eq!(store.slack_bytes(), 7000);
        assert_eq!(store.compact().unwrap(), 8000, "the first segment went");
        assert_eq!(store.slack_bytes(), 0);
        assert_eq!(store.read_body(Mid(3)).unwrap(), body(3, 1000));
        assert_eq!(store.compact().unwrap(), 0, "nothing else is mostly dead");
        // A moved message retires like any other.
        retire(&store, 9);
    }
    let db = open_db(dir.path());
    let store = SegmentStore::open(&db, dir.path()).unwrap();
    assert_eq!(store.read_body(Mid(3)).unwrap(), body(3, 1000));
    assert_eq!(store.scan().unwrap().len(), 8);
}
