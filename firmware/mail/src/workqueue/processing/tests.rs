//! Processing on a real queue (sled + spool in a temporary directory) and
//! a real work queue. Mail is routed to a closed port on loopback, so a
//! routed message stays queued (deferred) where the test can look at it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::archive;
use crate::config::{
    Config, MailPolicy, MemberSide, MessageFilterConfig, PolicyMember, PolicySettings, RouteHost,
    RouteTarget, SmtpRoute,
};
use crate::delivery::Delivery;
use crate::ids::{Icid, IdAllocator, Mid, Rid};
use crate::queue::{
    self, MessageRecord, QueueHandle, QueueStore, Reception, Recipient, RecipientStatus,
    SledSpoolStore,
};
use crate::workqueue::{self, Stats, WorkQueueHandle};

struct Rig {
    _dir: tempfile::TempDir,
    store: Arc<SledSpoolStore>,
    queue: QueueHandle,
    wq: WorkQueueHandle,
    ids: Arc<IdAllocator>,
}

fn config(filters: &str) -> Config {
    let mut cfg = crate::config::factory::dev_factory_for_tests();
    cfg.smtp_routes = vec![SmtpRoute {
        domain: "ALL".into(),
        target: RouteTarget::Hosts(vec![RouteHost {
            host: "127.0.0.1".into(),
            port: 9,
            priority: 0,
        }]),
    }];
    if !filters.is_empty() {
        for f in crate::filters::parse(filters).unwrap() {
            let mut printed = f.clone();
            printed.active = true;
            cfg.message_filters.push(MessageFilterConfig {
                name: f.name.clone(),
                active: f.active,
                source: printed.to_string(),
            });
        }
    }
    cfg
}

async fn rig(cfg: Config) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path().join("db"))
        .open()
        .unwrap();
    let store = Arc::new(SledSpoolStore::open(&db, dir.path()).unwrap());
    let (committed_tx, committed_rx) = mpsc::unbounded_channel();
    let queue = queue::start(store.clone(), cfg.queue, committed_tx).unwrap();
    let (_tx, config_rx) = watch::channel(Arc::new(cfg.clone()));
    std::mem::forget(_tx);
    let ids = Arc::new(IdAllocator::open(&db).unwrap());
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let dns = crate::dns::Dns::new(&cfg.dns).unwrap();
    let delivery = Delivery::new(
        config_rx.clone(),
        ids.clone(),
        queue.clone(),
        dns,
        reports_tx,
    );
    let wq = workqueue::start(
        config_rx,
        queue.clone(),
        store.clone(),
        10_000,
        delivery,
        ids.clone(),
        Stats::open(
            breakwater_store::counters::CounterStore::open(
                &db,
                crate::workqueue::stats::COUNTERS_VERSION,
            )
            .unwrap(),
        ),
        dir.path().to_path_buf(),
        committed_rx,
        reports_rx,
        false,
    );
    Rig {
        _dir: dir,
        store,
        queue,
        wq,
        ids,
    }
}

fn record(mid: Mid, listener: &str, group: &str, rcpts: &[&str]) -> MessageRecord {
    MessageRecord {
        mid,
        received_at: chrono::Utc::now().timestamp(),
        reception: Reception {
            icid: Icid(1),
            listener: listener.into(),
            interface: "Data 2".into(),
            sender_group: group.into(),
            policy: "RELAYED".into(),
            client_ip: "192.0.2.10".parse().unwrap(),
            rdns: Some("mail.protection.outlook.com".into()),
            rdns_verified: true,
            helo: "mail".into(),
            tls: None,
        },
        mail_from: "alice@example.com".into(),
        recipients: rcpts
            .iter()
            .enumerate()
            .map(|(i, a)| Recipient {
                rid: Rid(i as u32),
                address: a.to_string(),
                status: RecipientStatus::Pending,
                attempts: 0,
                next_attempt: 0,
                last_response: None,
            })
            .collect(),
        body_size: 0,
        message_id: None,
        subject: Some("hello".into()),
        processing: Default::default(),
    }
}

fn body(extra_header: &str) -> Vec<u8> {
    format!(
        "From: <alice@example.com>\r\nTo: <bob@partner.example>\r\nSubject: hello\r\n{extra_header}\r\nbody text\r\n"
    )
    .into_bytes()
}

impl Rig {
    async fn send(&self, mut r: MessageRecord, b: Vec<u8>) -> Mid {
        r.body_size = b.len() as u64;
        let mid = r.mid;
        self.queue.enqueue(r, b).await.unwrap();
        mid
    }

    fn mid(&self) -> Mid {
        self.ids.mid().unwrap()
    }

    async fn held(&self) -> Vec<MessageRecord> {
        self.wq
            .query(|wq| wq.processing.held.values().cloned().collect::<Vec<_>>())
            .await
            .unwrap()
    }

    /// Waits until `probe` holds on the queued records.
    async fn until(
        &self,
        what: &str,
        probe: impl Fn(&[MessageRecord]) -> bool,
    ) -> Vec<MessageRecord> {
        for _ in 0..200 {
            let records = self.store.scan().unwrap();
            if probe(&records) {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{what}: {:#?}", self.store.scan().unwrap());
    }
}

const SEED: &str = "office365_outbound: if sendergroup == \"RELAY_O365\" {\n  if header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\" {\n    strip-header(\"X-OUTBOUND-AUTH\");\n  } else {\n    drop();\n  }\n}\nhold: if true { quarantine(\"Policy\"); }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_filter_strips_the_secret_or_drops_the_message() {
    let r = rig(config(SEED)).await;
    let good = r
        .send(
            record(
                r.mid(),
                "OutgoingMail",
                "RELAY_O365",
                &["bob@partner.example"],
            ),
            body("X-OUTBOUND-AUTH: mysecretkey\r\n"),
        )
        .await;
    let bad = r
        .send(
            record(
                r.mid(),
                "OutgoingMail",
                "RELAY_O365",
                &["bob@partner.example"],
            ),
            body("X-OUTBOUND-AUTH: wrong\r\n"),
        )
        .await;
    let other = r
        .send(
            record(r.mid(), "IncomingMail", "UNKNOWNLIST", &["bob@example.com"]),
            body("X-OUTBOUND-AUTH: wrong\r\n"),
        )
        .await;
    let records = r
        .until("the dropped message leaves the queue", |rs| {
            // The other two are processed (and held) by then.
            rs.len() == 2 && rs.iter().all(|x| x.mid != bad && x.processing.processed)
        })
        .await;
    assert!(
        records.iter().all(|x| x.processing.processed),
        "{records:#?}"
    );
    let held = r.held().await;
    assert_eq!(
        held.iter().map(|h| h.mid).collect::<Vec<_>>(),
        [good, other]
    );
    let stripped = r.queue.read_body(good).unwrap();
    assert!(!String::from_utf8_lossy(&stripped).contains("X-OUTBOUND-AUTH"));
    assert_eq!(held[0].body_size, stripped.len() as u64);
    let untouched = r.queue.read_body(other).unwrap();
    assert!(String::from_utf8_lossy(&untouched).contains("X-OUTBOUND-AUTH: wrong"));
    let list =
        r.wq.query(|wq| wq.quarantine_command(&["list".to_string()]))
            .await
            .unwrap()
            .unwrap();
    assert!(list.contains(&format!("{good}  Policy")), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_matching_different_policies_are_split_into_messages() {
    let mut cfg = config("");
    cfg.incoming_policies.policies.push(MailPolicy {
        name: "SALES".into(),
        members: vec![PolicyMember {
            side: MemberSide::Recipient,
            pattern: "sales@".into(),
        }],
        settings: PolicySettings::default(),
    });
    let r = rig(cfg).await;
    let mid = r
        .send(
            record(
                r.mid(),
                "IncomingMail",
                "UNKNOWNLIST",
                &["bob@example.com", "sales@example.com", "carol@example.com"],
            ),
            body(""),
        )
        .await;
    let records = r
        .until("two messages, one per policy", |rs| {
            rs.len() == 2 && rs.iter().all(|x| x.processing.processed)
        })
        .await;
    let original = records.iter().find(|x| x.mid == mid).unwrap();
    assert_eq!(original.processing.mail_policy.as_deref(), Some("DEFAULT"));
    let addrs: Vec<&str> = original
        .recipients
        .iter()
        .map(|x| x.address.as_str())
        .collect();
    assert_eq!(addrs, ["bob@example.com", "carol@example.com"]);
    let part = records.iter().find(|x| x.mid != mid).unwrap();
    assert_eq!(part.processing.mail_policy.as_deref(), Some("SALES"));
    assert_eq!(part.recipients.len(), 1);
    assert_eq!(part.recipients[0].rid, Rid(0));
    assert_eq!(
        r.queue.read_body(part.mid).unwrap(),
        r.queue.read_body(mid).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcc_copies_go_out_and_quarantined_messages_wait_for_release() {
    let r = rig(config(
        "audit: if rcpt-to == 'bob@' { bcc('audit@example.com'); log-entry('audited $MID'); quarantine('Policy'); }",
    ))
    .await;
    let mid = r
        .send(
            record(r.mid(), "IncomingMail", "UNKNOWNLIST", &["bob@example.com"]),
            body(""),
        )
        .await;
    let records = r
        .until("the copy is queued and the original held", |rs| {
            rs.len() == 2 && rs.iter().any(|x| x.processing.hold.is_some())
        })
        .await;
    let copy = records.iter().find(|x| x.mid != mid).unwrap();
    assert_eq!(copy.recipients[0].address, "audit@example.com");
    assert!(copy.processing.hold.is_none());
    assert_eq!(r.held().await.len(), 1);
    let show =
        r.wq.query(move |wq| wq.quarantine_command(&["show".into(), mid.to_string()]))
            .await
            .unwrap()
            .unwrap();
    assert!(show.contains("Quarantined by filter: audit"), "{show}");
    let out =
        r.wq.query(move |wq| wq.quarantine_command(&["release".into(), mid.to_string()]))
            .await
            .unwrap()
            .unwrap();
    assert!(out.contains("released"), "{out}");
    assert!(r.held().await.is_empty());
    r.until("the released message is routed", |rs| {
        rs.iter().any(|x| {
            x.mid == mid && x.processing.hold.is_none() && x.processing.mail_policy.is_some()
        })
    })
    .await;
    let again =
        r.wq.query(move |wq| wq.quarantine_command(&["delete".into(), mid.to_string()]))
            .await
            .unwrap();
    assert!(again.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alt_rcpt_to_hands_the_message_on_under_a_new_mid_and_bounce_bounces() {
    let r = rig(config(
        "redirect: if rcpt-to == 'bob@' { alt-rcpt-to('carol@example.com'); alt-mailhost('[10.0.0.1]'); }\nrefuse: if rcpt-to == 'mallory@' { bounce(); }",
    ))
    .await;
    let mid = r
        .send(
            record(r.mid(), "IncomingMail", "UNKNOWNLIST", &["bob@example.com"]),
            body(""),
        )
        .await;
    let records = r
        .until("the original is replaced", |rs| {
            rs.len() == 1 && rs[0].mid != mid
        })
        .await;
    assert_eq!(records[0].recipients[0].address, "carol@example.com");
    assert_eq!(
        records[0].processing.alt_mailhost.as_deref(),
        Some("[10.0.0.1]")
    );
    let bounced = r
        .send(
            record(
                r.mid(),
                "IncomingMail",
                "UNKNOWNLIST",
                &["mallory@example.com"],
            ),
            body(""),
        )
        .await;
    // The bounced message leaves; its DSN to alice@example.com is queued.
    r.until("the DSN replaces the bounced message", |rs| {
        rs.len() == 2
            && rs.iter().all(|x| x.mid != bounced)
            && rs
                .iter()
                .any(|x| x.mail_from.is_empty() && x.recipients[0].address == "alice@example.com")
    })
    .await;
}

#[test]
fn archive_writes_mboxrd_and_rotates_within_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::config::ArchiveSettings {
        max_file_bytes: 300,
        max_files: 2,
    };
    let msg = b"Subject: x\r\n\r\nFrom here\r\n>From there\r\n";
    for _ in 0..10 {
        archive::append_in(dir.path(), &settings, "../evil", "a@b", msg).unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("_._evil.mbox")),
        "{names:?}"
    );
    assert!(names.len() <= 3, "{names:?}");
    let text = std::fs::read_to_string(dir.path().join("_._evil.mbox")).unwrap();
    assert!(text.starts_with("From a@b "), "{text}");
    assert!(text.contains("\n>From here\n>>From there\n"), "{text}");
    assert!(!text.contains('\r'));
}

/// A DNS reply to `query` (RFC 1035 wire format): for an A question one
/// answer, 127.0.0.2 (RFC 5782's "listed"); for any other type no answer.
fn dns_reply(query: &[u8]) -> Vec<u8> {
    let mut end = 12;
    while let Some(&len) = query.get(end) {
        end += 1 + len as usize;
        if len == 0 {
            break;
        }
    }
    let question = &query[12..end + 4];
    let is_a = question[question.len() - 4..question.len() - 2] == [0, 1];
    let mut out = query[..2].to_vec();
    out.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if is_a {
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2]);
    }
    out
}

const DNSLIST_FILTER: &str = "bl: if sendergroup == \"UNKNOWNLIST\" and dnslist('bl.example.net') {\n  quarantine(\"Policy\");\n}\n";

/// The DNS server holds the DNS list query until the test lets it answer:
/// meanwhile a message whose filters do not reach the `dnslist` rule is
/// processed, and the waiting one is not; then the answer ("listed")
/// quarantines it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dns_list_delays_only_the_message_that_needs_it() {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = config(DNSLIST_FILTER);
    cfg.dns.servers = vec![server.local_addr().unwrap()];
    // Longer than the test: the answer comes when the test sends it.
    cfg.dns.timeout_secs = 3600;
    let r = rig(cfg).await;
    let waiting = r
        .send(
            record(r.mid(), "IncomingMail", "UNKNOWNLIST", &["bob@example.com"]),
            body(""),
        )
        .await;
    let mut buf = [0u8; 1500];
    let (n, client) = server.recv_from(&mut buf).await.unwrap();
    let held_query = buf[..n].to_vec();
    let other = r
        .send(
            record(
                r.mid(),
                "OutgoingMail",
                "RELAY_O365",
                &["bob@partner.example"],
            ),
            body(""),
        )
        .await;
    let records = r
        .until("the message without a DNS list rule is processed", |rs| {
            rs.iter().any(|x| x.mid == other && x.processing.processed)
        })
        .await;
    let first = records.iter().find(|x| x.mid == waiting).unwrap();
    assert!(!first.processing.processed, "{first:#?}");
    assert!(r.held().await.is_empty());

    // The server answers now, this query and any that follow (AAAA).
    server
        .send_to(&dns_reply(&held_query), client)
        .await
        .unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = server.recv_from(&mut buf).await {
            let _ = server.send_to(&dns_reply(&buf[..n]), from).await;
        }
    });
    r.until("the listed message is processed", |rs| {
        rs.iter().all(|x| x.processing.processed)
    })
    .await;
    let held = r.held().await;
    assert_eq!(held.iter().map(|h| h.mid).collect::<Vec<_>>(), [waiting]);
}

/// A DNS server that never answers: the query fails after the resolver's
/// timeout, and the message goes on as "not listed" (routed, not held).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_dns_list_query_reads_as_not_listed() {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = config(DNSLIST_FILTER);
    cfg.dns.servers = vec![server.local_addr().unwrap()];
    cfg.dns.timeout_secs = 1;
    let r = rig(cfg).await;
    let mid = r
        .send(
            record(r.mid(), "IncomingMail", "UNKNOWNLIST", &["bob@example.com"]),
            body(""),
        )
        .await;
    let mut buf = [0u8; 1500];
    server.recv_from(&mut buf).await.unwrap();
    r.until("the message is processed after the timeout", |rs| {
        rs.iter().any(|x| x.mid == mid && x.processing.processed)
    })
    .await;
    assert!(r.held().await.is_empty());
    drop(server);
}

/// A config whose Policy quarantine keeps messages `minutes`, with
/// `action` on expiry and when full, and holds everything from bob@.
fn quarantine_config(
    minutes: u32,
    action: crate::config::OverflowAction,
    max_bytes: u64,
) -> Config {
    let mut cfg = config("hold: if rcpt-to == 'bob@' { quarantine('Policy'); }");
    let mut q = cfg
        .quarantines
        .iter()
        .find(|q| q.name == "Policy")
        .cloned()
        .unwrap();
    q.overflow = action;
    q.max_bytes = max_bytes;
    crate::config::quarantine_settings::set_retention(&mut cfg, &mut q, minutes);
    for slot in cfg.quarantines.iter_mut().filter(|x| x.name == "Policy") {
        *slot = q.clone();
    }
    cfg
}

async fn hold_one(r: &Rig) -> Mid {
    let mid = r
        .send(
            record(r.mid(), "IncomingMail", "UNKNOWNLIST", &["bob@example.com"]),
            body(""),
        )
        .await;
    r.until("the message is held", |rs| {
        rs.iter()
            .any(|x| x.mid == mid && x.processing.hold.is_some())
    })
    .await;
    while !r.held().await.iter().any(|x| x.mid == mid) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    mid
}

async fn quarantine(r: &Rig, args: &[&str]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    r.wq.query(move |wq| wq.quarantine_command(&args))
        .await
        .unwrap()
}

async fn expire_at(r: &Rig, now: i64) {
    r.wq.query(move |wq| wq.expire_held(now)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_mail_is_counted_apart_and_deleted_when_its_retention_ends() {
    use crate::config::OverflowAction::Delete;
    let r = rig(quarantine_config(5, Delete, 1 << 20)).await;
    let mid = hold_one(&r).await;
    let size = body("").len() as u64;
    assert_eq!(r.queue.held_counts(), (1, size));
    assert_eq!(
        r.queue.counts(),
        (0, 0),
        "held mail is not queued for delivery"
    );
    let list = quarantine(&r, &["list"]).await.unwrap();
    assert!(list.contains("Scheduled exit"), "{list}");
    assert!(list.contains(&mid.to_string()), "{list}");

    let now = chrono::Utc::now().timestamp();
    expire_at(&r, now + 4 * 60).await;
    assert_eq!(r.held().await.len(), 1, "kept until its 5 minutes are over");
    expire_at(&r, now + 6 * 60).await;
    assert!(r.held().await.is_empty());
    r.until("the expired message is gone", |rs| rs.is_empty())
        .await;
    assert_eq!(r.queue.held_counts(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_message_is_released_to_delivery_with_release_as_default_action() {
    use crate::config::OverflowAction::Release;
    let r = rig(quarantine_config(5, Release, 1 << 20)).await;
    let mid = hold_one(&r).await;
    expire_at(&r, chrono::Utc::now().timestamp() + 6 * 60).await;
    r.until("the released message is routed", |rs| {
        rs.iter().any(|x| {
            x.mid == mid && x.processing.hold.is_none() && x.processing.mail_policy.is_some()
        })
    })
    .await;
    assert_eq!(r.queue.counts().0, 1, "now it waits for delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_delay_moves_the_scheduled_exit_later() {
    use crate::config::OverflowAction::Delete;
    let r = rig(quarantine_config(5, Delete, 1 << 20)).await;
    let mid = hold_one(&r).await;
    let out = quarantine(&r, &["delay", &mid.to_string(), "1d"])
        .await
        .unwrap();
    assert!(out.contains("delayed to"), "{out}");
    let now = chrono::Utc::now().timestamp();
    expire_at(&r, now + 6 * 60).await;
    assert_eq!(
        r.held().await.len(),
        1,
        "the delay holds it past its retention"
    );
    // Durable: the record on disk carries the later start.
    let on_disk = r.store.scan().unwrap();
    assert!(on_disk[0].processing.hold.as_ref().unwrap().since > now + 23 * 3600);
    expire_at(&r, now + 24 * 3600 + 6 * 60).await;
    assert!(r.held().await.is_empty());
    assert!(
        quarantine(&r, &["delay", &mid.to_string(), "1d"])
            .await
            .is_err()
    );
    assert!(quarantine(&r, &["delay", "1", "soon"]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_quarantine_applies_its_default_action_to_the_oldest_message() {
    use crate::config::OverflowAction::Delete;
    // Room for one message, not two.
    let size = body("").len() as u64;
    let r = rig(quarantine_config(60, Delete, size + size / 2)).await;
    let first = hold_one(&r).await;
    let second = hold_one(&r).await;
    let held: Vec<Mid> = r.held().await.iter().map(|x| x.mid).collect();
    assert_eq!(held, vec![second]);
    r.until("the oldest is deleted", |rs| {
        rs.iter().all(|x| x.mid != first)
    })
    .await;
    assert_eq!(r.queue.held_counts(), (1, size));
}

// --- spam notification (issue 17) ---
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spam_digest_comes_each_interval_and_lists_only_new_spam() {
    let mut cfg = config("spam: if rcpt-to == 'bob@' { quarantine('Spam'); }");
    let n = &mut cfg.quarantine_settings.spam_notification;
    n.enabled = true;
    n.interval_minutes = 5;
    let r = rig(cfg).await;
    let mid = r
        .send(
            record(r.mid(), "IncomingMail", "UNKNOWNLIST", &["bob@example.com"]),
            body(""),
        )
        .await;
    while !r.held().await.iter().any(|x| x.mid == mid) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let now = chrono::Utc::now().timestamp();
    let due = |at: i64| r.wq.query(move |wq| wq.spam_digest_due(at));
    // The first interval counts from when the notification was seen on.
    due(now).await.unwrap();
    due(now + 4 * 60).await.unwrap();
    let digest = |rs: &[MessageRecord]| {
        rs.iter()
            .filter(|x| x.subject.as_deref() == Some("Spam Quarantine Notification"))
            .count()
    };
    assert_eq!(digest(&r.store.scan().unwrap()), 0);
    due(now + 6 * 60).await.unwrap();
    let rs = r.until("the digest is queued", |rs| digest(rs) == 1).await;
    let d = rs
        .iter()
        .find(|x| x.subject.as_deref() == Some("Spam Quarantine Notification"))
        .unwrap();
    assert_eq!(d.mail_from, "", "from the null sender");
    assert_eq!(d.recipients[0].address, "bob@example.com");
    let text = String::from_utf8_lossy(&r.store.read_body(d.mid).unwrap()).into_owned();
    assert!(text.contains(&format!("MID: {mid}\r\n")), "{text}");
    // Nothing new since: nothing sent; the spam itself stays held.
    let out = quarantine(&r, &["notify", "now"]).await.unwrap();
    assert!(out.contains("0 recipient(s), 0 message(s)"), "{out}");
    assert_eq!(r.held().await.len(), 1);
    // The last digest's instant is kept across restarts.
    assert!(r._dir.path().join("spam_notification.last").exists());
}
