//! The pages, one module per menu area (see [`super::layout::MENUS`]).

pub mod filters;
pub mod monitor;
pub mod policies;
pub mod threat_defense;

use axum::Router;

use super::State;

pub fn routes() -> Router<State> {
    Router::new()
        .merge(monitor::routes())
        .merge(policies::routes())
        .merge(threat_defense::routes())
        .merge(filters::routes())
}
