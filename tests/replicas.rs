//! Several replicas: gateways sharing a PostgreSQL store (a real server each test starts), an
//! admin write on one served by the others within 1 s, the database restarted under load; and
//! a rolling restart behind a round-robin that loses no call.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::admin::{AdminClient, pg_admin_config, things_spec};
use support::cut::Cut;
use support::pg::Postgres;
use support::{Backend, Gateway, is_error};

/// A gateway with the admin API on, its store in `pg` (checked every `poll_secs`).
fn replica(pg: &Postgres, dir: &std::path::Path, poll_secs: u64) -> Gateway {
    replica_at(&pg.url(), dir, poll_secs)
}

/// The same, its store at the database `url`.
fn replica_at(url: &str, dir: &std::path::Path, poll_secs: u64) -> Gateway {
    Gateway::start(&pg_admin_config(dir, url, Some(poll_secs)))
}

/// The tool names `gw` serves for `api` (`None`: not served).
async fn served(gw: &Gateway, api: &str) -> Option<Vec<String>> {
    served_by(&gw.mcp(api)).await
}

async fn served_by(mcp: &support::Mcp) -> Option<Vec<String>> {
    let r = mcp
        .post_raw(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
            &[("mcp-protocol-version", "2025-11-25")],
        )
        .await;
    if r.status != 200 {
        return None;
    }
    let mut names: Vec<String> = r.json()["result"]["tools"]
        .as_array()?
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    Some(names)
}

/// How long until `gw` serves `want` for `api` (`None`: no longer served); fails after 5 s.
async fn until_served(gw: &Gateway, api: &str, want: Option<&[&str]>) -> Duration {
    let mcp = gw.mcp(api);
    let started = Instant::now();
    loop {
        let now = served_by(&mcp).await;
        if now
            .as_deref()
            .map(|v| v.iter().map(String::as_str).collect::<Vec<_>>())
            == want.map(<[&str]>::to_vec)
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} still serves {now:?} for `{api}`, not {want:?}",
            gw.base
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test]
async fn a_write_on_one_replica_is_served_by_the_others_within_a_second() {
    let pg = Postgres::start();
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The periodic check is far away: what arrives within 1 s came by notification.
    let a = replica(&pg, &dir.path().join("a"), 60);
    let b = replica(&pg, &dir.path().join("b"), 60);
    let (admin_a, admin_b) = (AdminClient::new(&a), AdminClient::new(&b));
    let mut figures = Vec::new();
    let mut step = async |what: &str, r: support::Reply, on: &Gateway, want: Option<&[&str]>| {
        assert!(r.status < 300, "{what}: {} {}", r.status, r.text);
        let took = until_served(on, "things", want).await;
        eprintln!("propagation, {what}: {:.1} ms", ms(took));
        figures.push(took);
    };

    let mapping = json!({"base_url": backend.url});
    let r = admin_a
        .put_json(
            "/apis/things/spec",
            &json!({"spec": things_spec(2, "Things"), "mapping": mapping}),
        )
        .await;
    step("create on A, served by B", r, &b, Some(&["get0", "get1"])).await;
    let r = admin_a
        .put_yaml("/apis/things/spec", &things_spec(3, "Things"))
        .await;
    step(
        "new spec on A, served by B",
        r,
        &b,
        Some(&["get0", "get1", "get2"]),
    )
    .await;
    let mut m = admin_b.get("/apis/things/mapping").await.json();
    m["exclude"] = json!([{"operation_id": "get2"}]);
    let r = admin_b
        .put_json("/apis/things/mapping?force=true", &m)
        .await;
    step("mapping on B, served by A", r, &a, Some(&["get0", "get1"])).await;
    let r = admin_a
        .post_json("/apis/things/rollback", &json!({"version": 2}))
        .await;
    step(
        "rollback on A, served by B",
        r,
        &b,
        Some(&["get0", "get1", "get2"]),
    )
    .await;

    // Both see the same versions, and a call through B reaches the backend.
    let va = admin_a.get("/apis/things/versions").await.json();
    let vb = admin_b.get("/apis/things/versions").await.json();
    assert_eq!(va, vb);
    assert_eq!(va.as_array().unwrap().len(), 4);
    let r = b.mcp("things").call("get2", json!({"q": "x"})).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(backend.last().uri, "/things/2?q=x");
    let list = admin_b.get("/apis").await.json();
    assert_eq!(list[0]["version"], 4);

    // A third replica started now serves the same mapping.
    let c = replica(&pg, &dir.path().join("c"), 60);
    assert_eq!(
        served(&c, "things").await.unwrap(),
        ["get0", "get1", "get2"]
    );

    let r = admin_b
        .send("DELETE", "/apis/things", None, &[("x-rest2mcp-admin", "1")])
        .await;
    step("delete on B, gone from A", r, &a, None).await;
    until_served(&c, "things", None).await;

    let max = figures.iter().max().unwrap();
    eprintln!(
        "propagation (write acknowledged on one replica -> served by another), {} writes: max {:.1} ms, mean {:.1} ms",
        figures.len(),
        ms(*max),
        ms(figures.iter().sum::<Duration>()) / figures.len() as f64
    );
    assert!(*max < Duration::from_secs(1), "{figures:?}");
}

/// A write whose connection is lost before its COMMIT changed nothing, and says so; one whose
/// COMMIT reached the database but whose answer never came back is reported as of unknown
/// outcome, never as "nothing was changed": here it was applied, and the gateway serves it
/// once the database answers again.
// Multi-threaded: the relay must run while `Gateway::start` blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_without_an_answer_is_of_unknown_outcome() {
    let pg = Postgres::start();
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cut = Cut::start(pg.port).await;
    let url = format!("postgres://rest2mcp@127.0.0.1:{}/postgres", cut.port);
    let gw = replica_at(&url, dir.path(), 1);
    let admin = AdminClient::new(&gw);
    let body = json!({"spec": things_spec(2, "Things"), "mapping": {"base_url": backend.url}});
    let put = || admin.put_json("/apis/things/spec", &body);
    cut.arm(b"INSERT INTO rest2mcp_versions");
    let r = put().await;
    assert_eq!(cut.cuts.load(Ordering::SeqCst), 1, "no INSERT was cut");
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.text.contains("nothing was changed"), "{}", r.text);
    assert_eq!(admin.get("/apis/things/versions").await.status, 404);
    assert_eq!(served(&gw, "things").await, None);

    cut.arm(b"COMMIT");
    let r = put().await;
    assert_eq!(cut.cuts.load(Ordering::SeqCst), 2, "no COMMIT was cut");
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.text.contains("did not confirm the change") && !r.text.contains("nothing was changed"),
        "{}",
        r.text
    );
    until_served(&gw, "things", Some(&["get0", "get1"])).await;
    let versions = admin.get("/apis/things/versions").await;
    assert_eq!(versions.status, 200, "{}", versions.text);
    assert_eq!(
        versions.json().as_array().map(Vec::len),
        Some(1),
        "{}",
        versions.text
    );
}

#[tokio::test]
async fn the_periodic_check_catches_a_change_no_notification_announced() {
    let pg = Postgres::start();
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let a = replica(&pg, &dir.path().join("a"), 1);
    let b = replica(&pg, &dir.path().join("b"), 1);
    let admin = AdminClient::new(&a);
    admin.create("things", 2, "Things", &backend.url).await;
    let r = admin
        .put_yaml("/apis/things/spec", &things_spec(3, "Things"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    until_served(&b, "things", Some(&["get0", "get1", "get2"])).await;
    // Behind the replicas' backs (no NOTIFY): version 1 is current again.
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "UPDATE rest2mcp_apis SET current = 1 WHERE name = 'things'",
            &[],
        )
        .await
        .unwrap();
    let took_a = until_served(&a, "things", Some(&["get0", "get1"])).await;
    let took_b = until_served(&b, "things", Some(&["get0", "get1"])).await;
    eprintln!(
        "an unannounced change, poll_secs 1: served by A after {:.0} ms, by B after {:.0} ms more",
        ms(took_a),
        ms(took_b)
    );
    assert!(took_a < Duration::from_millis(2500));
}

/// Calls `tools/call` through every gateway in turn until `stop`: (ok, failed, last failure).
fn load(
    gws: Vec<String>,
    stop: Arc<AtomicBool>,
) -> (
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    tokio::task::JoinHandle<Option<String>>,
) {
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (ok2, failed2) = (ok.clone(), failed.clone());
    let task = tokio::spawn(async move {
        let http = support::http_client();
        let mut last = None;
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let url = format!("{}/mcp/things", gws[i % gws.len()]);
            i += 1;
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                              "params": {"name": "get0", "arguments": {"q": i.to_string()}}});
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .body(body.to_string())
                .send()
                .await;
            let good = match r {
                Ok(r) if r.status() == 200 => {
                    match r.text().await.map(|t| serde_json::from_str::<Value>(&t)) {
                        Ok(Ok(v)) if v["result"]["isError"] != json!(true) => true,
                        other => {
                            last = Some(format!("{other:?}"));
                            false
                        }
                    }
                }
                other => {
                    last = Some(format!("{other:?}"));
                    false
                }
            };
            if good { &ok2 } else { &failed2 }.fetch_add(1, Ordering::Relaxed);
        }
        last
    });
    (ok, failed, task)
}

#[tokio::test]
async fn the_database_restarting_under_load() {
    let pg = Postgres::start();
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The periodic check is far away: propagation after the restart is the notifications'.
    let a = replica(&pg, &dir.path().join("a"), 60);
    let b = replica(&pg, &dir.path().join("b"), 60);
    let (admin_a, admin_b) = (AdminClient::new(&a), AdminClient::new(&b));
    admin_a.create("things", 2, "Things", &backend.url).await;
    until_served(&b, "things", Some(&["get0", "get1"])).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, task) = load(vec![a.base.clone(), b.base.clone()], stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    pg.stop();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Writes fail clearly, on both; reads of what is served still answer.
    for admin in [&admin_a, &admin_b] {
        let r = admin
            .put_yaml("/apis/things/spec", &things_spec(3, "Things"))
            .await;
        assert_eq!(r.status, 503, "{}", r.text);
        let m = r.json()["message"].as_str().unwrap().to_string();
        assert!(m.contains("the database is unavailable"), "{m}");
        eprintln!("a write while the database is down: 503 {m}");
    }
    assert_eq!(admin_b.get("/apis").await.json()[0]["tools"], 2);
    assert_eq!(
        served(&a, "things").await.unwrap(),
        ["get0", "get1"],
        "nothing was dropped"
    );
    // Past a periodic check (and the listener's retries), still served.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = ok.load(Ordering::Relaxed);

    pg.start_again();
    eprintln!("database down for {:.1} s", down.elapsed().as_secs_f64());
    // Writes succeed again (the first one that does connects again).
    let up = Instant::now();
    loop {
        let r = admin_a
            .put_yaml("/apis/things/spec", &things_spec(3, "Things"))
            .await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(up.elapsed() < Duration::from_secs(10), "{}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "first write accepted {:.0} ms after the database was back",
        ms(up.elapsed())
    );
    until_served(&b, "things", Some(&["get0", "get1", "get2"])).await;
    // Listening resumed: a write on B reaches A by notification (the check is 60 s away).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = admin_b
        .put_yaml("/apis/things/spec", &things_spec(4, "Things"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let took = until_served(&a, "things", Some(&["get0", "get1", "get2", "get3"])).await;
    eprintln!("propagation after the database restart: {:.1} ms", ms(took));
    assert!(took < Duration::from_secs(1));

    stop.store(true, Ordering::Relaxed);
    let last = task.await.unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!(
        "calls during the restart: {ok} answered ({during} before it was back), {failed} failed"
    );
    assert_eq!(failed, 0, "last failure: {last:?}");
    assert!(during > 50, "the load ran while the database was down");
}

#[test]
fn an_unreachable_database_stops_the_start_clearly_without_its_password() {
    let err = support::refused(
        "admin: {}\nstore:\n  postgres:\n    url: postgres://me:sekrit-pw@127.0.0.1:1/db\n",
    );
    assert!(err.contains("the database is unavailable"), "{err}");
    assert!(!err.contains("sekrit-pw"), "{err}");
    let err = support::refused(
        "admin: {}\nstore:\n  postgres:\n    url: {env: REST2MCP_TEST_NO_SUCH_VAR}\n",
    );
    assert!(err.contains("REST2MCP_TEST_NO_SUCH_VAR"), "{err}");
}

/// A small TCP round-robin in front of the gateways: each client connection goes to the next
/// backend that accepts a connection (one that refuses is skipped), bytes copied both ways.
struct RoundRobin {
    url: String,
    backends: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RoundRobin {
    async fn start(backends: Vec<String>) -> RoundRobin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let backends = Arc::new(std::sync::Mutex::new(backends));
        let list = backends.clone();
        tokio::spawn(async move {
            let next = Arc::new(AtomicUsize::new(0));
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let (list, next) = (list.clone(), next.clone());
                tokio::spawn(async move {
                    let Some(mut backend) = connect_next(&list, &next).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                });
            }
        });
        RoundRobin { url, backends }
    }

    fn replace(&self, old: &str, new: &str) {
        for b in self.backends.lock().unwrap().iter_mut() {
            if b == old {
                *b = new.to_string();
            }
        }
    }
}

/// The next backend (`host:port`) that accepts a connection, as a balancer retries a refused
/// connection on another endpoint: the list is read afresh for each try (a connection to a
/// stopping gateway may take a second to be refused, and the list may change meanwhile).
async fn connect_next(
    list: &std::sync::Mutex<Vec<String>>,
    next: &AtomicUsize,
) -> Option<tokio::net::TcpStream> {
    let start = next.fetch_add(1, Ordering::Relaxed);
    for k in 0..6 {
        let b = {
            let backends = list.lock().unwrap();
            backends[(start + k) % backends.len()].clone()
        };
        if let Ok(s) = tokio::net::TcpStream::connect(b.trim_start_matches("http://")).await {
            let _ = s.set_nodelay(true);
            return Some(s);
        }
    }
    None
}

/// Clients through `url` until `stop`: `sequential` tasks on kept-alive connections and
/// `fresh` tasks opening a connection per call; every call has its own number. Returns the
/// numbers answered and the failures.
fn clients(
    url: String,
    sequential: usize,
    fresh: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(Vec<u64>, Vec<String>)>> {
    let counter = Arc::new(AtomicUsize::new(0));
    (0..sequential + fresh)
        .map(|t| {
            let (url, stop, counter) = (url.clone(), stop.clone(), counter.clone());
            tokio::spawn(async move {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let http = if t < sequential {
                    reqwest::Client::new()
                } else {
                    reqwest::Client::builder()
                        .pool_max_idle_per_host(0)
                        .build()
                        .unwrap()
                };
                let (mut done, mut failures) = (Vec::new(), Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed) as u64;
                    let body = json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                        "params": {"name": "get0", "arguments": {"q": n.to_string()}}});
                    let r = http
                        .post(format!("{url}/mcp/things"))
                        .header("content-type", "application/json")
                        .header("accept", "application/json, text/event-stream")
                        .header("mcp-protocol-version", "2025-11-25")
                        .body(body.to_string())
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => match r.text().await {
                            Ok(t)
                                if t.contains("\"result\"") && !t.contains("\"isError\":true") =>
                            {
                                done.push(n)
                            }
                            other => failures.push(format!("call {n} (task {t}): {other:?}")),
                        },
                        other => failures.push(format!("call {n} (task {t}): {other:?}")),
                    }
                }
                (done, failures)
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_a_round_robin_loses_no_call() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("things.yaml");
    std::fs::write(&spec, things_spec(1, "Things")).unwrap();
    let config = support::api_config("things", &spec, &backend.url, "");
    let a = Gateway::start(&config);
    let b = Gateway::start(&config);
    let lb = RoundRobin::start(vec![a.base.clone(), b.base.clone()]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = clients(lb.url.clone(), 4, 4, stop.clone());

    // Restart each gateway in turn under the stream of calls: SIGTERM, wait for it to exit,
    // start a new one, put it in the round-robin.
    let mut gws = vec![a, b];
    for i in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let mut old = gws.remove(0);
        old.terminate();
        let stopping = Instant::now();
        while old.alive() {
            assert!(
                stopping.elapsed() < Duration::from_secs(15),
                "still running"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let exit = old.wait_exit(Duration::from_secs(1));
        assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
        eprintln!("gateway {i} stopped in {:.0} ms", ms(stopping.elapsed()));
        let new = Gateway::start(&config);
        lb.replace(&old.base, &new.base);
        eprintln!("gateway {i} restarted");
        gws.push(new);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    for t in tasks {
        let (d, f) = t.await.unwrap();
        done.extend(d);
        failures.extend(f);
    }
    // Every answered call reached the backend, and none twice.
    let mut seen: Vec<u64> = backend
        .requests()
        .iter()
        .filter_map(|r| r.uri.strip_prefix("/things/0?q=")?.parse().ok())
        .collect();
    seen.sort();
    let calls = seen.len();
    seen.dedup();
    eprintln!(
        "rolling restart of 2 gateways: {} calls answered, {} failed",
        done.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(calls, seen.len(), "a call reached the backend twice");
    assert!(done.iter().all(|n| seen.binary_search(n).is_ok()));
    assert!(done.len() > 200, "{}", done.len());
}
