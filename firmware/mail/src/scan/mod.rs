//! Clients of the content-scanning engines the work queue asks about a
//! message (anti-spam, anti-virus): each a sans-I/O protocol core and a
//! small tokio transport. The engines run beside the gateway (loopback or
//! a trusted network); their replies are still bounded and parsed without
//! panics.

pub mod clamav;
pub mod rspamd;
