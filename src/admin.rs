//! The admin API (JSON under `/admin/api/`, see `docs/admin-api.md`) and the console page
//! (`/admin`), both off unless enabled. The API is the one door to the live mapping for people
//! and tools: the console, the CLI and the tests all go through it.
//!
//! - [`access`]: loopback, credential and CSRF checks, before anything is read.
//! - [`api`]: the handlers, over `live`'s operations.
//! - [`console`]: the page's files, compiled into the binary.

pub mod access;
pub mod api;
pub mod console;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::config::AdminConfig;
use crate::live::Live;

/// The admin API's settings and what it acts on.
pub struct Admin {
    pub cfg: AdminConfig,
    /// The static admin token, when there is one.
    pub token: Option<String>,
    pub live: Arc<Live>,
}

impl Admin {
    fn verifier(&self) -> Arc<crate::auth::Verifier> {
        self.live.registry.load().shared.verifier.clone()
    }

    fn public_url(&self) -> String {
        self.live.registry.load().shared.public_url.clone()
    }
}

/// `/admin` (the console) and `/admin/api/*`, behind the guard.
pub fn router(admin: Arc<Admin>) -> Router {
    let api = api::routes()
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            access::guard,
        ))
        .with_state(admin.clone());
    Router::new()
        .nest("/admin/api", api)
        .merge(console::routes(admin))
}

/// Every admin error: a JSON object with a `message`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}
