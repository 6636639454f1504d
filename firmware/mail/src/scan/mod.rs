//! Clients of the content-scanning engines (anti-virus, anti-spam).

pub mod clamav;
