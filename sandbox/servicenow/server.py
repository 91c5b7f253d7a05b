"""A local ServiceNow instance for the demo and the tests: the Table API on loopback.

    with ServiceNowSandbox(records=500, seed=1) as snow:       # port 0: a free port
        requests.get(snow.url + "/api/now/table/sn_cim_register",
                     params={"sysparm_query": "active=true^ORDERBYnumber", "sysparm_limit": 50},
                     auth=("csi-coach", "sandbox-snow-password"))

Served (also under /api/now/v1/ and /api/now/v2/):
  GET   /api/now/table/{table}            sysparm_query, sysparm_limit (default 10000),
        sysparm_offset, sysparm_fields, sysparm_display_value (false|true|all),
        sysparm_exclude_reference_link, sysparm_no_count, sysparm_suppress_pagination_header;
        Link (first/prev/next/last) and X-Total-Count headers
  GET   /api/now/table/{table}/{sys_id}
  PATCH/PUT /api/now/table/{table}/{sys_id}  journal fields (comments, work_notes) become
        sys_journal_field rows; sys_updated_on bumps; JSON Content-Type (and Accept, when
        given) required, else 400
  POST  /api/now/table/{table}             create a record
  POST  /oauth_token.do                     password / client_credentials / refresh_token grants
  GET   /_sandbox/stats                     request counts (no auth, no faults)
Tables: sn_cim_register, sys_journal_field (read-only over REST), sys_user, cmdb_ci_service.
``javascript:gs.getUserID()`` / ``javascript:gs.getUserName()`` in a query are the caller's
sys_id / user_name, as the platform evaluates them (the "is me" filter).
Read ACLs: ``hidden=lambda table, row: ...`` removes rows from a list page after the query
and the limit, as the platform does; offsets, X-Total-Count and Link still count them.
``unreadable={"sys_journal_field"}``: a table-level read ACL the API user fails, so every
GET of that table answers 403 (an account without journal read).
Errors use the platform's body {"error": {"message", "detail"}, "status": "failure"};
401 carries WWW-Authenticate: Basic realm="Service-now"; past the hourly rate limit, 429.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from urllib.parse import urlencode

from csi_coach.sandbox.faults import Faults
from csi_coach.sandbox.http import BadBody, Request, Response, SandboxServer, json_response
from csi_coach.sandbox.servicenow.auth import Authenticator, Credentials, RateLimiter
from csi_coach.sandbox.servicenow.data import ReadOnlyTable, Store, Table

MAX_LIMIT = 10_000
_TABLE_PATH = re.compile(r"^/api/now/(?:v[12]/)?table/([A-Za-z0-9_]+)(?:/([^/]+))?$")
_CALLER = re.compile(r"javascript\s*:\s*gs\.(getUserID|getUserName)\(\s*\)")


def sn_error(status: int, message: str, detail: str | None = None,
             headers: list[tuple[str, str]] | None = None) -> Response:
    return json_response(status, {"error": {"message": message, "detail": detail}, "status": "failure"}, headers)


def _wants_json(value: str, *, allow_missing: bool) -> bool:
    if not value.strip():
        return allow_missing
    return any(part.split(";")[0].strip().lower() in ("application/json", "*/*", "application/*")
               or part.split(";")[0].strip().lower().endswith("+json")
               for part in value.split(","))


class ServiceNowSandbox(SandboxServer):
    name = "servicenow"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, records: int = 200, seed: int = 1,
                 faults: Faults | None = None, *, rate_limit: int = 100_000, token_ttl: int = 1800,
                 credentials: Credentials | None = None, clock: Callable[[], datetime] | None = None,
                 hidden: Callable[[str, dict], bool] | None = None, unreadable: Collection[str] = ()) -> None:
        super().__init__(host, port, faults)
        self.unreadable = frozenset(unreadable)  # tables the API user may not read (403)
        # hidden(table, row) -> True: a read ACL denies the row. As on the platform it is removed
        # after the query and the limit: the page comes back short, sysparm_offset, X-Total-Count
        # and the Link header still count it.
        self.hidden = hidden
        self.credentials = credentials or Credentials()
        self.store = Store(records=records, seed=seed, bot_user=self.credentials.username, clock=clock)
        self.auth = Authenticator(self.credentials, token_ttl=token_ttl)
        self.limiter = RateLimiter(rate_limit)

    # ---- base-class hooks ---------------------------------------------------------

    def is_listing(self, req: Request) -> bool:
        """A GET of a table's rows (not one by sys_id, not the journal: comment look-ups)."""
        m = _TABLE_PATH.match(req.path)
        return req.method == "GET" and m is not None and not m.group(2) and m.group(1) != "sys_journal_field"

    def route_template(self, method: str, path: str) -> str:
        m = _TABLE_PATH.match(path)
        if m:
            return "/api/now/table/{table}" + ("/{sys_id}" if m.group(2) else "")
        return super().route_template(method, path)

    def error_response(self, status: int, message: str) -> Response:
        return sn_error(status, message, "The sandbox was asked to fail this request")

    def throttle_response(self, retry_after: int) -> Response:
        return sn_error(429, "Too Many Requests", "Rate limit exceeded (injected fault)",
                        [("Retry-After", str(retry_after))])

    def handle(self, req: Request) -> Response:
        if req.path == "/oauth_token.do":
            if req.method != "POST":
                return sn_error(405, "Method not Supported", "Use POST")
            try:
                status, body = self.auth.token(req)
            except BadBody as exc:
                return json_response(400, {"error_description": str(exc), "error": "invalid_request"})
            return json_response(status, body)
        m = _TABLE_PATH.match(req.path)
        if not m:
            return sn_error(400, "Requested URI does not represent any resource", None)
        user = self.auth.principal(req)
        if user is None:
            return sn_error(401, "User Not Authenticated", "Required to provide Auth information",
                            [("WWW-Authenticate", 'Basic realm="Service-now"')])
        allowed, limit_headers = self.limiter.hit(user)
        if not allowed:
            return sn_error(429, "Rate limit exceeded",
                            f"User {user} has exceeded the rate limit of {self.limiter.per_hour} requests per hour",
                            limit_headers)
        resp = self._table(req, m.group(1), m.group(2), user)
        resp.headers.extend(limit_headers)
        return resp

    # ---- the Table API --------------------------------------------------------------

    def _table(self, req: Request, name: str, sys_id: str | None, user: str) -> Response:
        table = self.store.table(name)
        if table is None:
            return sn_error(400, f"Invalid table {name}", None)
        if req.method == "GET":
            if table.name in self.unreadable:
                return self._read_denied(table)
            return self._get_one(req, table, sys_id) if sys_id else self._list(req, table, user)
        if req.method in ("PATCH", "PUT", "POST"):
            if (req.method == "POST") == bool(sys_id):
                return sn_error(405, "Method not Supported", f"{req.method} is not supported on this resource")
            return self._write(req, table, sys_id, user)
        return sn_error(405, "Method not Supported", f"{req.method} is not supported by the sandbox")

    @staticmethod
    def _read_denied(table: Table) -> Response:
        """A table-level read ACL the caller fails: the platform answers 403, not an empty list."""
        return sn_error(403, "User Not Authorized", f"ACL Exception Read Failed due to security constraints "
                        f"on table {table.name}")

    def _render_args(self, req: Request) -> dict:
        display = req.query.get("sysparm_display_value", "false").lower()
        if display not in ("true", "false", "all"):
            display = "false"
        fields = [f.strip() for f in req.query.get("sysparm_fields", "").split(",") if f.strip()]
        return {
            "fields": fields or None,
            "display": display,
            "exclude_links": req.query.get("sysparm_exclude_reference_link", "false").lower() == "true",
            "base_url": self.url,
        }

    def _get_one(self, req: Request, table: Table, sys_id: str) -> Response:
        row = self.store.get(table, sys_id)
        if row is None:
            return sn_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        return json_response(200, {"result": self.store.serialize(table, row, **self._render_args(req))})

    def _caller(self, encoded: str, user: str) -> str:
        """The query with gs.getUserID() / gs.getUserName() replaced by the caller's sys_id / user_name."""
        if "javascript" not in encoded:
            return encoded
        users = self.store.table("sys_user")
        sys_id = next((r["sys_id"] for r in users.rows if r.get("user_name") == user), "") if users else ""
        return _CALLER.sub(lambda m: sys_id if m.group(1) == "getUserID" else user, encoded)

    def _list(self, req: Request, table: Table, user: str) -> Response:
        try:
            limit = int(req.query.get("sysparm_limit", MAX_LIMIT) or MAX_LIMIT)
            offset = int(req.query.get("sysparm_offset", 0) or 0)
        except ValueError:
            return sn_error(400, "Invalid sysparm_limit or sysparm_offset", "Both must be whole numbers")
        limit = max(1, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        rows = self.store.query(table, self._caller(req.query.get("sysparm_query", ""), user))
        page = rows[offset: offset + limit]
        args = self._render_args(req)
        shown = [row for row in page if not (self.hidden and self.hidden(table.name, row))]
        body = {"result": [self.store.serialize(table, row, **args) for row in shown]}
        headers: list[tuple[str, str]] = []
        counted = req.query.get("sysparm_no_count", "false").lower() != "true"
        if counted:
            headers.append(("X-Total-Count", str(len(rows))))
        if req.query.get("sysparm_suppress_pagination_header", "false").lower() != "true":
            headers.append(("Link", self._links(req, offset, limit, len(rows) if counted else None, len(page))))
        return json_response(200, body, headers)

    def _links(self, req: Request, offset: int, limit: int, total: int | None, returned: int) -> str:
        def at(n: int) -> str:
            params = dict(req.query)
            params["sysparm_limit"] = str(limit)
            params["sysparm_offset"] = str(n)
            return f'<{self.url}{req.path}?{urlencode(params)}>'

        links = [f'{at(0)};rel="first"']
        if offset > 0:
            links.append(f'{at(max(0, offset - limit))};rel="prev"')
        more = (offset + limit < total) if total is not None else returned == limit
        if more:
            links.append(f'{at(offset + limit)};rel="next"')
        if total is not None:
            last = max(0, (total - 1) // limit * limit) if total else 0
            links.append(f'{at(last)};rel="last"')
        return ",".join(links)

    def _write(self, req: Request, table: Table, sys_id: str | None, user: str) -> Response:
        if not _wants_json(req.header("Content-Type"), allow_missing=False):
            return sn_error(400, "Exception while reading request",
                            "Content-Type must be application/json for this request")
        if not _wants_json(req.header("Accept"), allow_missing=True):
            return sn_error(400, "Exception while reading request", "Accept must allow application/json")
        try:
            body = req.json()
        except BadBody as exc:
            return sn_error(400, "Exception while reading request", str(exc))
        if not isinstance(body, dict):
            return sn_error(400, "Exception while reading request", "The request body must be a JSON object")
        row: dict[str, str] | None  # None: no such record to update
        try:
            if sys_id is None:
                row = self.store.insert(table, body, user)
                status = 201
            else:
                row = self.store.update(table, sys_id, body, user)
                status = 200
        except ReadOnlyTable:
            return sn_error(403, "Operation Failed", "ACL Exception Update Failed due to security constraints")
        if row is None:
            return sn_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        return json_response(status, {"result": self.store.serialize(table, row, **self._render_args(req))})
