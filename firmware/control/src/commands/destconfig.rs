//! `destconfig`: the destination control table — per recipient domain,
//! how many connections, messages per connection, recipients per time
//! window, TLS, DANE, IP family and bounce profile. The `Default` row
//! applies to every domain without a row of its own.

use super::args::{Opts, check_name, invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::{
    Config, Dane, DestinationControl, DestinationSettings, IpPreference, LimitScope, OutboundTls,
    RecipientLimit,
};
use crate::table::{Pinned, Table, TableRow};

pub(super) use breakwater_control_proto::usage::DESTCONFIG as USAGE;

const VALUED: &[&str] = &[
    "max_host_concurrency",
    "max_messages_per_connection",
    "recipient_limit",
    "recipient_minutes",
    "limit_applies_to",
    "use_tls",
    "dane",
    "ip_preference",
    "bounce_profile",
    "bounce_verification",
    "client_certificate",
];

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("list" | "print"), [_]) => Ok(table(&ctx.store.working()?)),
        (Some("detail"), [_, domain]) => detail(&ctx.store.working()?, domain),
        (Some("new"), [_, domain, rest @ ..]) => new(ctx, domain, rest),
        (Some("edit"), [_, domain, rest @ ..]) => edit(ctx, domain, rest),
        (Some("delete"), [_, domain]) => delete(ctx, domain),
        _ => Err(usage(USAGE)),
    }
}

fn check_domain(domain: &str) -> Result<String, CliError> {
    let d = domain.to_ascii_lowercase();
    let bare = d.strip_prefix('.').unwrap_or(&d);
    let ok = crate::config::HostName::parse(bare).is_ok();
    if !ok || d.eq_ignore_ascii_case("default") {
        return Err(invalid(format!(
            "'{domain}' is not a domain (example.com or .example.com)."
        )));
    }
    Ok(d)
}

fn new(ctx: &CommandContext<'_>, domain: &str, rest: &[String]) -> Result<String, CliError> {
    let domain = check_domain(domain)?;
    let opts = parse_opts(rest, VALUED, &[], USAGE)?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let mut cfg = ctx.store.working()?;
    let mut row = DestinationControl {
        domain: domain.clone(),
        ..Default::default()
    };
    apply(&cfg, &opts, &mut Row::Domain(&mut row))?;
    controls().add(&mut cfg.destination_controls, row, None)?;
    tagging(&mut cfg, &opts, Some(&domain))?;
    stage(
        ctx,
        &cfg,
        &format!("Destination control for {domain} added."),
    )
}

fn edit(ctx: &CommandContext<'_>, domain: &str, rest: &[String]) -> Result<String, CliError> {
    let opts = parse_opts(rest, VALUED, &[], USAGE)?;
    if !opts.positional.is_empty() || !opts.any() {
        return Err(usage(USAGE));
    }
    let mut cfg = ctx.store.working()?;
    let snapshot = cfg.clone();
    if domain.eq_ignore_ascii_case("default") {
        let mut row = cfg.destination_default.clone();
        apply(&snapshot, &opts, &mut Row::Default(&mut row))?;
        cfg.destination_default = row;
        tagging(&mut cfg, &opts, None)?;
        return stage(ctx, &cfg, "Default destination controls updated.");
    }
    let row = controls().get_mut(&mut cfg.destination_controls, domain)?;
    apply(&snapshot, &opts, &mut Row::Domain(row))?;
    let message = format!("Destination control for {} updated.", row.domain);
    let domain = row.domain.clone();
    tagging(&mut cfg, &opts, Some(&domain))?;
    stage(ctx, &cfg, &message)
}

/// `--bounce_verification on|off`: the destination's (`None`: the
/// default's) address tagging, the same switch as `bvconfig tagging`.
fn tagging(
    cfg: &mut Config,
    opts: &super::args::Opts,
    domain: Option<&str>,
) -> Result<(), CliError> {
    if let Some(on) = super::args::on_off(opts, "bounce_verification")? {
        match domain {
            Some(d) => cfg.bounce_verification.set_destination(d, on),
            None => cfg.bounce_verification.default_tagging = on,
        }
    }
    Ok(())
}

/// A destination's own tagging setting, if it has one.
fn own_tagging(cfg: &Config, domain: &str) -> Option<bool> {
    cfg.bounce_verification
        .destinations
        .iter()
        .find(|d| d.destination.eq_ignore_ascii_case(domain))
        .map(|d| d.tag)
}

fn delete(ctx: &CommandContext<'_>, domain: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let row = controls().delete(&mut cfg.destination_controls, domain)?;
    let message = format!("Destination control for {} deleted.", row.domain);
    crate::config::bounce_verification::forget_missing(&mut cfg);
    stage(ctx, &cfg, &message)
}

impl TableRow for DestinationControl {
    fn key(&self) -> &str {
        &self.domain
    }
}

/// The per-domain rows; the Default row is kept apart (it holds every
/// setting, not overrides) and can be edited, never deleted.
fn controls() -> Table<DestinationControl> {
    Table {
        pinned: Some(Pinned {
            is: |_| false,
            named: |n| n.eq_ignore_ascii_case("default"),
            last: true,
            what: "the Default row",
            why_kept: "it applies to every domain without a row of its own",
        }),
        duplicate_hint: "; use \"destconfig edit\"",
        ..Table::new("destination control entry for {}", "")
    }
}

/// The row being edited: a domain's (options become overrides) or the
/// Default row (options replace values).
enum Row<'a> {
    Domain(&'a mut DestinationControl),
    Default(&'a mut DestinationSettings),
}

macro_rules! set {
    ($row:expr, $field:ident, $value:expr) => {
        match $row {
            Row::Domain(r) => r.$field = Some($value),
            Row::Default(d) => d.$field = $value,
        }
    };
}

fn apply(cfg: &Config, opts: &Opts, row: &mut Row<'_>) -> Result<(), CliError> {
    if let Some(n) = opts.number("max_host_concurrency", 1u32, 10_000)? {
        set!(row, max_concurrency, n);
    }
    if let Some(n) = opts.number("max_messages_per_connection", 1u32, 100_000)? {
        set!(row, max_messages_per_connection, n);
    }
    match (
        opts.value("recipient_limit"),
        opts.value("recipient_minutes"),
    ) {
        (Some(none), _) if none.eq_ignore_ascii_case("none") => match row {
            Row::Domain(r) => r.recipient_limit = Some(None),
            Row::Default(d) => d.recipient_limit = None,
        },
        (Some(_), minutes) => {
            let recipients = opts
                .number("recipient_limit", 1u32, 1_000_000)?
                .unwrap_or(1);
            let minutes = match minutes {
                Some(_) => opts
                    .number("recipient_minutes", 1u32, 60 * 24)?
                    .unwrap_or(60),
                None => 60,
            };
            let limit = Some(RecipientLimit {
                recipients,
                minutes,
            });
            match row {
                Row::Domain(r) => r.recipient_limit = Some(limit),
                Row::Default(d) => d.recipient_limit = limit,
            }
        }
        (None, Some(_)) => return Err(invalid("--recipient_minutes needs --recipient_limit.")),
        (None, None) => {}
    }
    if let Some(v) = opts.value("limit_applies_to") {
        let scope = match v.to_ascii_lowercase().as_str() {
            "domain" => LimitScope::Domain,
            "host" | "mx" | "ip" => LimitScope::Host,
            _ => {
                return Err(invalid(format!(
                    "--limit_applies_to: '{v}' is not domain or host."
                )));
            }
        };
        set!(row, limit_scope, scope);
    }
    if let Some(v) = opts.value("use_tls") {
        let tls = OutboundTls::parse(v).ok_or_else(|| {
            invalid(format!("--use_tls: '{v}' is not none, preferred, required, preferred-verify or required-verify."))
        })?;
        set!(row, tls, tls);
    }
    if let Some(v) = opts.value("dane") {
        let dane = match v.to_ascii_lowercase().as_str() {
            "none" | "off" => Dane::None,
            "opportunistic" => Dane::Opportunistic,
            "mandatory" => Dane::Mandatory,
            _ => {
                return Err(invalid(format!(
                    "--dane: '{v}' is not none, opportunistic or mandatory."
                )));
            }
        };
        set!(row, dane, dane);
    }
    if let Some(v) = opts.value("ip_preference") {
        let pref = IpPreference::parse(v)
            .ok_or_else(|| invalid(format!("--ip_preference: '{v}' is not ipv4-only, ipv4-preferred, ipv6-preferred or ipv6-only.")))?;
        set!(row, ip_preference, pref);
    }
    if let Some(v) = opts.value("bounce_profile") {
        check_name("bounce profile", v)?;
        let Some(p) = cfg
            .bounce_profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(v))
        else {
            return Err(invalid(format!(
                "There is no bounce profile named '{v}' (see bounceconfig print)."
            )));
        };
        set!(row, bounce_profile, p.name.clone());
    }
    // `--bounce_verification` is AsyncOS's "Bounce Verification: perform
    // address tagging"; it is kept in `bounce_verification` (what tagging
    // reads), see `tagging`, not in the stored row.
    if let Some(v) = opts.value("client_certificate") {
        let cert = if v.eq_ignore_ascii_case("none") {
            None
        } else if cfg.certificate(v).is_some() {
            Some(v.to_string())
        } else {
            return Err(invalid(format!("There is no certificate named '{v}'.")));
        };
        set!(row, client_certificate, cert);
    }
    Ok(())
}

fn dane_text(d: Dane) -> &'static str {
    match d {
        Dane::None => "None",
        Dane::Opportunistic => "Opportunistic",
        Dane::Mandatory => "Mandatory",
    }
}

/// One line of the Destination Control Table: domain, IP preference,
/// limits, TLS, DANE, bounce verification, bounce profile.
fn table_line(out: &mut String, c: [&str; 7]) {
    out.push_str(&format!(
        "{:<24} {:<16} {:<72} {:<20} {:<14} {:<12} {}\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    ));
}

/// The seed's Destination Control Table.
pub(super) fn table(cfg: &Config) -> String {
    let mut out = String::from("Destination Control Table\n");
    #[rustfmt::skip]
    table_line(&mut out, ["Domain", "IP Address Pref.", "Destination Limits", "TLS Support", "DANE Support", "Bounce Verif.", "Bounce Profile"]);
    // A domain's row says "Default" where it has no setting of its own.
    let or_default = |set: bool, text: &str| (if set { text } else { "Default" }).to_string();
    for row in &cfg.destination_controls {
        let s = row.settings(&cfg.destination_default);
        let own_limits = row.max_concurrency.is_some()
            || row.max_messages_per_connection.is_some()
            || row.recipient_limit.is_some();
        let cells = [
            or_default(row.ip_preference.is_some(), s.ip_preference.label()),
            or_default(own_limits, &s.limits_text()),
            or_default(row.tls.is_some(), s.tls.label()),
            or_default(row.dane.is_some(), dane_text(s.dane)),
            own_tagging(cfg, &row.domain)
                .map_or_else(|| "Default".to_string(), |t| on_off(t).to_string()),
            or_default(row.bounce_profile.is_some(), &s.bounce_profile),
        ];
        let [ip, limits, tls, dane, verif, profile] = &cells;
        table_line(
            &mut out,
            [&row.domain, ip, limits, tls, dane, verif, profile],
        );
    }
    let d = &cfg.destination_default;
    let limits = d.limits_text();
    #[rustfmt::skip]
    table_line(&mut out, ["Default", d.ip_preference.label(), &limits, d.tls.label(), dane_text(d.dane), on_off(cfg.bounce_verification.default_tagging), &d.bounce_profile]);
    out.push_str("^ DANE will not be enforced for domains that have SMTP Routes configured.\n");
    out
}

fn on_off(b: bool) -> &'static str {
    if b { "On" } else { "Off" }
}

fn detail(cfg: &Config, domain: &str) -> Result<String, CliError> {
    let is_default = domain.eq_ignore_ascii_case("default");
    let (domain, s, tags) = if is_default {
        (
            "Default",
            cfg.destination_default.clone(),
            cfg.bounce_verification.default_tagging,
        )
    } else {
        let row = controls().get(&cfg.destination_controls, domain)?;
        (
            row.domain.as_str(),
            row.settings(&cfg.destination_default),
            cfg.bounce_verification.tags_destination(&row.domain),
        )
    };
    Ok(format!(
        "Domain: {}\nIP address preference: {}\nMaximum concurrent connections: {}{}\nMaximum messages per connection: {}\nRecipient limit: {}\nTLS support: {}\nDANE support: {}\nBounce Verification: perform address tagging: {}\nBounce profile: {}\nClient certificate: {}\n",
        domain,
        s.ip_preference.label(),
        s.max_concurrency,
        if s.limit_scope == LimitScope::Host {
            " (per host)"
        } else {
            ""
        },
        s.max_messages_per_connection,
        s.recipient_limit
            .map(|l| format!("{} per {} minutes", l.recipients, l.minutes))
            .unwrap_or_else(|| "none".into()),
        s.tls.label(),
        dane_text(s.dane),
        if tags { "Yes" } else { "No" },
        s.bounce_profile,
        s.client_certificate.as_deref().unwrap_or("none"),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::{LimitScope, OutboundTls};

    #[test]
    fn the_seed_row_for_the_microsoft_365_domain() {
        let f = Fixture::new();
        f.run("destconfig new your_domain.com --max_host_concurrency 10 --max_messages_per_connection 20 --use_tls preferred")
            .unwrap();
        let cfg = f.staged().unwrap();
        let s = cfg.destination("your_domain.com");
        assert_eq!(
            (s.max_concurrency, s.max_messages_per_connection, s.tls),
            (10, 20, OutboundTls::Preferred)
        );
        assert_eq!(cfg.destination("other.org").max_concurrency, 500);
        let table = f.run("destconfig list").unwrap();
        assert!(
            table.contains(
                "10 concurrent connections, 20 messages per connection, No recipient limit"
            ),
            "{table}"
        );
        assert!(table.contains(
            "500 concurrent connections, 50 messages per connection, No recipient limit"
        ));
    }

    #[test]
    fn edits_deletes_and_the_default_row() {
        let f = Fixture::new();
        f.run("destconfig new .example.com --recipient_limit 5 --recipient_minutes 10 --limit_applies_to host").unwrap();
        let s = f.staged().unwrap().destination("a.example.com");
        assert_eq!(
            s.recipient_limit.map(|l| (l.recipients, l.minutes)),
            Some((5, 10))
        );
        assert_eq!(s.limit_scope, LimitScope::Host);
        f.run("destconfig edit Default --use_tls required").unwrap();
        assert_eq!(
            f.staged().unwrap().destination("x.org").tls,
            OutboundTls::Required
        );
        f.run("destconfig delete .example.com").unwrap();
        assert!(f.staged().unwrap().destination_controls.is_empty());
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "destconfig new bad..domain",
            "destconfig new example.com --use_tls sometimes",
            "destconfig new example.com --max_host_concurrency 0",
            "destconfig new example.com --bounce_profile Nope",
            "destconfig new example.com --recipient_minutes 5",
            "destconfig edit nowhere.org --use_tls none",
            "destconfig delete Default",
            "destconfig",
        ]);
    }
}
