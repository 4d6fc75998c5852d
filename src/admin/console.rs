//! The console page: plain HTML, CSS and ES modules from `assets/console/`, compiled into the
//! binary (no CDN, works offline), served under a strict Content-Security-Policy.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

use super::Admin;

/// (file, content type, contents).
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../assets/console/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/console/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/app.js"),
    ),
    (
        "client.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/client.js"),
    ),
    (
        "ops.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/ops.js"),
    ),
    (
        "spec.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/spec.js"),
    ),
    (
        "tryit.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/tryit.js"),
    ),
    (
        "util.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/util.js"),
    ),
    (
        "views.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/views.js"),
    ),
];

pub fn routes(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(index))
        .route("/admin/{file}", get(file))
        .with_state(admin)
}

async fn index(State(admin): State<Arc<Admin>>) -> Response {
    serve(&admin, "index.html").await
}

async fn file(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> Response {
    serve(&admin, &name).await
}

async fn serve(admin: &Admin, name: &str) -> Response {
    let Some((_, ty, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such console file\n").into_response();
    };
    let mut resp = (*body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp(admin).await) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// Only the gateway's own files; requests to itself and to the admin issuer's token endpoint.
async fn csp(admin: &Admin) -> String {
    let mut connect = vec!["'self'".to_string()];
    if let Some(issuer) = &admin.cfg.issuer
        && let Some((_, Some(token))) = admin.verifier().endpoints_of(issuer).await
        && let Ok(u) = url::Url::parse(&token)
    {
        connect.push(u.origin().ascii_serialization());
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        connect.join(" ")
    )
}
