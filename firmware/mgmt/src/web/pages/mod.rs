//! The pages, one module per menu area (see [`super::layout::MENUS`]).

pub mod hat;
pub mod monitor;

use axum::Router;

use super::State;

pub fn routes() -> Router<State> {
    Router::new().merge(monitor::routes()).merge(hat::routes())
}
