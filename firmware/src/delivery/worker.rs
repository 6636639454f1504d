//! One delivery connection: connect to the destination's next hop (by
//! priority, failing over), then carry queued jobs until the queue is empty
//! or the per-connection message limit is reached.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::client::{ClientError, SmtpClient, reply_text};
use super::{DeliveryJob, Outcome, Shared, routes};
use crate::ids::{Dcid, Rid, rid_list};
use crate::mail_log;

pub(super) async fn run(shared: Arc<Shared>, destination: String) {
    // The first job decides where to connect; later jobs for the same
    // destination share its hosts.
    let Some(mut job) = shared.next_job(&destination) else {
        return;
    };
    loop {
        let Some((mut client, dcid)) = connect(&shared, &job).await else {
            // Nothing reachable: this job and everything waiting is deferred
            // (the last `next_job` also counts this connection out).
            let mut failed = Some(job);
            while let Some(j) = failed.take().or_else(|| shared.next_job(&destination)) {
                let results = j
                    .recipients
                    .iter()
                    .map(|(rid, _)| {
                        (
                            *rid,
                            Outcome::Deferred("unable to connect to any next hop".into()),
                        )
                    })
                    .collect();
                shared.report(j.mid, results);
            }
            return;
        };
        let max = shared
            .config
            .borrow()
            .delivery
            .max_messages_per_connection
            .max(1);
        let mut sent = 0;
        let mut broken = false;
        let mut current = Some(job);
        while let Some(j) = current.take() {
            match deliver(&shared, &mut client, dcid, &j).await {
                Ok(()) => {}
                Err(e) => {
                    let results = j
                        .recipients
                        .iter()
                        .map(|(rid, _)| (*rid, Outcome::Deferred(e.to_string())))
                        .collect();
                    mail_log!(
                        "Delayed: DCID {dcid} MID {} to RID {} - {e}",
                        j.mid,
                        rid_list(&rids(&j))
                    );
                    shared.report(j.mid, results);
                    broken = true;
                    break;
                }
            }
            sent += 1;
            if sent >= max {
                break;
            }
            current = shared.next_job(&destination);
            if current.is_none() {
                // next_job counted this connection out already.
                client.quit().await;
                mail_log!("DCID {dcid} close");
                return;
            }
        }
        if !broken {
            client.quit().await;
        }
        mail_log!("DCID {dcid} close");
        // Limit reached or connection broken: go on with a fresh connection
        // if there is more to do.
        match shared.next_job(&destination) {
            Some(next) => job = next,
            None => return,
        }
    }
}

fn rids(job: &DeliveryJob) -> Vec<Rid> {
    job.recipients.iter().map(|(r, _)| *r).collect()
}

async fn connect(shared: &Shared, job: &DeliveryJob) -> Option<(SmtpClient, Dcid)> {
    let config = shared.config.borrow().clone();
    let local: Option<IpAddr> = config
        .interface(&config.delivery.interface)
        .and_then(|i| i.address);
    let connect_timeout = Duration::from_secs(config.delivery.connect_timeout_secs.into());
    let timeout = Duration::from_secs(config.delivery.command_timeout_secs.into());
    let dns = shared.dns.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for host in routes::attempt_order(&job.hosts) {
        let addresses = match dns.addresses(&host.host).await {
            Ok(a) if !a.is_empty() => a,
            Ok(_) | Err(_) => {
                mail_log!(
                    "Connection Error: domain: {} host: {} details: cannot resolve host",
                    job.destination,
                    host.host
                );
                continue;
            }
        };
        for ip in addresses {
            let dcid = match shared.ids.dcid() {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("cannot allocate a DCID: {e}");
                    return None;
                }
            };
            let remote = SocketAddr::new(ip, host.port);
            match SmtpClient::connect(local, remote, connect_timeout, timeout).await {
                Ok((mut client, greeting)) if greeting.code == 220 => {
                    let iface = client
                        .local_addr()
                        .map(|a| a.ip().to_string())
                        .unwrap_or_default();
                    mail_log!(
                        "New SMTP DCID {dcid} interface {iface} address {ip} port {}",
                        host.port
                    );
                    match client.hello(&config.hostname, Some(&shared.tls)).await {
                        Ok(()) => {
                            if let Some((p, c)) = &client.tls {
                                mail_log!("DCID {dcid} TLS success protocol {p} cipher {c}");
                            }
                            return Some((client, dcid));
                        }
                        Err(e) => connection_error(dcid, &job.destination, ip, host.port, &e),
                    }
                }
                Ok((_, greeting)) => connection_error(
                    dcid,
                    &job.destination,
                    ip,
                    host.port,
                    &ClientError::Reply(reply_text(&greeting)),
                ),
                Err(e) => connection_error(dcid, &job.destination, ip, host.port, &e),
            }
        }
    }
    None
}

fn connection_error(dcid: Dcid, domain: &str, ip: IpAddr, port: u16, e: &ClientError) {
    mail_log!("Connection Error: DCID {dcid} domain: {domain} IP: {ip} port: {port} details: {e}");
}

async fn deliver(
    shared: &Shared,
    client: &mut SmtpClient,
    dcid: Dcid,
    job: &DeliveryJob,
) -> Result<(), ClientError> {
    let body = match shared.queue.read_body(job.mid) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("MID {}: cannot read the spooled body: {e}", job.mid);
            let results = job
                .recipients
                .iter()
                .map(|(rid, _)| (*rid, Outcome::Deferred(format!("spool read error: {e}"))))
                .collect();
            shared.report(job.mid, results);
            return Ok(());
        }
    };
    let all = rids(job);
    mail_log!(
        "Delivery start DCID {dcid} MID {} to RID {}",
        job.mid,
        rid_list(&all)
    );
    let addrs: Vec<&str> = job.recipients.iter().map(|(_, a)| a.as_str()).collect();
    let (rcpt_replies, data_reply) = client.send(&job.mail_from, &addrs, &body).await?;
    let mut results = Vec::with_capacity(all.len());
    let mut accepted = Vec::new();
    for ((rid, _), r) in job.recipients.iter().zip(&rcpt_replies) {
        let text = reply_text(r);
        match r.code / 100 {
            2 => accepted.push(*rid),
            4 => results.push((*rid, Outcome::Deferred(text))),
            _ => results.push((*rid, Outcome::Bounced(text))),
        }
    }
    if let Some(d) = data_reply {
        let text = reply_text(&d);
        let outcome = match d.code / 100 {
            2 => Outcome::Delivered(text.clone()),
            4 | 3 => Outcome::Deferred(text.clone()),
            _ => Outcome::Bounced(text.clone()),
        };
        if matches!(outcome, Outcome::Delivered(_)) {
            mail_log!(
                "Message done DCID {dcid} MID {} to RID {}",
                job.mid,
                rid_list(&accepted)
            );
        }
        mail_log!(
            "MID {} RID {} Response '{}'",
            job.mid,
            rid_list(&accepted),
            text
        );
        results.extend(accepted.iter().map(|rid| (*rid, outcome.clone())));
    }
    for (rid, outcome) in &results {
        match outcome {
            Outcome::Deferred(t) => {
                mail_log!("Delayed: DCID {dcid} MID {} to RID [{rid}] - {t}", job.mid)
            }
            Outcome::Bounced(t) => {
                mail_log!("Bounced: DCID {dcid} MID {} to RID [{rid}] - {t}", job.mid)
            }
            Outcome::Delivered(_) => {}
        }
    }
    shared.report(job.mid, results);
    Ok(())
}
