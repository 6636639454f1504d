//! The SMTP server session and what it is made of: the protocol state
//! machine ([`session`]), the DATA and BDAT receivers ([`data`]), the
//! streaming header scanner ([`headers`]), the Host Access Table and
//! Recipient Access Table lookups ([`hat`], [`rat`]), per-session and
//! per-sender limits ([`limits`]), the reception memory budget
//! ([`budget`]), our Received: header ([`received`]) and the reply texts
//! ([`reply`]).

pub mod budget;
pub mod data;
pub mod hat;
pub mod headers;
pub mod limits;
pub mod rat;
pub mod received;
pub mod reply;
pub mod session;
