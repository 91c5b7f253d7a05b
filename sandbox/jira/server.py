"""A local Jira (Cloud or Data Center) for the demo and the tests: the REST API on loopback.

    with JiraSandbox(flavor="cloud", records=500, seed=1) as jira:      # port 0: a free port
        requests.get(jira.url + "/rest/api/3/search/jql",
                     params={"jql": "project = CSI ORDER BY updated", "fields": "summary,status"},
                     auth=("csi-coach@example.com", "sandbox-jira-token"))

Served under /rest/api/2/ and /rest/api/latest/ (and /rest/api/3/ on Cloud, with ADF bodies):
  GET  serverInfo, myself, field, project, project/{key}, issue/{key} (fields, expand=names),
       issue/{key}/editmeta;  PUT issue/{key} (fields / update.labels)
  Cloud:  GET|POST search/jql  (jql, fields, maxResults <= 100 or 5000 for ids, nextPageToken, isLast);
          POST search/approximate-count  ({"jql"} -> {"count"});
          GET|POST search      410 Gone with Atlassian's migration message
  Server: GET|POST search      (jql, fields, startAt, maxResults <= 1000, total; a 10,000-result window)
  GET|POST issue/{key}/comment (startAt, maxResults, orderBy, expand=properties|renderedBody)
  GET|PUT|DELETE issue/{key}/comment/{id}  (PUT: notifyUsers; only the author may edit)
  GET comment/{id}/properties, GET|PUT|DELETE comment/{id}/properties/{key}
  POST comment/list  (ids, expand=properties, startAt/maxResults)
  GET mypermissions   (permissions=KEY,... required on Cloud; issueKey | projectKey): havePermission
       per key, false for those in ``denied_permissions`` (an account without, say, ADD_COMMENTS)
  GET /_sandbox/stats  request counts (no auth, no faults)
Auth: Cloud basic (e-mail + API token); Data Center Bearer PAT or basic. 401 otherwise.
With rate_limit=N, more than N requests per rate_window seconds answer 429 + Retry-After.
The searching user's time zone (time_zone, default Europe/Berlin) reads JQL dates and
formats every timestamp, as on a real site.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from csi_coach.sandbox.faults import Faults
from csi_coach.sandbox.http import BadBody, Request, Response, SandboxServer, json_response
from csi_coach.sandbox.jira import adf
from csi_coach.sandbox.jira.data import (
    BOT,
    GOAL_FIELD,
    MAX_COMMENT_CHARS,
    MAX_PROPERTY_BYTES,
    PROJECT_ID,
    PROJECT_KEY,
    PROJECT_NAME,
    Account,
    ApiError,
    Comment,
    Row,
    Site,
)
from csi_coach.sandbox.jira.input import (
    check_properties,
    check_visibility,
    decode_token,
    edit_metadata,
    field_specs,
    must_own,
    search_params,
    to_int,
    wanted_fields,
    with_rendered,
)
from csi_coach.sandbox.jira.jql import JqlError, encode_position, parse, position
from csi_coach.sandbox.jira.shape import ALL_FIELDS, NAVIGABLE, Shape

EMAIL = "csi-coach@example.com"
TOKEN = "sandbox-jira-token"
CLOUD_SEARCH_MAX = 100
CLOUD_SEARCH_MAX_IDS = 5000
SERVER_SEARCH_MAX = 1000
SEARCH_WINDOW = 10_000
COMMENT_PAGE_MAX = {"cloud": 100, "server": 5000}
REMOVED_SEARCH = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                  "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
_API = re.compile(r"^/rest/api/(2|3|latest)(/.*)?$")


class JiraSandbox(SandboxServer):
    name = "jira"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, flavor: str = "cloud", records: int = 200,
                 seed: int = 1, faults: Faults | None = None, *, rate_limit: int | None = None,
                 rate_window: int = 60, time_zone: str = "Europe/Berlin", email: str = EMAIL, token: str = TOKEN,
                 clock: Callable[[], float] = time.time, denied_permissions: Collection[str] = ()) -> None:
        if flavor not in ("cloud", "server"):
            raise ValueError(f"flavor must be 'cloud' or 'server', got {flavor!r}")
        super().__init__(host, port, faults)
        self.flavor, self.email, self.token = flavor, email, token
        self.zone = ZoneInfo(time_zone)
        self.clock = clock
        self.site = Site(records, seed, clock=clock)
        self.denied_permissions = frozenset(denied_permissions)  # project permissions the bot lacks
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self._rate_lock = threading.Lock()
        self._window_start, self._window_used = 0.0, 0
        self._built = False

    def start(self) -> JiraSandbox:
        if not self._built:
            self._built = True
            self.site.build_async()  # records build while the socket already answers
        super().start()
        return self

    # ---- stats and injected faults, Jira-shaped ---------------------------------------

    def is_listing(self, req: Request) -> bool:
        """A search page (Data Center ``search``, Cloud ``search/jql``), GET or POST."""
        match = _API.match(req.path)
        return match is not None and (match.group(2) or "").rstrip("/") in ("/search", "/search/jql")

    def route_template(self, method: str, path: str) -> str:
        """As the base counts it, but the API version stays (2 / 3 / latest) and property keys collapse."""
        match = _API.match(path)
        if match is None:
            return super().route_template(method, path)
        rest = super().route_template(method, match.group(2) or "")
        rest = re.sub(r"/properties/[^/]+$", "/properties/{propertyKey}", rest)
        return f"/rest/api/{match.group(1)}{rest}"

    def error_response(self, status: int, message: str) -> Response:
        return json_response(status, {"errorMessages": [message], "errors": {}})

    def throttle_response(self, retry_after: int) -> Response:
        resp = json_response(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}})
        resp.headers.extend(self._throttle_headers(retry_after, 0))
        return resp

    def _throttle_headers(self, retry_after: int, remaining: int) -> list[tuple[str, str]]:
        reset = datetime.fromtimestamp(math.ceil((self.clock() + retry_after) / 60) * 60, UTC)
        headers = [("Retry-After", str(retry_after)), ("X-RateLimit-Limit", str(self.rate_limit or 0)),
                   ("X-RateLimit-Remaining", str(remaining)), ("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%MZ"))]
        if self.flavor == "cloud":
            headers.append(("RateLimit-Reason", "jira-burst-based"))
        else:
            headers += [("X-RateLimit-Interval-Seconds", str(self.rate_window)),
                        ("X-RateLimit-FillRate", str(self.rate_limit or 0))]
        return headers

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the seeded records are built (start() returns before); False on timeout."""
        try:
            self.site.wait(timeout)
        except ApiError:
            return False
        return True

    @property
    def notifications(self) -> int:
        """E-mails the site would have sent (new comments; edits unless notifyUsers=false)."""
        return self.site.notifications

    # ---- per request -------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        match = _API.match(req.path)
        if match is None or (match.group(1) == "3" and self.flavor != "cloud"):
            return self._not_found(req)
        user = self._authenticate(req)
        if isinstance(user, Response):
            return user
        limited = self._rate(req)
        if isinstance(limited, Response):
            return limited
        version = 3 if match.group(1) == "3" else 2
        shape = Shape(self.flavor, version, self.url, self.zone)
        try:
            resp = self._route(req, match.group(2) or "/", shape, user)
        except ApiError as err:
            resp = json_response(err.status, err.body(), err.headers)
        except JqlError as err:
            resp = json_response(400, {"errorMessages": err.messages, "errors": {}})
        except BadBody as err:
            resp = json_response(400, {"errorMessages": [str(err)], "errors": {}})
        resp.headers.extend(limited)
        return resp

    def _not_found(self, req: Request) -> Response:
        if self.flavor == "cloud":
            return json_response(404, {"errorMessages": ["The requested resource could not be found."], "errors": {}})
        return json_response(404, {"message": f"null for uri: {self.url}{req.path}", "status-code": 404})

    def _authenticate(self, req: Request) -> Account | Response:
        header = req.header("Authorization")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, _, secret = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, secret = "", ""
            logins = (self.email,) if self.flavor == "cloud" else (self.email, BOT.name)
            if user in logins and secret == self.token:
                return BOT
        elif scheme == "bearer" and self.flavor == "server" and value.strip() == self.token:
            return BOT
        if not header:
            body = {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
                    "errors": {}}
            return json_response(401, body, [("WWW-Authenticate", 'Basic realm="protected-area"')])
        headers = [("X-Seraph-LoginReason", "AUTHENTICATED_FAILED"), ("WWW-Authenticate", 'Basic realm="protected-area"')]
        if self.flavor == "cloud":
            return Response(401, b"Client must be authenticated to access this resource.", headers,
                            content_type="text/plain;charset=UTF-8")
        body = {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
                "errors": {}}
        return json_response(401, body, headers)

    def _rate(self, req: Request) -> list[tuple[str, str]] | Response:
        """The X-RateLimit-* headers for this request, or the 429 past the budget."""
        if not self.rate_limit:
            return []
        now = self.clock()
        with self._rate_lock:
            if now - self._window_start >= self.rate_window:
                self._window_start, self._window_used = now, 0
            if self._window_used >= self.rate_limit:
                retry = max(1, math.ceil(self._window_start + self.rate_window - now))
                resp = json_response(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}})
                resp.headers.extend(self._throttle_headers(retry, 0))
                return resp
            self._window_used += 1
            remaining = self.rate_limit - self._window_used
        return [("X-RateLimit-Limit", str(self.rate_limit)), ("X-RateLimit-Remaining", str(remaining))]

    # ---- routing -----------------------------------------------------------------------

    def _route(self, req: Request, path: str, shape: Shape, user: Account) -> Response:
        m, parts = req.method, [p for p in path.split("/") if p]
        n = len(parts)
        if m in ("POST", "PUT") and req.body and "json" not in req.header("Content-Type").lower():
            return json_response(415, {"errorMessages": ["Unsupported Media Type: use application/json."],
                                       "errors": {}})
        if n == 1 and m == "GET" and parts[0] == "serverInfo":
            return json_response(200, shape.server_info(self.clock()))
        if n == 1 and m == "GET" and parts[0] == "myself":
            return json_response(200, shape.myself(user))
        if n == 1 and m == "GET" and parts[0] == "field":
            return json_response(200, shape.fields())
        if parts[:1] == ["project"] and m == "GET" and n <= 2:
            if n == 1:
                return json_response(200, [shape.project(expand_full=False)])
            if parts[1].upper() not in (PROJECT_KEY, PROJECT_ID):
                raise ApiError(404, [f"No project could be found with key '{parts[1]}'."])
            return json_response(200, shape.project())
        if n == 1 and m == "GET" and parts[0] == "mypermissions":
            return self._my_permissions(req)
        if parts[:1] == ["search"] and n <= 2:
            return self._search(req, parts[1:], shape, user)
        if parts[:1] == ["issue"] and n >= 2:
            return self._issue_routes(req, parts[1], parts[2:], shape, user)
        if parts[:1] == ["comment"] and n == 2 and parts[1] == "list" and m == "POST":
            return self._comment_list(req, shape)
        if parts[:1] == ["comment"] and n in (3, 4) and parts[2] == "properties":
            return self._properties(req, parts[1], parts[3] if n == 4 else None, shape, user)
        return self._not_found(req)

    def _issue_routes(self, req: Request, key: str, rest: list[str], shape: Shape, user: Account) -> Response:
        row = self.site.row(key)
        m = req.method
        if not rest and m == "GET":
            wanted = wanted_fields(field_specs(req.query_all.get("fields")), set(ALL_FIELDS))
            names = "names" in req.query.get("expand", "")
            return json_response(200, shape.issue(self.site, row, wanted, names=names))
        if not rest and m == "PUT":
            return self._edit_issue(req, row, shape)
        if rest == ["editmeta"] and m == "GET":
            return json_response(200, {"fields": edit_metadata(shape)})
        if rest == ["comment"] and m == "GET":
            return self._list_comments(req, row, shape)
        if rest == ["comment"] and m == "POST":
            return self._add_comment(req, row, shape, user)
        if len(rest) == 2 and rest[0] == "comment":
            found = self.site.comment(rest[1], row)
            props = "properties" in req.query.get("expand", "")
            if m == "GET":
                return json_response(200, with_rendered(shape.comment(found, props=props), req, found, shape))
            if m == "PUT":
                return self._update_comment(req, found, shape, user)
            if m == "DELETE":
                must_own(found, user, "delete")
                self.site.delete_comment(found)
                return Response(204)
        return self._not_found(req)

    # ---- search ------------------------------------------------------------------------

    def _search(self, req: Request, rest: list[str], shape: Shape, user: Account) -> Response:
        params = search_params(req)
        if rest == ["jql"]:
            if self.flavor != "cloud":
                return self._not_found(req)
            return self._search_jql(params, shape, user)
        if rest == ["approximate-count"] and req.method == "POST" and self.flavor == "cloud":
            return self._approximate_count(params, user)
        if rest:
            return self._not_found(req)
        if self.flavor == "cloud":
            return json_response(410, {"errorMessages": [REMOVED_SEARCH], "errors": {}})
        return self._search_server(params, shape, user)

    def _query(self, params: dict[str, Any], user: Account):
        text = str(params.get("jql") or "")
        catalog = self.site.catalog(user.display_name)
        if self.flavor != "cloud":  # Data Center: 400 for a key literal naming no issue
            catalog = replace(catalog, issue_exists=self.site.has_issue)
        return parse(text, catalog, zone=self.zone,
                     now=datetime.fromtimestamp(self.clock(), UTC))

    def _approximate_count(self, params: dict[str, Any], user: Account) -> Response:
        """Cloud's POST search/approximate-count: {"count"} for a bounded JQL."""
        query = self._query(params, user)
        if not query.bounded:
            raise ApiError(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction "
                                 "to your query."])
        return json_response(200, {"count": len(self.site.search(query))})

    def _my_permissions(self, req: Request) -> Response:
        """GET mypermissions: each asked key with havePermission (Cloud requires ``permissions``)."""
        wanted = [p.strip() for p in req.query.get("permissions", "").split(",") if p.strip()]
        if not wanted and self.flavor == "cloud":
            raise ApiError(400, ["The 'permissions' query parameter is required."])
        key = req.query.get("issueKey", "")
        if key:
            self.site.row(key)  # 404 for an issue that does not exist
        names = {"BROWSE_PROJECTS": "Browse Projects", "ADD_COMMENTS": "Add Comments",
                 "EDIT_OWN_COMMENTS": "Edit Own Comments", "EDIT_ALL_COMMENTS": "Edit All Comments"}
        out = {}
        for perm in wanted or list(names):
            if perm not in names:
                raise ApiError(400, [f"Permission key '{perm}' is not valid."])
            out[perm] = {"id": str(10 + list(names).index(perm)), "key": perm, "name": names[perm], "type": "PROJECT",
                         "description": names[perm], "havePermission": perm not in self.denied_permissions}
        return json_response(200, {"permissions": out})

    def _search_jql(self, params: dict[str, Any], shape: Shape, user: Account) -> Response:
        query = self._query(params, user)
        if not query.bounded:
            raise ApiError(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction "
                                 "to your query."])
        specs = field_specs(params.get("fields"))
        wanted = wanted_fields(specs, set())
        cap = CLOUD_SEARCH_MAX if wanted else CLOUD_SEARCH_MAX_IDS
        size = to_int(params.get("maxResults"), 50, "maxResults", low=1)
        size = min(size, cap)
        hits = self.site.search(query)
        fingerprint = hashlib.sha1(query.text.encode("utf-8")).hexdigest()[:16]
        token = params.get("nextPageToken")
        first = 0
        if token:  # a search-after cursor: issues updated since sort after it, nothing is skipped
            after = decode_token(str(token), fingerprint, query)
            try:
                first = bisect.bisect_right(hits, after, key=lambda hit: hit[0])
            except TypeError:  # a forged cursor whose values do not compare with this query's
                raise ApiError(400, ["The provided next page token is invalid or expired."]) from None
        page = [row for _, row in hits[first:first + size]]
        more = first + size < len(hits)
        if specs is None:  # "By default, this resource returns IDs only"
            body: dict[str, Any] = {"issues": [{"id": row.id} for row in page]}
        else:
            body = {"issues": [shape.issue(self.site, row, wanted) for row in page]}
        if "names" in str(params.get("expand") or ""):
            body["names"] = {f["id"]: f["name"] for f in shape.fields() if f["id"] in wanted}
        if more:
            last = page[-1]
            cursor = {"q": fingerprint, "after": encode_position(position(query, last, last.index))}
            body["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")
        body["isLast"] = not more
        return json_response(200, body)

    def _search_server(self, params: dict[str, Any], shape: Shape, user: Account) -> Response:
        query = self._query(params, user)
        start = to_int(params.get("startAt"), 0, "startAt", low=0)
        size = min(to_int(params.get("maxResults"), 50, "maxResults", low=0), SERVER_SEARCH_MAX)
        if start + size > SEARCH_WINDOW:
            raise ApiError(400, [f"The requested page reaches past the first {SEARCH_WINDOW} results "
                                 f"(startAt {start} + maxResults {size}). Narrow the JQL, for example with "
                                 "'updated >=', and page again from startAt 0."])
        wanted = wanted_fields(field_specs(params.get("fields")), set(NAVIGABLE))
        hits = self.site.search(query)
        page = [row for _, row in hits[start:start + size]]
        body = {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(hits),
                "issues": [shape.issue(self.site, row, wanted) for row in page]}
        if "names" in str(params.get("expand") or ""):
            body["names"] = {f["id"]: f["name"] for f in shape.fields() if f["id"] in wanted}
        return json_response(200, body)

    # ---- issues ------------------------------------------------------------------------

    def _edit_issue(self, req: Request, row: Row, shape: Shape) -> Response:
        payload = req.json()
        if not isinstance(payload, dict):
            raise ApiError(400, ["Can not deserialize the request body."])
        fields = payload.get("fields") or {}
        errors: dict[str, str] = {}
        changes: dict[str, Any] = {}  # a field's new value: text, a document, labels
        for name, value in fields.items():
            if name in ("summary",):
                if not isinstance(value, str) or not value.strip():
                    errors[name] = "You must specify a summary of the issue."
                else:
                    changes[name] = value
            elif name in ("description", GOAL_FIELD):
                bad = (shape.version >= 3 and value is not None and not adf.is_adf(value)) or \
                      (shape.version < 3 and value is not None and not isinstance(value, str))
                if bad:
                    errors[name] = ("Operation value must be an Atlassian Document (see the Atlassian Document "
                                    "Format)") if shape.version >= 3 else "Operation value must be a string"
                else:
                    changes[name] = value or ""
            elif name == "labels" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                bad_label = next((v for v in value if " " in v), None)
                if bad_label is not None:
                    errors[name] = f"The label '{bad_label}' contains spaces which is invalid."
                changes[name] = value
            else:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        label_ops = []
        for op in (payload.get("update") or {}).get("labels", []):
            for verb, label in (op.items() if isinstance(op, dict) else []):
                for one in (label if isinstance(label, list) else [label]):
                    label_ops.append((verb, str(one)))
        if errors:
            raise ApiError(400, [], errors)
        self.site.edit_issue(row, changes, label_ops)
        return Response(204)

    # ---- comments ----------------------------------------------------------------------

    def _list_comments(self, req: Request, row: Row, shape: Shape) -> Response:
        comments = self.site.issue_comments(row)
        order = req.query.get("orderBy", "")
        if order.lstrip("+-") == "created":
            comments.sort(key=lambda c: (c.created, c.id), reverse=order.startswith("-"))
        start = to_int(req.query.get("startAt"), 0, "startAt", low=0)
        cap = COMMENT_PAGE_MAX[self.flavor]
        size = min(to_int(req.query.get("maxResults"), cap, "maxResults", low=0), cap)
        props = "properties" in req.query.get("expand", "")
        page = comments[start:start + size]
        return json_response(200, {
            "comments": [with_rendered(shape.comment(c, props=props), req, c, shape) for c in page],
            "maxResults": size, "total": len(comments), "startAt": start,
        })

    def _comment_fields(self, payload: Any, shape: Shape, *, creating: bool) -> tuple[Any, Any, dict[str, Any]]:
        if not isinstance(payload, dict):
            raise ApiError(400, ["Can not deserialize the request body."])
        body = payload.get("body")
        blank = (isinstance(body, str) and not body.strip()) or (adf.is_adf(body) and not adf.to_wiki(body).strip())
        if (body is None and creating) or blank:
            raise ApiError(400, [], {"comment": "Comment body can not be empty!"})
        if body is not None:
            if shape.version >= 3 and not adf.is_adf(body):
                raise ApiError(400, [], {"comment": "Operation value must be an Atlassian Document (see the "
                                                    "Atlassian Document Format)"})
            if shape.version < 3 and not isinstance(body, str):
                raise ApiError(400, [], {"comment": "Operation value must be a string"})
            size = len(body) if isinstance(body, str) else len(adf.to_wiki(body))
            if size > MAX_COMMENT_CHARS:
                raise ApiError(400, [], {"comment": "The entered text is too long. It exceeds the allowed limit "
                                                    "of 32,767 characters."})
        visibility = payload.get("visibility")
        if visibility is not None:
            visibility = check_visibility(visibility)
        properties = check_properties(payload.get("properties"))
        return body, visibility, properties

    def _add_comment(self, req: Request, row: Row, shape: Shape, user: Account) -> Response:
        if "ADD_COMMENTS" in self.denied_permissions:  # as mypermissions says, so does the write
            raise ApiError(403, ["You do not have the permission to comment on this issue."])
        body, visibility, properties = self._comment_fields(req.json(), shape, creating=True)
        made = self.site.add_comment(row, user, body, visibility, properties)
        props = "properties" in req.query.get("expand", "")
        return json_response(201, shape.comment(made, props=props))

    def _update_comment(self, req: Request, found: Comment, shape: Shape, user: Account) -> Response:
        must_own(found, user, "edit")
        body, visibility, properties = self._comment_fields(req.json(), shape, creating=False)
        notify = req.query.get("notifyUsers", "true").lower() != "false"
        self.site.update_comment(found, user, body, visibility, properties, notify)
        props = "properties" in req.query.get("expand", "")
        return json_response(200, shape.comment(found, props=props))

    def _comment_list(self, req: Request, shape: Shape) -> Response:
        payload = req.json()
        ids = payload.get("ids") if isinstance(payload, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, int) or str(i).isdigit() for i in ids):
            raise ApiError(400, [], {"ids": "The ids must be a list of comment ids."})
        if len(ids) > 1000:
            raise ApiError(400, ["The number of comment ids must not exceed 1000."])
        found = self.site.comments_by_ids([int(i) for i in ids])
        start = to_int(req.query.get("startAt"), 0, "startAt", low=0)
        size = to_int(req.query.get("maxResults"), 1000, "maxResults", low=1)
        props = "properties" in req.query.get("expand", "")
        page = found[start:start + size]
        last = start + len(page) >= len(found)
        body: dict[str, Any] = {"self": f"{shape.api}/comment/list?startAt={start}&maxResults={size}",
                                "maxResults": size, "startAt": start, "total": len(found), "isLast": last,
                                "values": [with_rendered(shape.comment(c, props=props), req, c, shape) for c in page]}
        if not last:
            body["nextPage"] = f"{shape.api}/comment/list?startAt={start + size}&maxResults={size}"
        return json_response(200, body)

    def _properties(self, req: Request, comment_id: str, key: str | None, shape: Shape, user: Account) -> Response:
        found = self.site.comment(comment_id)
        m = req.method
        base = f"{shape.api}/comment/{found.id}/properties"
        if key is None:
            if m != "GET":
                return self._not_found(req)
            return json_response(200, {"keys": [{"key": k, "self": f"{base}/{k}"} for k in found.properties]})
        if m == "GET":
            if key not in found.properties:
                raise ApiError(404, [f"The property with key '{key}' does not exist."])
            return json_response(200, {"key": key, "value": found.properties[key]})
        if m == "PUT":
            must_own(found, user, "edit")
            if len(key) > 255:
                raise ApiError(400, ["The property key can not be longer than 255 characters."])
            if len(req.body) > MAX_PROPERTY_BYTES:
                raise ApiError(400, [f"The property value is too long (limit {MAX_PROPERTY_BYTES} bytes)."])
            value = req.json()
            created = self.site.set_property(found, key, value)
            return json_response(201 if created else 200, None)
        if m == "DELETE":
            must_own(found, user, "edit")
            self.site.delete_property(found, key)
            return Response(204)
        return self._not_found(req)


__all__ = ["JiraSandbox", "EMAIL", "TOKEN", "PROJECT_KEY", "PROJECT_NAME"]
