#!/usr/bin/env python3
"""Time `tools/list` over all pages of an MCP endpoint (stdlib only): one warm-up pass, then
the median of 5 passes. The timed passes only read the bytes and find `nextCursor`; JSON is
parsed once afterwards to count tools, so the client's parsing is not timed.
Prints JSON {ms, tools, pages, bytes}."""
import json, re, statistics, sys, time, urllib.request

url = sys.argv[1]
H = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
     "MCP-Protocol-Version": "2025-11-25"}
CURSOR = re.compile(rb'"nextCursor":"([^"]*)"')

def page(cursor):
    params = {"cursor": cursor} if cursor else {}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, body, H), timeout=30) as r:
        return r.read()

def all_pages():
    raws, cursor = [], None
    while True:
        raw = page(cursor)
        raws.append(raw)
        m = CURSOR.search(raw[:300])
        if not m:
            return raws
        cursor = m.group(1).decode()

all_pages()
times = []
for _ in range(5):
    t = time.perf_counter(); raws = all_pages(); times.append((time.perf_counter() - t) * 1000)
tools = sum(len(json.loads(r)["result"]["tools"]) for r in raws)
print(json.dumps({"ms": statistics.median(times), "tools": tools, "pages": len(raws),
                  "bytes": sum(map(len, raws))}))
