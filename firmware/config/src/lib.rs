//! Configuration: the typed model with its parsed values (HAT members, RAT
//! patterns, host names, reply texts), the one [`Config::validate`] every
//! staged change passes, the factory defaults and the relay lint. No I/O:
//! the staged / committed / history copies are kept in sled by
//! `breakwater-store` (`config_store`). The running daemon reads committed
//! configs only; every command edits the staged copy.
//!
//! Exposure: none directly; commands reach it through the owner-only
//! control socket, and `loadconfig` files pass the same `validate`.

// The lower crates, at the paths the modules name them by.
pub(crate) use breakwater_filters as filters;
pub(crate) use breakwater_types::address;

pub mod alerts;
pub mod antispam;
pub mod antivirus;
pub mod bounce_verification;
pub mod call_ahead;
pub mod cluster;
pub mod delivery;
pub mod domain_keys;
pub mod factory;
pub mod hat;
pub mod hat_comments;
pub mod logship;
pub mod management;
pub mod metrics;
pub mod model;
pub mod ntp;
pub mod policy;
pub mod quarantine_settings;
pub mod rat;
pub mod relay_lint;
pub mod sender_auth;
pub mod services;
pub mod ssl;
pub mod validate;
pub mod values;

pub use alerts::{AlertClass, AlertRecipient, AlertSettings, AlertSubscription, Severity};
pub use antispam::AntiSpamSettings;
pub use antivirus::AntiVirusSettings;
pub use call_ahead::{CallAheadProfile, CallAheadServer, CallAheadSettings, FailureAction};
pub use hat_comments::{HatCommentError, MAX_HAT_COMMENT_CHARS, check_hat_comment};
pub use logship::{LogName, LogShipping, LogSubscription, SyslogHost, SyslogProtocol};
pub use management::{ManagementAccess, SshUserKey};
pub use metrics::MetricsSettings;
pub use model::*;
pub use ntp::NtpSettings;
pub use policy::*;
pub use quarantine_settings::{QuarantineRetention, QuarantineSettings};
pub use services::{LogSettings, ThreatDefenseConfig};
pub use ssl::{SslConfig, SslPolicy};
pub use validate::{ConfigError, FieldError};
pub use values::{Host, HostName, NameError, NextHop, ReplyText, ReplyTextError};
