//! The cluster's etcd operations against a real etcd (Debian's
//! `etcd-server`, tools/packages.txt) serving TLS with client
//! certificates, as an appliance meets it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use breakwater_cluster::{ClusterError, Etcd, MAIN_GROUP, connect, member, meta, record, status};
use breakwater_config::cluster::{Level, LevelSettings};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
}

fn pki(ip: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "etcd test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![name.to_string(), ip.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca_pem: ca_cert.pem(),
        server: leaf("etcd"),
        client: leaf("esa1.example.com"),
    }
}

struct EtcdServer {
    child: Child,
    url: String,
    pki: Pki,
    _dir: tempfile::TempDir,
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` tells the tests of one process apart (each its own address).
fn start_etcd(n: u32) -> EtcdServer {
    assert!(
        std::path::Path::new("/usr/bin/etcd").exists(),
        "/usr/bin/etcd is missing: install etcd-server (tools/packages.txt)"
    );
    let dir = tempfile::tempdir().unwrap();
    // A private loopback address per test process.
    let ip = format!("127.77.{}.{n}", std::process::id() % 250);
    let pki = pki(&ip);
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let ca = write("ca.pem", &pki.ca_pem);
    let cert = write("server.pem", &pki.server.0);
    let key = write("server.key", &pki.server.1);
    let url = format!("https://{ip}:2379");
    let peer = format!("http://{ip}:2380");
    let child = Command::new("/usr/bin/etcd")
        .args(["--name", "t", "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("t={peer}")])
        .args([
            "--cert-file",
            &cert,
            "--key-file",
            &key,
            "--trusted-ca-file",
            &ca,
        ])
        .arg("--client-cert-auth")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd starts");
    EtcdServer {
        child,
        url,
        pki,
        _dir: dir,
    }
}

async fn client(server: &EtcdServer) -> Etcd {
    let etcd = connect(
        &[server.url.clone()],
        &server.pki.ca_pem,
        &server.pki.client.0,
        &server.pki.client.1,
        Duration::from_secs(5),
    )
    .unwrap();
    // Ready when it answers (etcd takes a moment to elect itself).
    for _ in 0..100 {
        if etcd.meta("probe").await.is_ok() {
            return etcd;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("etcd at {} never answered", server.url);
}

fn settings(pairs: &[(&str, serde_json::Value)]) -> LevelSettings {
    let mut s = LevelSettings::default();
    for (k, v) in pairs {
        s.sections.insert(k.to_string(), v.clone());
    }
    s
}

#[tokio::test]
async fn create_commit_race_members_status_and_watch() {
    let server = start_etcd(1);
    let etcd = client(&server).await;
    let c = "Hosted_Cluster";
    let m = meta(c, "admin", "token".into());
    let first = settings(&[("dns", serde_json::json!({"a": 1}))]);
    etcd.create_cluster(
        &m,
        &first,
        MAIN_GROUP,
        &member("esa1", MAIN_GROUP, ""),
        &record(1, "admin", "esa1", "created", vec!["dns".into()]),
    )
    .await
    .unwrap();
    assert_eq!(etcd.meta(c).await.unwrap().unwrap().name, c);
    let again = etcd
        .create_cluster(
            &m,
            &first,
            MAIN_GROUP,
            &member("esa1", MAIN_GROUP, ""),
            &record(1, "admin", "esa1", "created", vec![]),
        )
        .await
        .unwrap_err();
    assert!(matches!(again, ClusterError::Exists(_)), "{again}");

    let base = etcd.level(c, &Level::Cluster).await.unwrap();
    assert_eq!(base.doc.settings(), first);
    assert_eq!(base.doc.commit, 1);

    let mut watch = etcd.watch_levels(c).await.unwrap();

    // Two administrators commit from the same base: one wins, the other
    // is told who came first.
    let second = settings(&[("dns", serde_json::json!({"a": 2}))]);
    let rev = etcd
        .commit_level(
            c,
            &Level::Cluster,
            base.mod_revision,
            &second,
            &record(2, "alice", "esa1", "dns a=2", vec!["dns".into()]),
        )
        .await
        .unwrap();
    let lost = etcd
        .commit_level(
            c,
            &Level::Cluster,
            base.mod_revision,
            &first,
            &record(2, "bob", "esa2", "dns a=1", vec!["dns".into()]),
        )
        .await
        .unwrap_err();
    match lost {
        ClusterError::Changed {
            revision,
            user,
            machine,
            comment,
        } => {
            assert_eq!(
                (revision, user.as_str(), machine.as_str(), comment.as_str()),
                (rev, "alice", "esa1", "dns a=2")
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(watch.next().await.unwrap(), rev);
    let history = etcd.history(c, &Level::Cluster).await.unwrap();
    assert_eq!(
        history.iter().map(|r| r.number).collect::<Vec<_>>(),
        vec![1, 2]
    );

    // Groups and members.
    assert_eq!(etcd.groups(c).await.unwrap(), vec![MAIN_GROUP.to_string()]);
    etcd.add_group(c, "Edge").await.unwrap();
    assert!(etcd.add_group(c, "Edge").await.is_err());
    etcd.put_member(c, &member("esa2", "Edge", ""))
        .await
        .unwrap();
    let members = etcd.members(c).await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| m.machine.as_str())
            .collect::<Vec<_>>(),
        vec!["esa1", "esa2"]
    );
    let (levels, _) = etcd.levels(c).await.unwrap();
    assert!(levels.contains_key(&Level::Group("Edge".into())));
    etcd.put_status(c, "esa2", &status(rev, Default::default()))
        .await
        .unwrap();
    assert_eq!(etcd.statuses(c).await.unwrap()["esa2"].revision, rev);
    etcd.remove_member(c, "esa2").await.unwrap();
    assert!(etcd.statuses(c).await.unwrap().is_empty());
    etcd.delete_group(c, "Edge").await.unwrap();
    assert_eq!(etcd.groups(c).await.unwrap(), vec![MAIN_GROUP.to_string()]);
}

#[tokio::test]
async fn a_client_without_a_certificate_the_ca_signed_is_refused_and_an_absent_etcd_is_unreachable()
{
    let server = start_etcd(2);
    let _ready = client(&server).await;
    // A stranger's certificate: etcd refuses the TLS handshake.
    let other = pki("127.0.0.1");
    let stranger = connect(
        &[server.url.clone()],
        &server.pki.ca_pem,
        &other.client.0,
        &other.client.1,
        Duration::from_secs(3),
    )
    .unwrap();
    let e = stranger.meta("x").await.unwrap_err();
    assert!(matches!(e, ClusterError::Unreachable(_)), "{e}");

    let nowhere = connect(
        &["https://127.0.0.1:9".to_string()],
        &server.pki.ca_pem,
        &server.pki.client.0,
        &server.pki.client.1,
        Duration::from_secs(2),
    )
    .unwrap();
    let e = nowhere.meta("x").await.unwrap_err();
    assert!(matches!(e, ClusterError::Unreachable(_)), "{e}");
}
