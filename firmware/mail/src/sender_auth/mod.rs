//! Sender authentication of incoming mail (issue 17): SPF (HELO and MAIL
//! FROM identities), DKIM (at most `max_dkim_signatures` signatures) and
//! DMARC with the mail-auth crate, plus the ARC chain (RFC 8617) whenever
//! DKIM is verified, through the gateway's own resolver (`Dns::authenticator`:
//! the `dnsconfig` servers and their cache, never /etc/resolv.conf), run at end of data on the whole
//! spooled message before the reply, so that a DMARC reject is answered
//! `550 5.7.1` in the same transaction.
//!
//! All of a message's DNS work shares one time budget
//! (`SenderAuthSettings::dns_budget_secs`); mail-auth itself stops SPF at
//! RFC 7208's 10 DNS-querying terms (it has no hook for §4.6.4's limit of
//! two void lookups: see docs/security.md). What is not done when the budget is
//! spent counts as TempError.

use std::net::IpAddr;
use std::time::Duration;

use breakwater_types::ids::{Icid, Mid};
use breakwater_types::mail_event::MailEvent;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput,
    DmarcResult, MessageAuthenticator, SpfOutput, SpfResult, dmarc::verify::DmarcParameters,
    spf::verify::SpfParameters,
};

use crate::config::sender_auth::{DmarcAction, FlowPolicyAuth, SenderAuthSettings, SpfConformance};

/// Who sent the message, as reception knows it.
pub struct Envelope<'a> {
    pub icid: Icid,
    pub mid: Mid,
    pub client_ip: IpAddr,
    pub helo: &'a str,
    pub mail_from: &'a str,
    /// The appliance's hostname: the authserv-id.
    pub hostname: &'a str,
}

/// What reception does with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refuse at end of data with this whole reply line.
    Reject(String),
    /// Accept and hold in this quarantine.
    Quarantine(String),
}

/// The outcome: the header to prepend, the verdict, the mail_logs lines.
#[derive(Debug, Clone)]
pub struct Verification {
    pub header: String,
    pub verdict: Verdict,
    pub events: Vec<MailEvent>,
}

/// Verifies `message` (the whole data, headers first) as `policy` asks.
pub async fn verify(
    auth: &MessageAuthenticator,
    env: &Envelope<'_>,
    policy: &FlowPolicyAuth,
    settings: &SenderAuthSettings,
    message: &[u8],
) -> Verification {
    let budget = Duration::from_secs(u64::from(settings.dns_budget_secs.max(1)));
    match tokio::time::timeout(budget, verify_within(auth, env, policy, settings, message)).await {
        Ok(v) => v,
        Err(_) => {
            // The budget is spent: nothing is known for sure.
            let mut events = vec![MailEvent::SenderAuthBudget {
                mid: env.mid,
                secs: u64::from(settings.dns_budget_secs),
            }];
            let mut results = Vec::new();
            if policy.spf {
                results.push("spf=temperror (DNS budget spent)".to_string());
            }
            if policy.dkim {
                results.push("dkim=temperror (DNS budget spent)".to_string());
                // RFC 8617 has no temperror: a chain not verified is none.
                results.push("arc=none (DNS budget spent)".to_string());
            }
            let verdict = match policy
                .dmarc_profile
                .as_deref()
                .and_then(|p| settings.profile(p))
            {
                Some(p) if !p.on_temperror_accept => {
                    Verdict::Reject("451 4.7.1 Unable to perform DMARC verification.".to_string())
                }
                _ => Verdict::Accept,
            };
            if policy.dmarc_profile.is_some() {
                results.push("dmarc=temperror (DNS budget spent)".to_string());
                events.push(MailEvent::DmarcVerdict {
                    mid: env.mid,
                    verdict: "Verification temperror (DNS budget spent)".to_string(),
                });
            }
            Verification {
                header: budget_header(env.hostname, &results),
                verdict,
                events,
            }
        }
    }
}

/// The header when the budget ran out (mail-auth's builder needs outputs).
fn budget_header(hostname: &str, results: &[String]) -> String {
    let mut h = format!("Authentication-Results: {hostname}");
    if results.is_empty() {
        h.push_str("; none");
    }
    for r in results {
        h.push_str(";\r\n\t");
        h.push_str(r);
    }
    h.push_str("\r\n");
    h
}

async fn verify_within(
    auth: &MessageAuthenticator,
    env: &Envelope<'_>,
    policy: &FlowPolicyAuth,
    settings: &SenderAuthSettings,
    message: &[u8],
) -> Verification {
    let mut events = Vec::new();
    let mut results = AuthenticationResults::new(env.hostname);
    let helo = if env.helo.is_empty() {
        "unknown"
    } else {
        env.helo
    };
    let parsed = AuthenticatedMessage::parse(message);

    // SPF: the HELO identity, then MAIL FROM (RFC 7208 §2.3, §2.4). A null
    // sender is checked as postmaster@<helo>.
    let mail_from_domain = env
        .mail_from
        .rsplit_once('@')
        .map_or(helo, |(_, d)| d)
        .to_string();
    let mut spf_mail_from: Option<SpfOutput> = None;
    if policy.spf {
        let helo_out = auth
            .verify_spf(SpfParameters::verify_ehlo(
                env.client_ip,
                helo,
                env.hostname,
            ))
            .await;
        events.push(MailEvent::SpfHelo {
            icid: env.icid,
            identity: format!("postmaster@{helo}"),
            result: spf_word(&helo_out, policy.spf_conformance),
        });
        results = results.with_spf_ehlo_result(&helo_out, env.client_ip, helo);
        let sender = if env.mail_from.is_empty() {
            format!("postmaster@{helo}")
        } else {
            env.mail_from.to_string()
        };
        let from_out = auth
            .verify_spf(SpfParameters::verify_mail_from(
                env.client_ip,
                helo,
                env.hostname,
                &sender,
            ))
            .await;
        events.push(MailEvent::SpfMailFrom {
            mid: env.mid,
            identity: sender.clone(),
            result: spf_word(&from_out, policy.spf_conformance),
        });
        results = results.with_spf_mailfrom_result(&from_out, env.client_ip, env.mail_from, helo);
        spf_mail_from = Some(from_out);
    }

    let max = settings.max_dkim_signatures as usize;
    let dkim: Vec<DkimOutput<'_>> = match (&parsed, policy.dkim || policy.dmarc_profile.is_some()) {
        (Some(m), true) => {
            let mut out = auth.verify_dkim(m).await;
            out.truncate(max);
            out
        }
        _ => Vec::new(),
    };
    if policy.dkim {
        for d in &dkim {
            events.push(MailEvent::DkimVerdict {
                mid: env.mid,
                verdict: dkim_word(d),
            });
        }
        if dkim.is_empty() {
            events.push(MailEvent::DkimVerdict {
                mid: env.mid,
                verdict: "no signature".to_string(),
            });
        }
        if let Some(m) = &parsed {
            results = results.with_dkim_results(&dkim, m.from());
        }
    }

    // ARC is verified with DKIM (the seals are DKIM-like signatures over
    // the same message). DMARC below does not use the chain: AsyncOS's
    // DMARC verification profile documents no trusted-sealer override, so
    // a forwarded message that breaks DKIM still fails DMARC; the result
    // is reported for the downstream mailbox server.
    let mut arc_result = None;
    if let (true, Some(m)) = (policy.dkim, &parsed) {
        let arc = auth.verify_arc(m).await;
        events.push(MailEvent::ArcVerdict {
            mid: env.mid,
            verdict: arc_word(&arc),
        });
        arc_result = Some(arc_auth_result(&arc, env.client_ip));
    }

    let mut verdict = Verdict::Accept;
    if let (Some(name), Some(m)) = (&policy.dmarc_profile, &parsed) {
        // DMARC needs an SPF result for MAIL FROM even when SPF is off.
        let spf = match spf_mail_from {
            Some(s) => s,
            None => {
                auth.verify_spf(SpfParameters::verify_mail_from(
                    env.client_ip,
                    helo,
                    env.hostname,
                    env.mail_from,
                ))
                .await
            }
        };
        let dmarc = auth
            .verify_dmarc(DmarcParameters::new(m, &dkim, &mail_from_domain, &spf))
            .await;
        events.push(MailEvent::DmarcVerdict {
            mid: env.mid,
            verdict: dmarc_word(&dmarc),
        });
        results = results.with_dmarc_result(&dmarc);
        if let Some(profile) = settings.profile(name) {
            verdict = dmarc_verdict(&dmarc.result(), dmarc.policy(), profile);
        }
        if let Verdict::Reject(reply) = &verdict {
            events.push(MailEvent::DmarcRejected {
                mid: env.mid,
                reply: reply.clone(),
            });
        }
    }
    let mut header = results.to_header();
    if let Some(arc) = arc_result {
        // mail-auth writes DKIM's words for ARC (neutral, permerror...);
        // RFC 8617 §4.4 registers only none, pass and fail.
        let body = header.trim_end_matches("\r\n").len();
        header.truncate(body);
        header.push_str(";\r\n\t");
        header.push_str(&arc);
        header.push_str("\r\n");
    }
    Verification {
        header,
        verdict,
        events,
    }
}

/// RFC 8617's three results: `pass`, `fail` (a broken or forged chain,
/// or one whose keys could not be fetched), `none` (no ARC set).
fn arc_status(arc: &ArcOutput<'_>) -> &'static str {
    match arc.result() {
        DkimResult::Pass => "pass",
        DkimResult::None => "none",
        _ => "fail",
    }
}

/// The sealer of the newest ARC set: `i=2 d=lists.example`.
fn arc_sealer(arc: &ArcOutput<'_>) -> Option<String> {
    arc.sets()
        .last()
        .map(|s| format!("i={} d={}", s.seal.header.i, s.seal.header.d))
}

/// The Authentication-Results method: `arc=pass (i=2 d=lists.example)
/// smtp.remote-ip=192.0.2.1`.
fn arc_auth_result(arc: &ArcOutput<'_>, client_ip: IpAddr) -> String {
    let mut r = format!("arc={}", arc_status(arc));
    match (arc.result(), arc_sealer(arc)) {
        (DkimResult::Pass, Some(sealer)) => r.push_str(&format!(" ({sealer})")),
        (DkimResult::Pass | DkimResult::None, None) => {}
        (other, _) => r.push_str(&format!(" ({})", arc_reason(other))),
    }
    r.push_str(&format!(" smtp.remote-ip={client_ip}"));
    r
}

fn arc_reason(result: &DkimResult) -> String {
    match result {
        DkimResult::Fail(e)
        | DkimResult::Neutral(e)
        | DkimResult::PermError(e)
        | DkimResult::TempError(e) => e.to_string(),
        DkimResult::Pass | DkimResult::None => String::new(),
    }
}

/// The mail_logs words: `pass (i=2 d=lists.example)`, `fail (broken ARC
/// chain)`, `none`.
fn arc_word(arc: &ArcOutput<'_>) -> String {
    let status = arc_status(arc);
    match (arc.result(), arc_sealer(arc)) {
        (DkimResult::Pass, Some(sealer)) => format!("{status} ({sealer})"),
        (DkimResult::Pass | DkimResult::None, _) => status.to_string(),
        (other, _) => format!("{status} ({})", arc_reason(other)),
    }
}

/// What the profile does with this DMARC outcome.
fn dmarc_verdict(
    result: &DmarcResult,
    policy: Policy,
    profile: &crate::config::sender_auth::DmarcProfile,
) -> Verdict {
    match result {
        DmarcResult::Fail(_) => {
            let action = match policy {
                Policy::Reject => &profile.on_reject,
                Policy::Quarantine => &profile.on_quarantine,
                Policy::None | Policy::Unspecified => &DmarcAction::NoAction,
            };
            match action {
                DmarcAction::NoAction => Verdict::Accept,
                DmarcAction::Quarantine(q) => Verdict::Quarantine(q.clone()),
                DmarcAction::Reject { code, text } => Verdict::Reject(format!("{code} {text}")),
            }
        }
        DmarcResult::TempError(_) if !profile.on_temperror_accept => {
            Verdict::Reject("451 4.7.1 Unable to perform DMARC verification.".to_string())
        }
        _ => Verdict::Accept,
    }
}

/// AsyncOS's SPF words: `Pass (v=spf1)`, `Fail`, `SoftFail`, `None`...
/// SIDF-strict counts a TempError as a failure.
fn spf_word(out: &SpfOutput, level: SpfConformance) -> String {
    match (out.result(), level) {
        (SpfResult::Pass, _) => "Pass (v=spf1)".to_string(),
        (SpfResult::TempError, SpfConformance::SidfStrict) => "Fail (TempError)".to_string(),
        (r, _) => r.to_string(),
    }
}

/// `pass signature verified (d=example.com s=sel i=@example.com)`.
fn dkim_word(d: &DkimOutput<'_>) -> String {
    let sig = d
        .signature()
        .map(|s| format!(" (d={} s={} i={})", s.d, s.s, s.i))
        .unwrap_or_default();
    match d.result() {
        DkimResult::Pass => format!("pass signature verified{sig}"),
        DkimResult::Fail(e) => format!("permfail {e}{sig}"),
        DkimResult::Neutral(e) => format!("neutral {e}{sig}"),
        DkimResult::PermError(e) => format!("permfail {e}{sig}"),
        DkimResult::TempError(e) => format!("tempfail {e}{sig}"),
        DkimResult::None => "no signature".to_string(),
    }
}

/// `Message from domain example.com, DMARC pass (SPF aligned True, DKIM aligned False)`.
fn dmarc_word(d: &DmarcOutput) -> String {
    let aligned = |r: &DmarcResult| {
        if *r == DmarcResult::Pass {
            "True"
        } else {
            "False"
        }
    };
    let result = match d.result() {
        DmarcResult::Pass => "pass".to_string(),
        DmarcResult::Fail(_) => "fail".to_string(),
        DmarcResult::TempError(e) => format!("temperror ({e})"),
        DmarcResult::PermError(e) => format!("permerror ({e})"),
        DmarcResult::None => "none".to_string(),
    };
    format!(
        "Message from domain {}, DMARC {result} (SPF aligned {}, DKIM aligned {})",
        d.domain(),
        aligned(d.spf_result()),
        aligned(d.dkim_result())
    )
}

/// `message` with `header` put above its first line (RFC 8601 §5: at the
/// top, above the Received: field added by the same hop).
pub fn prepend(header: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + message.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sender_auth::DmarcProfile;

    #[test]
    fn budget_header_names_the_checks_not_done() {
        let h = budget_header("gw.example", &["spf=temperror (DNS budget spent)".into()]);
        assert_eq!(
            h,
            "Authentication-Results: gw.example;\r\n\tspf=temperror (DNS budget spent)\r\n"
        );
        assert_eq!(
            budget_header("gw.example", &[]),
            "Authentication-Results: gw.example; none\r\n"
        );
    }

    #[test]
    fn dmarc_fail_follows_the_domain_policy_and_the_profile() {
        let profile = DmarcProfile::predefined("DEFAULT");
        let failed = DmarcResult::Fail(mail_auth::Error::NotAligned);
        let fail = |p: Policy| (failed.clone(), p);
        let dmarc_verdict =
            |(r, p): (DmarcResult, Policy), profile: &DmarcProfile| dmarc_verdict(&r, p, profile);
        assert_eq!(
            dmarc_verdict(fail(Policy::Reject), &profile),
            Verdict::Reject("550 5.7.1 DMARC unauthenticated mail is prohibited".into())
        );
        assert_eq!(
            dmarc_verdict(fail(Policy::Quarantine), &profile),
            Verdict::Quarantine("Policy".into())
        );
        assert_eq!(dmarc_verdict(fail(Policy::None), &profile), Verdict::Accept);
        let mut lenient = profile.clone();
        lenient.on_reject = DmarcAction::NoAction;
        assert_eq!(
            dmarc_verdict(fail(Policy::Reject), &lenient),
            Verdict::Accept
        );
    }

    #[test]
    fn a_message_without_arc_sets_is_arc_none() {
        let none = ArcOutput::default();
        assert_eq!(arc_word(&none), "none");
        assert_eq!(
            arc_auth_result(&none, "127.0.0.9".parse().unwrap()),
            "arc=none smtp.remote-ip=127.0.0.9"
        );
    }

    #[test]
    fn the_header_goes_on_top() {
        assert_eq!(
            prepend("A: 1\r\n", b"Received: x\r\n\r\nbody"),
            b"A: 1\r\nReceived: x\r\n\r\nbody"
        );
    }
}
