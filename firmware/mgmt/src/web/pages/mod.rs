//! The pages, one module per menu area (see [`super::layout::MENUS`]).

pub mod alerts;
pub mod antispam;
pub mod antivirus;
pub mod destinations;
pub mod filters;
pub mod hat;
pub mod log_subscriptions;
pub mod mail_auth;
pub mod monitor;
pub mod network;
pub mod policies;
pub mod reports;
pub mod routes;
pub mod ssl;
pub mod threat_defense;
pub mod time_settings;
pub mod tracking;

use axum::Router;

use super::State;

pub fn routes() -> Router<State> {
    Router::new()
        .merge(monitor::routes())
        .merge(tracking::routes())
        .merge(reports::routes())
        .merge(policies::routes())
        .merge(hat::routes())
        .merge(destinations::routes())
        .merge(filters::routes())
        .merge(threat_defense::routes())
        .merge(routes::routes())
        .merge(network::routes())
        .merge(ssl::routes())
        .merge(alerts::routes())
        .merge(time_settings::routes())
        .merge(log_subscriptions::routes())
        .merge(antispam::routes())
        .merge(antivirus::routes())
        .merge(mail_auth::routes())
}
