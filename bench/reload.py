#!/usr/bin/env python3
"""Live-mapping figures (issue 16), against the release binary and the harness's nginx backend:

1. one API changed among 1,000 loaded: from the write of its spec file (file watch) and
   from an admin API write, how long until the change is served;
2. 100 reloads of an API, alternating good and bad, through the admin API, while wrk drives
   `tools/call` at c32 against that same API: the number of failed calls (must be 0).

  python3 bench/reload.py BIN [--apis 1000] [--reloads 100]

Prints one line per figure; exits non-zero if a call failed. Loopback only.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness"
TOKEN = "bench-admin-token"
BACKEND = "http://127.0.0.1:18080"


def spec(ops: int, title: str) -> str:
    s = f"openapi: 3.0.3\ninfo: {{title: {title}, version: '1'}}\npaths:\n"
    s += ("  /pets/{petId}:\n    get:\n      operationId: getPet\n      parameters:\n"
          "        - {name: petId, in: path, required: true, schema: {type: integer}}\n"
          "      responses: {'200': {description: ok}}\n")
    for i in range(ops):
        s += (f"  /pets/extra{i}:\n    get:\n      operationId: extra{i}\n"
              f"      summary: extra {i} of {title}\n      responses: {{'200': {{description: ok}}}}\n")
    return s


def post(url: str, body: dict, headers: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def tools(base: str, name: str) -> list[str]:
    try:
        r = post(f"{base}/mcp/{name}", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    except Exception:
        return []
    return [t["name"] for t in r["result"]["tools"]]


def admin(base: str, method: str, path: str, body: bytes, ctype: str) -> tuple[int, dict]:
    req = urllib.request.Request(f"{base}/admin/api{path}", data=body, method=method, headers={
        "authorization": f"Bearer {TOKEN}", "content-type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def start(binary: str, cfg: Path) -> tuple[subprocess.Popen, str, float]:
    t0 = time.time()
    env = dict(os.environ, REST2MCP_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
    p = subprocess.Popen([binary, "serve", "--config", str(cfg)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=env)
    for line in p.stdout:
        if line.startswith("ready on "):
            return p, line.split()[2], time.time() - t0
    raise SystemExit("the gateway did not start")


def one_among_many(binary: str, n: int, work: Path) -> None:
    specs = work / "specs"
    specs.mkdir()
    lines = ["listen: 127.0.0.1:0", f"store: {{data_dir: {work / 'data'}}}", "admin: {}", "apis:"]
    for i in range(n):
        (specs / f"api{i}.yaml").write_text(spec(4, f"API {i}"))
        lines.append(f"  - {{name: api{i}, spec: specs/api{i}.yaml, base_url: '{BACKEND}'}}")
    cfg = work / "many.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    p, base, ready = start(binary, cfg)
    try:
        print(f"{n} APIs ({n * 5} tools): ready after {ready:.2f} s")
        target = f"api{n // 2}"
        # File watch: write the spec with one more operation, time until it is listed.
        times = []
        for k in range(5):
            want = f"extra{4 + k}"
            t0 = time.time()
            (specs / f"{target}.yaml").write_text(spec(5 + k, f"API {n // 2}"))
            while want not in tools(base, target):
                if time.time() - t0 > 30:
                    raise SystemExit("the change was never served")
                time.sleep(0.002)
            times.append((time.time() - t0) * 1000)
        print(f"one API changed among {n}, file watch: served after median {statistics.median(times):.0f} ms "
              f"(runs {', '.join(f'{t:.0f}' for t in times)}; includes the 100 ms debounce)")
        # Admin API write of a stored API among them: served when the write is acknowledged.
        status, _ = admin(base, "PUT", "/apis/stored/spec",
                          json.dumps({"spec": spec(4, "Stored"), "mapping": {"base_url": BACKEND}}).encode(),
                          "application/json")
        assert status == 201, status
        times = []
        for k in range(5):
            want = f"extra{4 + k}"
            t0 = time.time()
            status, _ = admin(base, "PUT", "/apis/stored/spec?force=true", spec(5 + k, "Stored").encode(),
                              "application/yaml")
            assert status == 200, status
            while want not in tools(base, "stored"):
                time.sleep(0.001)
            times.append((time.time() - t0) * 1000)
        print(f"one API changed among {n + 1}, admin API write: served after median {statistics.median(times):.0f} ms "
              f"(runs {', '.join(f'{t:.0f}' for t in times)})")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)


def reloads_under_load(binary: str, count: int, work: Path) -> int:
    cfg = work / "load.yaml"
    cfg.write_text(f"listen: 127.0.0.1:0\nstore: {{data_dir: {work / 'data2'}}}\nadmin: {{}}\n")
    p, base, _ = start(binary, cfg)
    try:
        status, _ = admin(base, "PUT", "/apis/petstore/spec",
                          json.dumps({"spec": spec(2, "Load"), "mapping": {"base_url": BACKEND}}).encode(),
                          "application/json")
        assert status == 201, status
        out = work / "load.json"
        duration = max(10, count // 6)
        load = subprocess.Popen([sys.executable, str(HARNESS / "mcp_load.py"), "--url", f"{base}/mcp/petstore",
                                 "-t", "1", "-c", "32", "--duration", str(duration), "--runs", "1",
                                 "--warmup", "0", "--label", "reloads", "--json-out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2.5)  # past the harness's handshake and checks, into the wrk run
        good = bad = 0
        t0 = time.time()
        for i in range(count):
            if i % 2 == 0:
                body = json.dumps({"spec": spec(2 + (i // 2) % 3, "Load"),
                                   "mapping": {"base_url": BACKEND,
                                               "tools": {"getPet": {"description": f"reload {i}"}}}})
                status, r = admin(base, "PUT", "/apis/petstore/spec?force=true", body.encode(), "application/json")
                good += status == 200
            else:
                status, r = admin(base, "PUT", "/apis/petstore/spec", b"openapi: 3.0.3\ninfo: [broken\n",
                                  "application/yaml")
                bad += status == 422
        took = time.time() - t0
        text = load.communicate(timeout=duration + 60)[0]
        summary = json.loads(out.read_text())
        failed = summary["non2xx_total"] + summary["bad_body_total"] + summary["socket_errors_total"]
        print(f"{count} reloads ({good} applied, {bad} refused) in {took:.1f} s during a c32 tools/call run "
              f"of {summary['rps_median']:.0f} req/s: {failed} failed calls")
        if good + bad != count:
            print(text)
        return failed
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--apis", type=int, default=1000)
    ap.add_argument("--reloads", type=int, default=100)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        one_among_many(a.binary, a.apis, work)
        failed = reloads_under_load(a.binary, a.reloads, work)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
