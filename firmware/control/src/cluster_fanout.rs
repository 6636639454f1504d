//! Central visibility for a cluster (decision 0020): `findevent --cluster`
//! and `tophosts --cluster` ask every member of this appliance's cluster
//! and merge the answers.
//!
//! Mail is share-nothing: each member keeps its own logs and counters, so
//! a cluster-wide view is a question to each member's REST API
//! (`/api/v1/tracking`, `/api/v1/status/tophosts`) made on demand. Who the
//! members are, and the cluster's API token, come from the cluster core
//! through [`ClusterDirectory`] (the daemon implements it; the control
//! plane only reads it). This appliance answers its own part locally, so
//! the view works even with its own API switched off.
//!
//! Trust between members: a request carries the cluster's API token
//! (`Authorization: Cluster TOKEN`), which a member accepts for these two
//! read-only endpoints only ([`token_matches`], constant time). The
//! asking side pins each member's HTTPS certificate by the SHA-256 the
//! member published in the cluster's directory ([`PinnedCertificate`]):
//! appliances run self-signed certificates on bare addresses, so a name
//! check against a CA would mean turning verification off; the pin is
//! stricter than that and needs no CA.
//!
//! Bounds: every member is asked at once (at most [`MAX_PARALLEL`] at a
//! time), each answer within [`MEMBER_TIMEOUT`] and at most
//! [`MAX_REPLY_BYTES`]; the merged tracking holds at most
//! [`MAX_MESSAGES`] messages and [`MAX_LINES`] log lines, like
//! `findevent` on one box. A member that does not answer is named
//! (`Not answered: MACHINE (reason)`), never silently left out.
//!
//! Exposure: outbound HTTPS from the Management interface to the
//! addresses the cluster's directory lists, with the cluster's token;
//! reached through the owner-only control socket by an authenticated
//! console user. What members answer is data (escaped for the terminal
//! by the control plane like every answer).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use breakwater_control_proto::tophosts::{HostRow, tophosts_rows};
use breakwater_mail::workqueue::operator::thousands;
use chrono::{DateTime, FixedOffset};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

use crate::logsearch::{MAX_LINES, MAX_MESSAGES};

/// The answer of a `--cluster` form on a standalone appliance.
pub const NOT_CLUSTERED: &str = "This appliance is not part of a cluster.";
/// How long a member has to answer (decision 0020: "within 10 s").
pub const MEMBER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from one member: a full tracking answer (500
/// messages, 5000 log lines and their Processing Details) is a few MiB.
pub const MAX_REPLY_BYTES: u64 = 16 * 1024 * 1024;
/// Members asked at the same time; the rest wait for a free worker.
pub const MAX_PARALLEL: usize = 16;
/// The `Authorization` scheme of a request between members.
pub const AUTH_SCHEME: &str = "Cluster";

/// One member as the cluster's directory lists it (etcd's
/// `/breakwater/v1/C/members/M`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    /// The machine name (`esa1.example.com`).
    pub machine: String,
    /// The member's REST API: `https://ADDR:PORT`.
    pub api: String,
    /// SHA-256 of the DER of the member's HTTPS certificate, hex.
    pub api_cert_sha256: String,
}

/// What the cluster core tells the control plane about the cluster; the
/// daemon implements it. Called on a blocking thread of the control
/// server.
pub trait ClusterDirectory: Send + Sync {
    /// Every member, this machine included.
    fn members(&self) -> Result<Vec<ClusterMember>, String>;
    /// The cluster's API token (etcd's `meta.api_token`).
    fn api_token(&self) -> Result<String, String>;
    /// This machine's name in the cluster; `None` when standalone.
    fn this_machine(&self) -> Option<String>;
}

/// Whether `presented` is the cluster's `expected` token, in time that
/// does not depend on where they differ. An empty token never matches
/// (a cluster core that has none yet must not open the endpoints).
pub fn token_matches(presented: &str, expected: &str) -> bool {
    !expected.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            presented.as_bytes(),
            expected.as_bytes(),
        )
        .is_ok()
}

/// SHA-256 of `der`, lowercase hex: the form of `api_cert_sha256`.
pub fn certificate_sha256(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    hex(digest.as_ref())
}

/// What this appliance publishes in the cluster's directory
/// (`members/M`'s `api` and `api_cert_sha256`): its REST API,
/// `https://ADDR:PORT` on the Management interface's address, and the
/// SHA-256 of the certificate it presents there (`management.certificate`,
/// else the first one, as the management plane picks it). `None` when the
/// API cannot be reached by others: HTTPS or the API off, no static
/// Management address (with DHCP the daemon does not know its lease), no
/// certificate that reads.
pub fn published_api(config: &crate::config::Config) -> Option<(String, String)> {
    use rustls_pki_types::pem::PemObject as _;
    let m = &config.management;
    if !m.https_enabled || !m.api_enabled {
        return None;
    }
    let ip = config.interface("Management")?.address?;
    let wanted = &m.certificate;
    let cert = config
        .certificates
        .iter()
        .find(|c| !wanted.is_empty() && c.name == *wanted)
        .or_else(|| config.certificates.first())?;
    let der = CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).ok()?;
    let api = format!("https://{}", std::net::SocketAddr::new(ip, m.https_port));
    Some((api, certificate_sha256(der.as_ref())))
}

/// This machine's `members/M` record for create and join: its group,
/// and its REST API and certificate pin from `config` ([`published_api`];
/// else `fallback_api`, the agent's idea of it, unpinned — the others
/// then name it under `Not answered` until it publishes a pin).
pub fn member_record(
    config: &crate::config::Config,
    machine: &str,
    group: &str,
    fallback_api: &str,
) -> breakwater_cluster::Member {
    let mut member = breakwater_cluster::member(machine, group, fallback_api);
    if let Some((api, sha256)) = published_api(config) {
        member.api = api;
        member.api_cert_sha256 = sha256;
    }
    member
}

/// The cluster's API token, read from etcd's `meta` once per cluster and
/// then kept: it never changes for a cluster, and a member must still
/// answer the others' questions while etcd is unreachable.
#[derive(Debug, Default)]
pub struct TokenCache(std::sync::Mutex<Option<(String, String)>>);

/// The [`ClusterDirectory`] of a cluster member: this machine from its
/// cluster state, the members and the token from the cluster's etcd
/// (through the cluster agent's membership and client certificate).
pub struct LinkDirectory<'a> {
    membership: crate::cluster::Membership,
    store: &'a crate::config::ConfigStore,
    tokens: &'a TokenCache,
}

impl<'a> LinkDirectory<'a> {
    /// `None` when this appliance is not in a cluster.
    pub fn new(
        link: Arc<dyn crate::cluster::ClusterLink>,
        store: &'a crate::config::ConfigStore,
        tokens: &'a TokenCache,
    ) -> Option<Self> {
        let membership = link.state().membership().ok()??;
        Some(Self {
            membership,
            store,
            tokens,
        })
    }

    fn etcd(&self) -> Result<breakwater_cluster::Etcd, String> {
        let config = self.store.committed().map_err(|e| e.to_string())?;
        crate::cluster::connect(&config, &self.membership).map_err(|e| e.to_string())
    }
}

impl ClusterDirectory for LinkDirectory<'_> {
    fn members(&self) -> Result<Vec<ClusterMember>, String> {
        let etcd = self.etcd()?;
        let members = crate::cluster::block_on(etcd.members(&self.membership.cluster))
            .and_then(|r| r)
            .map_err(|e| {
                format!(
                    "Cannot read the cluster's members: {e}. Without --cluster, this machine answers for itself."
                )
            })?;
        Ok(members
            .into_iter()
            .map(|m| ClusterMember {
                machine: m.machine,
                api: m.api,
                api_cert_sha256: m.api_cert_sha256,
            })
            .collect())
    }

    fn api_token(&self) -> Result<String, String> {
        let cluster = &self.membership.cluster;
        let mut cached = self.tokens.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((name, token)) = cached.as_ref()
            && name == cluster
        {
            return Ok(token.clone());
        }
        let etcd = self.etcd()?;
        let meta = crate::cluster::block_on(etcd.meta(cluster))
            .and_then(|r| r)
            .map_err(|e| format!("Cannot read the cluster's API token: {e}"))?
            .ok_or_else(|| format!("Cluster {cluster} has no meta record in etcd."))?;
        if !meta.api_token.is_empty() {
            *cached = Some((cluster.clone(), meta.api_token.clone()));
        }
        Ok(meta.api_token)
    }

    fn this_machine(&self) -> Option<String> {
        Some(self.membership.machine.clone())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A member's certificate, pinned by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePin([u8; 32]);

impl CertificatePin {
    /// 64 hex digits, any case, `:` between bytes allowed (as `openssl
    /// x509 -fingerprint -sha256` prints them).
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits: String = text.chars().filter(|c| *c != ':').collect();
        let mut pin = [0u8; 32];
        if digits.len() != 64 || !digits.is_ascii() {
            return Err(format!(
                "'{text}' is not a SHA-256 certificate fingerprint (64 hex digits)."
            ));
        }
        for (i, byte) in pin.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| {
                format!("'{text}' is not a SHA-256 certificate fingerprint (64 hex digits).")
            })?;
        }
        Ok(Self(pin))
    }
}

/// The certificate a member presented is not the one it published.
#[derive(Debug, thiserror::Error)]
#[error("the member's certificate (SHA-256 {presented}) is not the one the cluster lists")]
struct PinMismatch {
    presented: String,
}

/// A rustls verifier that accepts exactly the pinned certificate: no CA,
/// no name (members are reached by address, with self-signed
/// certificates), but the handshake signatures are checked as usual, so
/// only the holder of that certificate's key gets through.
#[derive(Debug)]
pub struct PinnedCertificate {
    pin: CertificatePin,
    provider: Arc<CryptoProvider>,
}

impl PinnedCertificate {
    pub fn new(pin: CertificatePin) -> Self {
        Self {
            pin,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        }
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, end_entity.as_ref());
        if aws_lc_rs::constant_time::verify_slices_are_equal(digest.as_ref(), &self.pin.0).is_ok() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch {
                    presented: hex(digest.as_ref()),
                }))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS step of the HTTP client's connector chain, with a
/// [`PinnedCertificate`] verifier (ureq's own rustls step takes roots,
/// not a verifier).
#[derive(Debug)]
struct PinnedTls {
    config: Arc<ClientConfig>,
}

impl PinnedTls {
    fn new(pin: CertificatePin) -> Result<Self, String> {
        let verifier = PinnedCertificate::new(pin);
        let config = ClientConfig::builder_with_provider(verifier.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, PinnedTlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let name = ServerName::try_from(host).map_err(|_| ureq::Error::Tls("not a host name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        Ok(Some(Either::B(PinnedTlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: StreamOwned { conn, sock },
        })))
    }
}

struct PinnedTlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for PinnedTlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedTlsTransport").finish_non_exhaustive()
    }
}

impl Transport for PinnedTlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// One question to every member: an API path with its query, and this
/// machine's own answer (computed beforehand, on the control server's
/// thread: the daemon's answers need its runtime, which the workers
/// below are not part of).
struct Question {
    path: &'static str,
    query: Vec<(String, String)>,
    local: Result<Value, String>,
}

/// A member's answer, or why there is none.
type Answer = (String, Result<Value, String>);

/// `GET member.api + path?query` with the cluster's token, the member's
/// certificate pinned: the JSON body, or why not.
fn ask_member(member: &ClusterMember, token: &str, q: &Question) -> Result<Value, String> {
    let api = member.api.trim_end_matches('/');
    if api.is_empty() || member.api_cert_sha256.is_empty() {
        return Err(
            "it published no API address and certificate (HTTPS or the API is off there)".into(),
        );
    }
    let pin = CertificatePin::parse(&member.api_cert_sha256)?;
    if !api.starts_with("https://") {
        return Err(format!("its API address {api} is not https://"));
    }
    let config = ureq::config::Config::builder()
        .timeout_global(Some(MEMBER_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!(
            "Breakwater/",
            env!("CARGO_PKG_VERSION"),
            " cluster"
        ))
        .build();
    let connector = ().chain(TcpConnector::default()).chain(PinnedTls::new(pin)?);
    let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());
    let mut response = agent
        .get(format!("{api}{}", q.path))
        .header("Authorization", format!("{AUTH_SCHEME} {token}"))
        .query_pairs(q.query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .call()
        .map_err(|e| transport_reason(&e))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_REPLY_BYTES)
        .read_to_string()
        .map_err(|e| transport_reason(&e))?;
    let value: Value =
        serde_json::from_str(&body).map_err(|_| format!("HTTP {status}: not a JSON answer"))?;
    if status != 200 {
        let error = value["error"].as_str().unwrap_or("no reason given");
        return Err(format!("HTTP {status}: {error}"));
    }
    Ok(value)
}

/// The words an administrator reads for a failed request.
fn transport_reason(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("no answer within {} s", MEMBER_TIMEOUT.as_secs()),
        ureq::Error::BodyExceedsLimit(_) => {
            format!("its answer is larger than {MAX_REPLY_BYTES} bytes")
        }
        ureq::Error::Rustls(tls) => tls_reason(tls),
        ureq::Error::Io(io) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => tls_reason(tls),
            None => io.to_string(),
        },
        other => other.to_string(),
    }
}

/// A pin mismatch in its own words, not rustls' debug form of it.
fn tls_reason(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            other.0.to_string()
        }
        other => other.to_string(),
    }
}

/// Asks every member (this machine locally), at most [`MAX_PARALLEL`] at
/// a time; the answers sorted by machine.
fn ask_all(directory: &dyn ClusterDirectory, q: &Question) -> Result<Vec<Answer>, String> {
    let this = directory
        .this_machine()
        .ok_or_else(|| NOT_CLUSTERED.to_string())?;
    let members = directory.members()?;
    let needs_token = members.iter().any(|m| m.machine != this);
    let token = if needs_token {
        directory.api_token()?
    } else {
        String::new()
    };
    let next = AtomicUsize::new(0);
    let answers = std::sync::Mutex::new(Vec::with_capacity(members.len()));
    let workers = members.len().clamp(1, MAX_PARALLEL);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(member) = members.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = if member.machine == this {
                        q.local.clone()
                    } else {
                        ask_member(member, &token, q)
                    };
                    answers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((member.machine.clone(), result));
                }
            });
        }
    });
    let mut answers = answers.into_inner().unwrap_or_else(|e| e.into_inner());
    if !answers.iter().any(|(m, _)| *m == this) {
        // The directory always lists this machine; if it does not (yet),
        // this machine's own answer still belongs to the view.
        answers.push((this.clone(), q.local.clone()));
    }
    answers.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(answers)
}

/// The `Not answered: MACHINE (reason)` lines.
fn not_answered_lines(failed: &[(String, String)]) -> String {
    failed
        .iter()
        .map(|(m, r)| format!("Not answered: {m} ({r})\n"))
        .collect()
}

fn not_answered_json(failed: &[(String, String)]) -> Value {
    Value::Array(
        failed
            .iter()
            .map(|(m, r)| json!({ "machine": m, "reason": r }))
            .collect(),
    )
}

// ---------------------------------------------------------------- findevent

/// The tracking criteria `findevent --cluster` takes: its long options,
/// each one a parameter of `GET /api/v1/tracking`.
const TRACKING_OPTIONS: &[(&str, &str)] = &[
    ("--mid", "mid"),
    ("--from", "sender"),
    ("--to", "recipient"),
    ("--subject", "subject"),
    ("--message-id", "message_id"),
    ("--ip", "sender_ip"),
    ("--since", "since"),
    ("--until", "until"),
];

/// `findevent --cluster [--json] CRITERIA`: the criteria as `findevent`
/// words (for this machine) and as tracking parameters (for the others).
#[derive(Debug, PartialEq, Eq)]
struct TrackingSearch {
    json: bool,
    local_words: Vec<String>,
    query: Vec<(String, String)>,
}

fn tracking_search(args: &[String]) -> Result<TrackingSearch, String> {
    let usage = breakwater_control_proto::usage::FINDEVENT;
    let mut search = TrackingSearch {
        json: false,
        local_words: vec!["findevent".into(), "--json".into()],
        query: Vec::new(),
    };
    let mut it = args.iter().skip(1);
    while let Some(opt) = it.next() {
        let lower = opt.to_ascii_lowercase();
        match lower.as_str() {
            "--cluster" => continue,
            "--json" => {
                search.json = true;
                continue;
            }
            _ => {}
        }
        let Some((_, param)) = TRACKING_OPTIONS.iter().find(|(o, _)| *o == lower) else {
            return Err(format!(
                "findevent --cluster takes the long options (--mid, --from, --to, --subject, --message-id, --ip, --since, --until); '{opt}' is not one.\n{usage}"
            ));
        };
        let value = it
            .next()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("{opt} needs a value.\n{usage}"))?;
        search.local_words.push(lower.clone());
        search.local_words.push(value.clone());
        search
            .query
            .push(((*param).to_string(), value.trim().to_string()));
    }
    if search.query.is_empty() {
        return Err(usage.to_string());
    }
    Ok(search)
}

/// One message of a merged tracking answer: a member's message object,
/// with its machine.
struct MergedMessage {
    machine: String,
    at: Option<DateTime<FixedOffset>>,
    message: Value,
}

/// `24 Nov 2026 01:30:00 (GMT +00:00)`, the tracking `time` field.
fn tracking_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let (stamp, zone) = text.split_once(" (GMT ")?;
    let zone = zone.strip_suffix(')')?;
    DateTime::parse_from_str(&format!("{stamp} {zone}"), "%d %b %Y %H:%M:%S %:z").ok()
}

/// Every member's tracking answer merged.
#[derive(Debug, Default)]
struct MergedTracking {
    found: u64,
    lines_omitted: u64,
    /// Newest first, each with `machine`.
    messages: Vec<Value>,
    failed: Vec<(String, String)>,
    machines: usize,
}

/// Merges the members' `findevent --json` answers: messages by time,
/// newest first (those without a time last), at most [`MAX_MESSAGES`]
/// and [`MAX_LINES`] log lines in all; members whose answer is missing
/// or malformed go to `failed`.
fn merge_tracking(answers: Vec<Answer>) -> MergedTracking {
    let mut merged = MergedTracking {
        machines: answers.len(),
        ..MergedTracking::default()
    };
    let mut all = Vec::new();
    for (machine, result) in answers {
        let value = match result {
            Ok(v) => v,
            Err(reason) => {
                merged.failed.push((machine, reason));
                continue;
            }
        };
        let Some(messages) = value["messages"].as_array() else {
            merged
                .failed
                .push((machine, "its answer has no messages".to_string()));
            continue;
        };
        merged.found += value["found"].as_u64().unwrap_or(messages.len() as u64);
        merged.lines_omitted += value["lines_omitted"].as_u64().unwrap_or(0);
        for m in messages {
            all.push(MergedMessage {
                machine: machine.clone(),
                at: m["time"].as_str().and_then(tracking_time),
                message: m.clone(),
            });
        }
    }
    // Newest first; equal times keep the machine order.
    all.sort_by_key(|m| std::cmp::Reverse(m.at));
    all.truncate(MAX_MESSAGES);
    let mut lines_left = MAX_LINES;
    for m in all {
        let mut message = m.message;
        if let Some(obj) = message.as_object_mut() {
            if let Some(Value::Array(lines)) = obj.get_mut("lines") {
                let keep = lines.len().min(lines_left);
                merged.lines_omitted += (lines.len() - keep) as u64;
                lines.truncate(keep);
                lines_left -= keep;
            }
            obj.insert("machine".into(), Value::String(m.machine));
        }
        merged.messages.push(message);
    }
    merged
}

fn tracking_json(merged: &MergedTracking) -> Result<String, String> {
    serde_json::to_string(&json!({
        "found": merged.found,
        "shown": merged.messages.len(),
        "lines_omitted": merged.lines_omitted,
        "messages": merged.messages,
        "not_answered": not_answered_json(&merged.failed),
    }))
    .map_err(|e| format!("Cannot encode the answer: {e}"))
}

/// The text form: a block per message, newest first, each starting with
/// its `Machine:` line.
fn tracking_text(merged: &MergedTracking) -> String {
    let answered = merged.machines - merged.failed.len();
    let mut out = if merged.messages.is_empty() {
        format!(
            "No message in the mail_logs of {answered} of {} machine(s) matches.\n",
            merged.machines
        )
    } else {
        format!(
            "{} message(s) found on {answered} of {} machine(s){}.\n",
            merged.found,
            merged.machines,
            if (merged.found as usize) > merged.messages.len() {
                format!(", the newest {} shown", merged.messages.len())
            } else {
                String::new()
            }
        )
    };
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    for m in &merged.messages {
        let list = |v: &Value| {
            v.as_array()
                .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "-".to_string())
        };
        out.push_str(&format!("\nMachine: {}\n", s(&m["machine"])));
        out.push_str(&format!("Message Tracking: MID {}\n", s(&m["mid"])));
        let rows = [
            ("Last State", s(&m["last_state"])),
            ("Status", s(&m["status"])),
            ("Message", s(&m["direction"])),
            ("Time", s(&m["time"])),
            ("Sender", s(&m["from"])),
            ("Recipient", list(&m["to"])),
            ("Subject", s(&m["subject"])),
            ("Message ID Header", s(&m["message_id"])),
            ("Sender Group", s(&m["sender_group"])),
            ("IP address", s(&m["sender_ip"])),
            ("ICID", s(&m["icid"])),
            ("DCID", list(&m["dcids"])),
        ];
        for (name, value) in rows {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        if let Some(details) = m["details"].as_array().filter(|d| !d.is_empty()) {
            out.push_str("Processing Details\n");
            for d in details {
                out.push_str(&format!(
                    "  {} {} {}\n",
                    s(&d["date"]),
                    s(&d["time"]),
                    s(&d["text"])
                ));
            }
        }
        if let Some(lines) = m["lines"].as_array().filter(|l| !l.is_empty()) {
            out.push_str("mail_logs\n");
            for l in lines {
                out.push_str(&format!("  {}\n", s(l)));
            }
        }
    }
    if merged.lines_omitted > 0 {
        out.push_str(&format!(
            "\n[... {} log line(s) not shown; narrow the search]\n",
            merged.lines_omitted
        ));
    }
    if !merged.failed.is_empty() {
        out.push('\n');
        out.push_str(&not_answered_lines(&merged.failed));
    }
    out
}

/// `findevent --cluster ...`; `local` runs `findevent` words on this
/// machine (the control plane's log search).
pub fn findevent(
    directory: Option<&dyn ClusterDirectory>,
    args: &[String],
    local: &dyn Fn(&[String]) -> Result<String, String>,
) -> Result<String, String> {
    let search = tracking_search(args)?;
    let directory = directory.ok_or_else(|| NOT_CLUSTERED.to_string())?;
    // This machine checks the criteria first: a typing mistake is told
    // once, not as every member's 400.
    let own = local(&search.local_words)?;
    let own: Value = serde_json::from_str(&own).map_err(|e| format!("findevent: {e}"))?;
    let question = Question {
        path: "/api/v1/tracking",
        query: search.query.clone(),
        local: Ok(own),
    };
    let merged = merge_tracking(ask_all(directory, &question)?);
    if search.json {
        tracking_json(&merged)
    } else {
        Ok(tracking_text(&merged))
    }
}

// ---------------------------------------------------------------- tophosts

/// One host over the cluster: its counters summed, and each machine's.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct ClusterHost {
    host: String,
    /// Down at the last delivery attempt of at least one machine.
    down: bool,
    active_recipients: u64,
    connections_out: u64,
    delivered_recipients: u64,
    soft_bounced: u64,
    hard_bounced: u64,
    machines: BTreeMap<String, HostRow>,
}

/// Sums the members' host rows per host; members whose answer is missing
/// or malformed go to the second list.
fn merge_tophosts(answers: Vec<Answer>) -> (Vec<ClusterHost>, Vec<(String, String)>) {
    let mut hosts: BTreeMap<String, ClusterHost> = BTreeMap::new();
    let mut failed = Vec::new();
    for (machine, result) in answers {
        let rows = result.and_then(|v| {
            serde_json::from_value::<Vec<HostRow>>(v["hosts"].clone())
                .map_err(|_| "its answer has no host table".to_string())
        });
        let rows = match rows {
            Ok(rows) => rows,
            Err(reason) => {
                failed.push((machine, reason));
                continue;
            }
        };
        for row in rows {
            let h = hosts
                .entry(row.host.clone())
                .or_insert_with(|| ClusterHost {
                    host: row.host.clone(),
                    down: false,
                    active_recipients: 0,
                    connections_out: 0,
                    delivered_recipients: 0,
                    soft_bounced: 0,
                    hard_bounced: 0,
                    machines: BTreeMap::new(),
                });
            h.down |= row.down;
            h.active_recipients += row.active_recipients;
            h.connections_out += row.connections_out;
            h.delivered_recipients += row.delivered_recipients;
            h.soft_bounced += row.soft_bounced;
            h.hard_bounced += row.hard_bounced;
            h.machines.insert(machine.clone(), row);
        }
    }
    (hosts.into_values().collect(), failed)
}

/// Sorted as `tophosts` sorts: by the column named, largest first, then
/// by name.
fn sort_hosts(hosts: &mut [ClusterHost], column: &str) {
    let key = |h: &ClusterHost| match column {
        "conn" | "conn_out" | "connections" => h.connections_out,
        "deliv" | "delivered" => h.delivered_recipients,
        "soft" => h.soft_bounced,
        "hard" => h.hard_bounced,
        _ => h.active_recipients,
    };
    hosts.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.host.cmp(&b.host)));
}

fn tophosts_text(hosts: &[ClusterHost], machines: usize, failed: &[(String, String)]) -> String {
    let mut out = format!(
        "Cluster totals of {} of {machines} machine(s).\n\
         Hosts marked with '*' were down as of the last delivery attempt of a machine.\n\n{}",
        machines - failed.len(),
        breakwater_control_proto::tophosts::header()
    );
    for (i, h) in hosts.iter().enumerate() {
        let label = format!("{}{}", if h.down { "*" } else { "" }, h.host);
        out.push_str(&breakwater_control_proto::tophosts::row(
            i + 1,
            &label,
            [
                h.active_recipients,
                h.connections_out,
                h.delivered_recipients,
                h.soft_bounced,
                h.hard_bounced,
            ]
            .map(thousands),
        ));
    }
    if !failed.is_empty() {
        out.push('\n');
        out.push_str(&not_answered_lines(failed));
    }
    out
}

/// `tophosts --cluster [--json] [COLUMN]`; `local` is this machine's
/// `tophosts` text.
pub fn tophosts(
    directory: Option<&dyn ClusterDirectory>,
    args: &[String],
    local: &dyn Fn() -> Result<String, String>,
) -> Result<String, String> {
    let usage = breakwater_control_proto::usage::TOPHOSTS;
    let mut json_form = false;
    let mut column = "active".to_string();
    for a in args.iter().skip(1) {
        match a.to_ascii_lowercase().as_str() {
            "--cluster" => {}
            "--json" => json_form = true,
            c @ ("active" | "conn" | "deliv" | "soft" | "hard") => column = c.to_string(),
            _ => return Err(usage.to_string()),
        }
    }
    let directory = directory.ok_or_else(|| NOT_CLUSTERED.to_string())?;
    let own = local().and_then(|text| {
        let hosts = tophosts_rows(&text).ok_or("its tophosts table does not read")?;
        Ok(json!({ "hosts": hosts }))
    });
    let question = Question {
        path: "/api/v1/status/tophosts",
        query: Vec::new(),
        local: own,
    };
    let answers = ask_all(directory, &question)?;
    let machines: Vec<String> = answers.iter().map(|(m, _)| m.clone()).collect();
    let (mut hosts, failed) = merge_tophosts(answers);
    sort_hosts(&mut hosts, &column);
    if json_form {
        serde_json::to_string(&json!({
            "machines": machines,
            "hosts": hosts,
            "not_answered": not_answered_json(&failed),
        }))
        .map_err(|e| format!("Cannot encode the answer: {e}"))
    } else {
        Ok(tophosts_text(&hosts, machines.len(), &failed))
    }
}

/// Whether a request is a `--cluster` form of `findevent` or `tophosts`.
pub fn is_cluster_form(args: &[String]) -> bool {
    let command = args.first().map(|a| a.to_ascii_lowercase());
    matches!(command.as_deref(), Some("findevent" | "tophosts"))
        && args
            .iter()
            .skip(1)
            .any(|a| a.eq_ignore_ascii_case("--cluster"))
}

/// The commands another member may ask with the cluster's token (the
/// member side of [`findevent`] and [`tophosts`]): read-only, and never a
/// `--cluster` form again (no fan-out loops).
pub fn member_may_ask(args: &[String]) -> bool {
    let command = args.first().map(|a| a.to_ascii_lowercase());
    let json = args.iter().any(|a| a.eq_ignore_ascii_case("--json"));
    !is_cluster_form(args)
        && match command.as_deref() {
            Some("findevent") => json,
            Some("tophosts") => args.len() == 1,
            _ => false,
        }
}

#[cfg(test)]
mod tests;
