//! Time: the SNTP client's wire format ([`packet`], sans I/O) and the
//! clock adjustments only root may make ([`clock`], and [`discipline`]: step at
//! boot, slew after). The daemon measures
//! (it has the configuration, the resolver and the network); setting the
//! clock needs `CAP_SYS_TIME`, which the daemon gave up with root
//! (`docs/decisions/0006-least-privilege.md`), so on the appliance it
//! asks the supervisor, which stays root, over the heartbeat socket. See
//! `docs/decisions/0015-ntp-client.md`.

pub mod clock;
pub mod discipline;
pub mod packet;
