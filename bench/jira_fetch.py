"""Jira connector alone: fetch throughput, requests and peak memory (no network).

    .venv/bin/python bench/jira_fetch.py [--issues 25000]

Serves synthetic issues through ``responses`` (Cloud: nextPageToken pages of
100; Data Center: startAt pages of 1000 with the 10,000-result window, so the
scan restarts on ``updated``). Prints records/s, requests made against the
minimum (myself + pages), and the peak Python heap while streaming, which
stays flat because records are never all held.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import responses  # noqa: E402

from csi_coach.config import JIRA_FIELDS, AuthSettings, JiraSettings  # noqa: E402
from csi_coach.connectors.jira.connector import JiraConnector  # noqa: E402

BASE = "https://jira.bench.invalid"
START = datetime(2026, 1, 1, tzinfo=UTC)


def issue(i: int) -> dict:
    when = START + timedelta(seconds=20 * i)
    return {"id": str(10000 + i), "key": f"CSI-{i + 1}", "self": f"{BASE}/rest/api/2/issue/{10000 + i}",
            "fields": {"summary": f"Improvement {i}", "description": "Reduce incidents on the service. " * 5,
                       "customfield_10050": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                           {"type": "text", "text": "Customers wait less at checkout"}]}]},
                       "components": [{"name": "Point of Sale"}], "assignee": {"displayName": "Mia Krystof"},
                       "labels": ["csi"], "status": {"name": "In Progress"},
                       "updated": when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}}


def run(flavor: str, n: int) -> None:
    page_size = 100 if flavor == "cloud" else 1000
    calls = {"n": 0}

    def floor_of(jql: str) -> int:
        if 'updated >= "' not in jql:
            return 0
        literal = jql.split('updated >= "')[1].split('"')[0]
        at = datetime.strptime(literal, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        return max(0, math.ceil((at - START).total_seconds() / 20))

    def cloud(request):
        calls["n"] += 1
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        start = int(q.get("nextPageToken", "0"))
        end = min(n, start + page_size)
        body = {"issues": [issue(i) for i in range(start, end)], "isLast": end >= n}
        if end < n:
            body["nextPageToken"] = str(end)
        return 200, {}, json.dumps(body)

    def server(request):
        calls["n"] += 1
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        first = floor_of(q["jql"])
        start_at = int(q["startAt"])
        if start_at + int(q["maxResults"]) > 10_000:
            return 400, {}, json.dumps({"errorMessages": ["window"], "errors": {}})
        lo = first + start_at
        hi = min(n, lo + page_size)
        body = {"startAt": start_at, "maxResults": page_size, "total": n - first, "issues": [issue(i) for i in range(lo, hi)]}
        return 200, {}, json.dumps(body)

    os.environ.setdefault("BENCH_JIRA_TOKEN", "bench-token")
    os.environ.setdefault("BENCH_JIRA_EMAIL", "bench@example.com")
    settings = JiraSettings(
        name="bench", url=BASE, flavor=flavor, jql="project = CSI", page_size=page_size,
        auth=AuthSettings(method="basic", username_env="BENCH_JIRA_EMAIL", token_env="BENCH_JIRA_TOKEN"),
        fields=replace(JIRA_FIELDS, goal=("customfield_10050",)),
    )
    elapsed, requests_made, _ = fetch_all(settings, cloud, server, calls, trace=False)
    _, _, peak = fetch_all(settings, cloud, server, calls, trace=True)
    count = n
    pages = math.ceil(n / page_size)
    print(f"{flavor:>6}: {count} records in {elapsed:.2f} s ({count / elapsed:,.0f} records/s incl. fake server); "
          f"{requests_made} requests (myself + {requests_made - 1} search pages; minimum without window splits "
          f"1 + {pages}); peak heap while streaming {peak / 1e6:.1f} MB")


def fetch_all(settings, cloud, server, calls, *, trace: bool):
    """One full fetch; returns (seconds, requests, peak traced bytes)."""
    calls["n"] = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{BASE}/rest/api/2/myself", json={"accountId": "bench", "timeZone": "UTC"})
        served = [rsps.add_callback(responses.GET, f"{BASE}/rest/api/2/search/jql", callback=cloud),
                  rsps.add_callback(responses.GET, f"{BASE}/rest/api/2/search", callback=server)]
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        count = 0
        with JiraConnector(settings, None) as jira:
            for _ in jira.fetch(None):
                count += 1
                if count % 500 == 0:
                    rsps.calls.reset()  # responses keeps every page it served; the connector does not
                    for mock in served:
                        mock.calls.reset()
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
    return elapsed, calls["n"] + 1, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=25_000)
    args = parser.parse_args()
    for flavor in ("cloud", "server"):
        run(flavor, args.issues)


if __name__ == "__main__":
    main()
