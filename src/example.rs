//! The example REST backend for the bundled `specs/petstore.yaml`: an in-memory pet store. The
//! first run (`rest2mcp serve` with no arguments) serves it in the same process, so the first
//! tool call needs no second terminal; `cargo run --example petstore_backend` serves it alone.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The bundled example spec.
pub const PETSTORE_SPEC: &str = include_str!("../specs/petstore.yaml");

#[derive(Clone, Default)]
struct Store(Arc<Mutex<Vec<Value>>>);

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    tag: Option<String>,
}

/// The pet store's routes, with two pets (1: Rex the dog, 2: Tom the cat). `log`: print one
/// line per request with the caller a protected gateway names (`X-User-Id`).
pub fn router(log: bool) -> Router {
    let store = Store::default();
    {
        let mut s = store.0.lock().expect("store");
        s.push(json!({"id": 1, "name": "Rex", "tag": "dog"}));
        s.push(json!({"id": 2, "name": "Tom", "tag": "cat"}));
    }
    let app = Router::new()
        .route("/pets", get(list).post(create))
        .route("/pets/{id}", get(one).delete(remove));
    let app = if log {
        app.layer(axum::middleware::from_fn(log_caller))
    } else {
        app
    };
    app.with_state(store)
}

/// Serve the pet store on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, log: bool) -> std::io::Result<()> {
    axum::serve(listener, router(log)).await
}

/// One line per request, with the caller identity a protected gateway sends (`X-User-Id`).
async fn log_caller(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let user = req
        .headers()
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    println!("{} {}  user={user}", req.method(), req.uri());
    next.run(req).await
}

async fn list(State(s): State<Store>, Query(q): Query<ListQuery>) -> Json<Vec<Value>> {
    let pets = s.0.lock().expect("store");
    let it = pets
        .iter()
        .filter(|p| q.tag.as_deref().is_none_or(|t| p["tag"] == t));
    Json(it.take(q.limit.unwrap_or(100)).cloned().collect())
}

async fn create(State(s): State<Store>, Json(mut pet): Json<Value>) -> (StatusCode, Json<Value>) {
    let mut pets = s.0.lock().expect("store");
    let id = pets
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .max()
        .unwrap_or(0)
        + 1;
    pet["id"] = id.into();
    pets.push(pet.clone());
    (StatusCode::CREATED, Json(pet))
}

async fn one(
    State(s): State<Store>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let pets = s.0.lock().expect("store");
    pets.iter()
        .find(|p| p["id"] == id)
        .cloned()
        .map(Json)
        .ok_or((
            StatusCode::NOT_FOUND,
            Json(json!({"message": format!("no pet {id}")})),
        ))
}

async fn remove(State(s): State<Store>, Path(id): Path<i64>) -> StatusCode {
    let mut pets = s.0.lock().expect("store");
    let before = pets.len();
    pets.retain(|p| p["id"] != id);
    if pets.len() < before {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
