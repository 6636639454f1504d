//! Monitor: System Status.

use axum::Router;
use axum::response::Response;
use axum::routing::get;

use crate::web::{Admin, State, layout};

pub fn routes() -> Router<State> {
    Router::new().route("/monitor/status", get(status))
}

async fn status(admin: Admin) -> Response {
    let text = admin.run(&["status"]).await.unwrap_or_else(|e| e);
    admin.page("System Status", layout::output(&text))
}
