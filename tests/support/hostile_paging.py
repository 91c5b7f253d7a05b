"""Small real HTTP servers on 127.0.0.1 that page for ever (issue 13, finding 2). No tests here.

Each server answers the read endpoints a scan uses, so the connectors and the real
``csi-coach scan`` can be pointed at it:

- ``servicenow_same_page``: every record page is the same two records with
  ``Link: rel="next"`` (the instance seen still paging after 605 s and 13,650 requests);
  the journal answers like an instance with no bot entries (or, with
  ``journal_loops``, the same entries with rel="next" for ever);
- ``servicenow_hidden_pages``: every record page empty with rel="next" (all hidden, it seems);
- ``servicenow_new_rows``: every page holds records never sent before (``sys_id`` from a
  counter, one second later each) with rel="next", and optionally ``X-Total-Count``;
- ``jira_cloud_tokens``: ``nextPageToken`` alternating "A"/"B", with new issues each page
  or the same ones;
- ``jira_dc_creeping``: ``total: 10**9`` and one issue per page (the same one, or a new one
  each page), so ``startAt`` creeps by 1; ``/issue/{key}/comment`` the same comments with
  ``total: 10**9``.

``delay`` slows every answer (for the stop-between-pages tests); ``requests`` counts them,
``count(path_end)`` the GETs of one listing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, str], Any]  # status, headers, JSON body
Route = Callable[[str, str, dict[str, str], Any], Answer]  # method, path, query, JSON body sent


class HostileServer:
    """A threaded HTTP server on 127.0.0.1 answering with ``route``. Use as a context manager."""

    def __init__(self, route: Route, *, delay: float = 0.0) -> None:
        self.route = route
        self.delay = delay
        self.requests = 0
        self.asked: list[tuple[str, str]] = []  # (method, path) of every request
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                sent = json.loads(raw) if raw.strip() else None
                with owner._lock:
                    owner.requests += 1
                    owner.asked.append((self.command, parts.path))
                if owner.delay:
                    time.sleep(owner.delay)
                status, headers, body = owner.route(self.command, parts.path, query, sent)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _answer

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def count(self, path_end: str, method: str = "GET") -> int:
        """Requests of ``method`` whose path ends with ``path_end`` (pages of a listing)."""
        with self._lock:
            return sum(1 for m, p in self.asked if m == method and p.endswith(path_end))

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------- ServiceNow

NEXT = {"Link": '<http://x/api/now/table/t?sysparm_offset=0>;rel="first",'
                '<http://x/api/now/table/t?sysparm_offset=500>;rel="next"'}
LAST = {"Link": '<http://x/api/now/table/t?sysparm_offset=0>;rel="first"'}


def sn_record(n: int) -> dict[str, Any]:
    """A sn_cim_register row as sysparm_display_value=all returns it, updated n seconds past 10:00."""
    def pair(v: str) -> dict[str, str]:
        return {"display_value": v, "value": v}

    stamp = f"2026-03-01 {10 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}"
    return {"sys_id": pair(f"{n:032x}"), "number": pair(f"CIM{n:07d}"), "short_description": pair(f"Record {n}"),
            "description": pair("Reduce the time to restore the payroll service."),
            "benefit": pair("Cut payroll outage minutes by 30% by June, saving 200 staff hours a month."),
            "business_service": pair("Payroll"), "assigned_to": pair("Beth Anglin"), "state": pair("In Progress"),
            "sys_updated_on": pair(stamp)}


def _sn_write(method: str, path: str) -> Answer | None:
    if method in ("PATCH", "PUT"):
        return 200, {}, {"result": {"sys_id": path.rsplit("/", 1)[-1]}}
    return None


def servicenow_same_page(*, journal_loops: bool = False) -> Route:
    """Every record page: records 1 and 2 again, with rel="next"."""
    records = [sn_record(1), sn_record(2)]
    entries = [{"sys_id": "e" * 32, "element_id": "1" * 32, "value": "csi-coach:0123456789abcdef",
                "sys_created_on": "2026-03-01 10:00:00", "sys_created_by": "csi-coach"}]

    def route(method: str, path: str, query: dict[str, str], sent: Any) -> Answer:
        write = _sn_write(method, path)
        if write is not None:
            return write
        if path.endswith("/sys_journal_field"):
            return (200, NEXT, {"result": entries}) if journal_loops else (200, LAST, {"result": []})
        return 200, NEXT, {"result": records}

    return route


def servicenow_hidden_pages() -> Route:
    """Every record page empty (all rows hidden by read ACLs, as far as the bot can tell) with
    rel="next": offsets step on and no record ever reaches the pipeline."""

    def route(method: str, path: str, query: dict[str, str], sent: Any) -> Answer:
        if path.endswith("/sys_journal_field"):
            return 200, LAST, {"result": []}
        return 200, NEXT, {"result": []}

    return route


def servicenow_new_rows(*, total: int | None = None) -> Route:
    """Every record page: two records never sent before, with rel="next" (and X-Total-Count)."""
    sent_so_far = [0]
    lock = threading.Lock()

    def route(method: str, path: str, query: dict[str, str], sent: Any) -> Answer:
        write = _sn_write(method, path)
        if write is not None:
            return write
        if path.endswith("/sys_journal_field"):
            return 200, LAST, {"result": []}
        with lock:
            first = sent_so_far[0] + 1
            sent_so_far[0] += 2
        headers = dict(NEXT)
        if total is not None:
            headers["X-Total-Count"] = str(total)
        return 200, headers, {"result": [sn_record(first), sn_record(first + 1)]}

    return route


# --------------------------------------------------------------------------- Jira

MYSELF = {"accountId": "bot-1", "key": "csi-coach", "name": "csi-coach", "timeZone": "UTC"}


def jira_issue(n: int) -> dict[str, Any]:
    stamp = f"2026-03-01T{10 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000+0000"
    return {"id": str(10000 + n), "key": f"CSI-{n}",
            "fields": {"summary": f"Issue {n}", "description": "Reduce outage minutes.", "updated": stamp,
                       "status": {"name": "In Progress"}, "labels": [], "components": [],
                       "assignee": {"displayName": "Beth Anglin"},
                       "customfield_10050": "Cut payroll outage minutes by 30% by June."}}


def jira_cloud_tokens(*, new_issues: bool) -> Route:
    """search/jql: nextPageToken "A", "B", "A", ... and never isLast; new issues each page or the same."""
    pages = [0]
    lock = threading.Lock()

    def route(method: str, path: str, query: dict[str, str], sent: Any) -> Answer:
        if path.endswith("/myself"):
            return 200, {}, MYSELF
        if path.endswith("/search/jql"):
            with lock:
                pages[0] += 1
                n = pages[0]
            token = "A" if n % 2 else "B"
            first = 2 * n - 1 if new_issues else 1
            return 200, {}, {"issues": [jira_issue(first), jira_issue(first + 1)], "nextPageToken": token,
                             "isLast": False}
        return 404, {}, {"errorMessages": [f"no {path}"]}

    return route


def jira_dc_creeping(*, new_issues: bool) -> Route:
    """search: total 10**9, one issue per page (the same, or the one at startAt); comments: the
    same two comments with total 10**9 whatever startAt is."""
    comments = [{"id": "501", "body": "hello", "author": {"key": "someone"}, "created": "2026-03-01T10:00:00.000+0000"},
                {"id": "502", "body": "again", "author": {"key": "someone"}, "created": "2026-03-01T10:01:00.000+0000"}]

    def route(method: str, path: str, query: dict[str, str], sent: Any) -> Answer:
        if path.endswith("/myself"):
            return 200, {}, MYSELF
        if path.endswith("/comment"):
            return 200, {}, {"comments": comments, "startAt": int(query.get("startAt", 0)), "maxResults": 100,
                             "total": 10**9}
        if path.endswith("/search"):
            start = int(query.get("startAt", 0))
            issue = jira_issue(start + 1 if new_issues else 1)
            return 200, {}, {"issues": [issue], "startAt": start, "maxResults": 1, "total": 10**9}
        return 404, {}, {"errorMessages": [f"no {path}"]}

    return route
