//! `deliveryconfig`: how the gateway delivers — the interface outgoing
//! connections bind and the timeouts. `retry` and `setup`'s limits are
//! shortcuts to the Default bounce profile and the Default row of the
//! destination control table (`bounceconfig`, `destconfig`), where AsyncOS
//! keeps them.

use super::args::{interface_name, invalid, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::{BounceProfile, Config};

pub(super) use breakwater_control_proto::usage::DELIVERYCONFIG as USAGE;

/// A week: longer than any message stays in the queue.
const MAX_RETRY_SECS: u64 = 7 * 24 * 3600;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("interface"), [_, name]) => interface(ctx, name),
        (Some("interface"), [_, first, second]) => interface(ctx, &format!("{first} {second}")),
        (Some("retry"), [_, rest @ ..]) => retry(ctx, rest),
        (Some("setup"), [_, rest @ ..]) => setup(ctx, rest),
        _ => Err(usage(USAGE)),
    }
}

fn interface(ctx: &CommandContext<'_>, name: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let canonical = interface_name(&cfg, name)?;
    cfg.delivery.interface = canonical.clone();
    stage(
        ctx,
        &cfg,
        &format!("Outgoing connections will use {canonical}."),
    )
}

/// `retry`: the Default bounce profile's retry waits.
#[rustfmt::skip]
const RETRY: &[Setting<BounceProfile>] = &[
    ("initial-secs", Number(1, MAX_RETRY_SECS, |b| &mut b.initial_retry_secs)),
    ("max-secs", Number(1, MAX_RETRY_SECS, |b| &mut b.max_retry_secs)),
];

/// `setup`: the Default destination limits, timeouts and next-hop rules.
#[rustfmt::skip]
const SETUP: &[Setting<Config>] = &[
    ("max-concurrency", Number(1, 10_000, |c| &mut c.destination_default.max_concurrency)),
    ("max-messages-per-connection", Number(1, 100_000, |c| &mut c.destination_default.max_messages_per_connection)),
    ("connect-timeout", Number(1, 3600, |c| &mut c.delivery.connect_timeout_secs)),
    ("command-timeout", Number(1, 3600, |c| &mut c.delivery.command_timeout_secs)),
    ("data-timeout", Number(1, 3600, |c| &mut c.connections.data_timeout_secs)),
    ("transaction-timeout", Number(1, 24 * 3600, |c| &mut c.connections.transaction_timeout_secs)),
    ("max-outbound-connections", Number(1, 100_000, |c| &mut c.connections.max_outbound_connections)),
    ("allow-private-next-hops", OnOff(|c| &mut c.connections.allow_private_next_hops)),
    ("allow-loopback-next-hops", OnOff(|c| &mut c.connections.allow_loopback_next_hops)),
    ("connection-cache-secs", Number(0, MAX_CACHE_SECS, |c| &mut c.connection_cache.idle_secs)),
    ("max-idle-per-destination", Number(0, 10_000, |c| &mut c.connection_cache.max_idle_per_destination)),
    ("max-idle-connections", Number(0, 100_000, |c| &mut c.connection_cache.max_idle)),
];

/// `connection-cache-secs`' upper bound.
const MAX_CACHE_SECS: u64 = crate::config::ConnectionCache::MAX_IDLE_SECS as u64;

fn retry(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = settings::parse_some(args, RETRY, &[], USAGE)?;
    let mut cfg = ctx.store.working()?;
    let Some(d) = cfg.bounce_profiles.iter_mut().find(|b| b.name == "Default") else {
        return Err(invalid("There is no Default bounce profile."));
    };
    settings::apply(RETRY, &opts, d)?;
    if d.max_retry_secs < d.initial_retry_secs {
        return Err(invalid(format!(
            "The maximum retry interval ({}s) must be at least the initial one ({}s).",
            d.max_retry_secs, d.initial_retry_secs
        )));
    }
    let message = format!(
        "Retry interval of the Default bounce profile set to {}s initially, at most {}s.",
        d.initial_retry_secs, d.max_retry_secs
    );
    stage(ctx, &cfg, &message)
}

fn setup(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = settings::parse_some(args, SETUP, &[], USAGE)?;
    let mut cfg = ctx.store.working()?;
    settings::apply(SETUP, &opts, &mut cfg)?;
    stage(ctx, &cfg, "Delivery settings updated.")
}

pub(super) fn render(cfg: &Config) -> String {
    let d = &cfg.delivery;
    let b = cfg.bounce_profile("Default");
    let row = &cfg.destination_default;
    let c = &cfg.connections;
    let allowed = |b: bool| if b { "allowed" } else { "refused" };
    format!(
        "Delivery interface: {}\n\
         Retry interval: {}s initially, doubling up to {}s\n\
         Default destination limits: {} concurrent connections, {} messages per connection\n\
         Timeouts: connect {}s, command {}s, end of data {}s, transaction {}s\n\
         Outbound connections: at most {} to all destinations together\n\
         Next hops found by MX or A/AAAA: private addresses {}, loopback addresses {}\n\
         Connection cache: idle connections kept {}s, at most {} per destination, {} in all",
        d.interface,
        b.initial_retry_secs,
        b.max_retry_secs,
        row.max_concurrency,
        row.max_messages_per_connection,
        d.connect_timeout_secs,
        d.command_timeout_secs,
        c.data_timeout_secs,
        c.transaction_timeout_secs,
        c.max_outbound_connections,
        allowed(c.allow_private_next_hops),
        allowed(c.allow_loopback_next_hops),
        cfg.connection_cache.idle_secs,
        cfg.connection_cache.max_idle_per_destination,
        cfg.connection_cache.max_idle,
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::Config;

    #[test]
    fn each_form_stages_the_right_change() {
        type Check = fn(&Config);
        let cases: &[(&str, Check)] = &[
            ("deliveryconfig interface \"data 1\"", |c| {
                assert_eq!(c.delivery.interface, "Data 1")
            }),
            ("deliveryconfig interface management", |c| {
                assert_eq!(c.delivery.interface, "Management")
            }),
            (
                "deliveryconfig retry --initial-secs 300 --max-secs 7200",
                |c| {
                    let b = c.bounce_profile("Default");
                    assert_eq!((b.initial_retry_secs, b.max_retry_secs), (300, 7200));
                },
            ),
            ("deliveryconfig retry --max-secs 60", |c| {
                assert_eq!(c.bounce_profile("Default").max_retry_secs, 60)
            }),
            (
                "deliveryconfig setup --max-concurrency 20 --max-messages-per-connection 10 --connect-timeout 15 --command-timeout 60",
                |c| {
                    let row = &c.destination_default;
                    assert_eq!(
                        (row.max_concurrency, row.max_messages_per_connection),
                        (20, 10)
                    );
                    let d = &c.delivery;
                    assert_eq!((d.connect_timeout_secs, d.command_timeout_secs), (15, 60));
                },
            ),
            (
                "deliveryconfig setup --data-timeout 300 --transaction-timeout 900 --max-outbound-connections 40 --allow-private-next-hops yes --allow-loopback-next-hops on",
                |c| {
                    let n = &c.connections;
                    assert_eq!(
                        (
                            n.data_timeout_secs,
                            n.transaction_timeout_secs,
                            n.max_outbound_connections
                        ),
                        (300, 900, 40)
                    );
                    assert!(n.allow_private_next_hops && n.allow_loopback_next_hops);
                },
            ),
            (
                "deliveryconfig setup --connection-cache-secs 0 --max-idle-per-destination 3 --max-idle-connections 7",
                |c| {
                    let k = c.connection_cache;
                    assert_eq!(
                        (k.idle_secs, k.max_idle_per_destination, k.max_idle),
                        (0, 3, 7)
                    );
                },
            ),
        ];
        for (line, check) in cases {
            let f = Fixture::new();
            f.run(line).unwrap();
            check(&f.staged().unwrap());
        }
        let out = Fixture::new().run("deliveryconfig print").unwrap();
        assert!(
            out.starts_with("Delivery interface: Data 2\nRetry interval: 60s initially"),
            "{out}"
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "deliveryconfig interface eth0",
            "deliveryconfig retry",
            "deliveryconfig retry --initial-secs 0",
            "deliveryconfig retry --initial-secs 100 --max-secs 50",
            "deliveryconfig retry --initial-secs 7200",
            "deliveryconfig setup",
            "deliveryconfig setup --max-concurrency 0",
            "deliveryconfig setup --connect-timeout soon",
            "deliveryconfig setup --frob 1",
            "deliveryconfig setup --max-outbound-connections 0",
            "deliveryconfig setup --allow-loopback-next-hops maybe",
            "deliveryconfig setup --connection-cache-secs 301",
            "deliveryconfig setup --max-idle-connections -1",
            "deliveryconfig frob",
        ]);
    }
}
