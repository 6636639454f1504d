//! The pages, one module per menu area (see [`super::layout::MENUS`]).

pub mod destinations;
pub mod monitor;
pub mod network;
pub mod routes;

use axum::Router;

use super::State;

pub fn routes() -> Router<State> {
    Router::new()
        .merge(monitor::routes())
        .merge(destinations::routes())
        .merge(routes::routes())
        .merge(network::routes())
}
