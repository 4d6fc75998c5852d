//! The example REST backend for `specs/petstore.yaml`: an in-memory pet store.
//!
//!     cargo run --example petstore_backend [-- 127.0.0.1:18080]
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Store(Arc<Mutex<Vec<Value>>>);

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    tag: Option<String>,
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".into());
    let store = Store::default();
    {
        let mut s = store.0.lock().unwrap();
        s.push(json!({"id": 1, "name": "Rex", "tag": "dog"}));
        s.push(json!({"id": 2, "name": "Tom", "tag": "cat"}));
    }
    let app = Router::new()
        .route("/pets", get(list).post(create))
        .route("/pets/{id}", get(one).delete(remove))
        .layer(axum::middleware::from_fn(log_caller))
        .with_state(store);
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    // The address bound (a `:0` port is chosen by the system; scripts read this line).
    println!(
        "petstore backend on http://{}",
        listener.local_addr().expect("bound")
    );
    axum::serve(listener, app).await.expect("serve");
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
    let pets = s.0.lock().unwrap();
    let it = pets
        .iter()
        .filter(|p| q.tag.as_deref().is_none_or(|t| p["tag"] == t));
    Json(it.take(q.limit.unwrap_or(100)).cloned().collect())
}

async fn create(State(s): State<Store>, Json(mut pet): Json<Value>) -> (StatusCode, Json<Value>) {
    let mut pets = s.0.lock().unwrap();
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
    let pets = s.0.lock().unwrap();
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
    let mut pets = s.0.lock().unwrap();
    let before = pets.len();
    pets.retain(|p| p["id"] != id);
    if pets.len() < before {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
