//! The pages, one module per menu area (see [`super::layout::MENUS`]).

pub mod monitor;
pub mod reports;
pub mod tracking;

use axum::Router;

use super::State;

pub fn routes() -> Router<State> {
    Router::new()
        .merge(monitor::routes())
        .merge(tracking::routes())
        .merge(reports::routes())
}
