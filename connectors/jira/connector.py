"""Jira connector (Cloud and Data Center), on the ``jira`` library 3.10.

How the registry opens it (``connectors/__init__.py``)::

    from csi_coach.connectors.jira.connector import JiraConnector
    connector = JiraConnector.open(settings, limiters=limiters)          # builds the session
    # or, with a session that already has the project's ResilientAdapter mounted:
    connector = JiraConnector(settings, session)

The library builds its own ``ResilientSession``; we switch its retries off
(``max_retries=0``: it caps a Retry-After at 60 s and may retry early) and mount
the adapters of the project's session on it, so ``connectors.transport``
alone waits out 429s (Retry-After in full, X-RateLimit-Reset) and retries
5xx/connection errors. Secrets are read from the environment here, at connect
time, and live only in the session's auth object.

Requests per scan: ``serverInfo`` once when ``flavor = "auto"``, ``myself``
once (bot account and time zone), one request per search page, one per write;
comments are listed only when the coach asks for them (or the pipeline settles
an ambiguous write); ``marked_keys`` is one more search (one request per page of
issues whose comments carry the marker). ``get(key)`` (explain --ticket) is one request,
and so is ``get_in_scope(key)`` (a search for that key within the admin's JQL). Search pages are keyset-paged on both flavors (see
``jira_paging``): each restarts at the minute of the last issue read, so the
bot's own comments, which move issues to the end of ``ORDER BY updated``,
cannot make it skip any; an issue changed after it was read comes round again.

Searches go through the library's ``_get_json`` rather than
``enhanced_search_issues``: that method first GETs ``/field`` to translate
names (one more request per scan) and buffers pages; we need one page at a time.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from jira import JIRA, JIRAError

from csi_coach.config import JiraSettings
from csi_coach.connectors.jira.comments import (
    account_of,
    authored_by,
    comment_payload,
    has_properties,
    to_bot_comment,
)
from csi_coach.connectors.jira.errors import Action, from_exception, from_response
from csi_coach.connectors.jira.jql import MARKED_CLAUSE, build_jql, jql_time, scope_jql, user_zone
from csi_coach.connectors.jira.mapping import issue_to_record, parse_jira_time, requested_fields
from csi_coach.connectors.jira.paging import Keyset
from csi_coach.errors import AmbiguousWrite, BadRequest, CoachError, ConfigError, NotFound, PermissionDenied, TransientError
from csi_coach.model import BotComment, BrokenRecord, CommentRef, Record

log = logging.getLogger(__name__)

T = TypeVar("T")

COMMENT_PAGE = 100  # Jira's default and maximum for comment listing
COMMENT_LIST_MAX_IDS = 1000  # POST /comment/list accepts at most 1000 ids


class JiraConnector:
    """Reads improvement issues by JQL and writes coaching comments (wiki markup, API v2)."""

    target = "jira"
    can_edit = True
    # Data Center (and Elasticsearch-backed searches) refuse startAt past this window;
    # beyond it the query restarts from the last seen ``updated``.
    SEARCH_WINDOW = 10_000

    def __init__(self, settings: JiraSettings, session: requests.Session | None = None) -> None:
        if not settings.jql.strip():
            raise ConfigError(
                "a JQL restriction is required so the bot never coaches the whole site",
                key=f"sources.{settings.name}.jql",
                expected="e.g. jql = 'project = CSI AND issuetype = Improvement'",
            )
        if settings.flavor not in ("cloud", "server", "auto"):
            raise ConfigError("unknown Jira flavor", key=f"sources.{settings.name}.flavor",
                              got=settings.flavor, has_got=True, expected='"cloud", "server" or "auto"')
        self.settings = settings
        self.name = settings.name
        self.base_url = settings.url.rstrip("/")
        self._lock = threading.Lock()
        self._flavor: str | None = None if settings.flavor == "auto" else settings.flavor
        self._me: dict[str, Any] | None = None
        self._notify_param = True  # drops to False if the site refuses notifyUsers=false
        self._writes = 0  # comment writes started, for the search's startAt back-off
        self.client = self._make_client(settings, session)

    @classmethod
    def open(cls, settings: JiraSettings, *, limiters: Any, policy: Any = None) -> JiraConnector:
        """Build the project's resilient session for ``settings.url`` and connect."""
        from csi_coach.connectors.transport import RetryPolicy, build_session

        session = build_session(
            settings.url, policy=policy or RetryPolicy(), limiters=limiters, verify=settings.verify_tls,
            timeout=settings.timeout_seconds,
        )
        return cls(settings, session)

    # -- setup ---------------------------------------------------------------------------

    def _make_client(self, settings: JiraSettings, session: requests.Session | None) -> JIRA:
        auth = settings.auth
        secret_key = f"sources.{settings.name}.auth"
        kwargs: dict[str, Any] = {}
        if auth.method == "basic":
            user = auth.secret("username", key=f"{secret_key}.username_env").reveal()
            token = auth.secret("token", key=f"{secret_key}.token_env").reveal()
            kwargs["basic_auth"] = (user, token)
        elif auth.method == "pat":
            kwargs["token_auth"] = auth.secret("token", key=f"{secret_key}.token_env").reveal()
        else:
            raise ConfigError("unknown Jira auth method", key=f"{secret_key}.method", got=auth.method,
                              has_got=True, expected='"basic" (Cloud: e-mail + API token) or "pat" (Data Center)')
        client = JIRA(
            server=self.base_url,
            options={"verify": settings.verify_tls, "check_update": False},
            get_server_info=False,  # the flavor decides; "auto" asks once, lazily
            max_retries=0,  # ours is the only retry layer (see module docstring)
            timeout=settings.timeout_seconds,
            **kwargs,
        )
        if session is not None:
            lib = client._session
            for prefix, adapter in session.adapters.items():
                lib.mount(prefix, adapter)
            if "User-Agent" in session.headers:
                lib.headers["User-Agent"] = session.headers["User-Agent"]
            lib.trust_env = session.trust_env
            lib.proxies.update(session.proxies)
        return client

    @property
    def auth_hint(self) -> str:
        a = self.settings.auth
        if a.method == "basic":
            return f"the e-mail in ${a.username_env} and the API token in ${a.token_env}"
        return f"the personal access token in ${a.token_env}"

    # -- one request, errors converted -------------------------------------------------

    def _call(self, action: Action, do: Callable[[], T]) -> T:
        try:
            return do()
        except JIRAError as exc:
            if exc.response is not None and exc.response.status_code is not None:
                raise from_response(exc.response, action, source=self.name, auth_hint=self.auth_hint) from None
            raise TransientError(f"Jira source {self.name!r} could not {action.text}: {exc.text or 'no response'}",
                                 url=exc.url) from None
        except AmbiguousWrite as exc:  # from the transport: a POST/PATCH sent, no answer
            head = f"Jira source {self.name!r} could not {action.text}"
            kind = _failure_kind(exc.message)
            if action.write:
                raise AmbiguousWrite(f"{head}; no answer after the request was sent ({kind}), so it may "
                                     "have been saved", status=exc.status, url=exc.url) from None
            # a read sent as POST (comment/list): nothing to settle, just try again later
            raise TransientError(f"{head}; connection failed ({kind})", url=exc.url) from None
        except CoachError:
            raise
        except (requests.RequestException, OSError) as exc:
            raise from_exception(exc, action, source=self.name, url=self.base_url) from None

    def _get(self, path: str, params: Mapping[str, Any], action: Action) -> Any:
        return self._call(action, lambda: self.client._get_json(path, params=dict(params)))

    def _send(self, method: str, path: str, payload: Any, action: Action,
              params: Mapping[str, Any] | None = None) -> Any:
        url = self.client._get_url(path)

        def do() -> Any:
            resp = self.client._session.request(method, url, params=dict(params or {}), data=json.dumps(payload))
            return resp.json() if resp.content else {}

        return self._call(action, do)

    # -- flavor and account --------------------------------------------------------------

    @property
    def flavor(self) -> str:
        """"cloud" or "server"; with flavor = "auto" asks serverInfo once."""
        if self._flavor is None:
            info = self._get("serverInfo", {}, Action("read serverInfo", "Browse projects"))
            kind = str(info.get("deploymentType", "")) if isinstance(info, dict) else ""
            self._flavor = "cloud" if kind.lower() == "cloud" else "server"
            log.info("jira source %s: serverInfo deploymentType %r -> flavor %s", self.name, kind, self._flavor)
        return self._flavor

    def myself(self) -> dict[str, Any]:
        """The bot's account (``GET /myself``), fetched once per connector."""
        with self._lock:
            if self._me is None:
                me = self._get("myself", {}, Action("read the bot's own account (myself)", "Browse projects"))
                self._me = me if isinstance(me, dict) else {}
            return self._me

    # -- records -------------------------------------------------------------------------

    def fetch(self, since: datetime | None) -> Iterator[Record | BrokenRecord]:
        """Issues matching the admin's JQL updated at or after ``since``, oldest first."""
        zone = user_zone(self.myself().get("timeZone"))
        watermark = jql_time(since, zone) if since is not None else None
        fields = ",".join(requested_fields(self.settings.fields))
        if self.flavor == "cloud":
            pages = self._cloud_pages(watermark, fields, zone)
        else:
            pages = self._server_pages(watermark, fields, zone)
        count = 0
        for issue in pages:
            count += 1
            yield issue_to_record(issue, source=self.name, base_url=self.base_url, fields=self.settings.fields)
        log.info("jira source %s: fetched %d issue(s)", self.name, count)

    def get(self, key: str) -> Record | BrokenRecord | None:
        """One issue by key (``CSI-3``) or numeric id, or None when Jira has none: one request.

        ``GET /issue/{key}?fields=<the mapped fields>``, mapped as ``fetch`` maps
        search results. The admin's JQL is not applied (``explain --ticket`` on
        any issue the bot's account can see). Jira answers 404 both for a
        missing issue and for one the account may not browse; both are None.
        A moved issue's old key is followed by Jira to the issue's current key.
        """
        key = key.strip()
        if not key or any(ch in key for ch in "/?#%\\") or any(ord(ch) < 33 for ch in key):
            return None  # no issue key or id contains these; they would address another URL
        if not any(ch.isalnum() for ch in key):
            return None  # "." or "..": a path segment, not an issue
        fields = ",".join(requested_fields(self.settings.fields))
        action = Action(f"read issue {key}", "Browse projects")
        try:
            issue = self._get(f"issue/{quote(key, safe='')}", {"fields": fields}, action)
        except NotFound:
            return None
        if not isinstance(issue, Mapping):
            raise TransientError(f"Jira source {self.name!r} answered issue {key} with a body that is not an issue")
        return issue_to_record(issue, source=self.name, base_url=self.base_url, fields=self.settings.fields)

    def get_in_scope(self, key: str) -> Record | BrokenRecord | None:
        """The issue ``key`` only if the admin's JQL still selects it, as ``fetch`` would yield it;
        None when it is gone, hidden from the bot or out of scope. One search request.

        JQL ``key = "<key>" AND (<admin JQL without ORDER BY>)``, fetch's fields,
        maxResults 1, on the flavor's search endpoint (Cloud ``search/jql``, Data
        Center ``search``). Jira resolves a moved issue's old key in JQL and answers
        the issue under its new key, which the record keeps. For an unknown key Data
        Center answers 400 "An issue with key 'X' does not exist for field 'key'."
        (Cloud's search/jql an empty page): both are None; any other 400 (the
        admin's JQL) is raised as ``fetch`` raises it.
        """
        key = key.strip()
        if not key or any(ch in key for ch in '"\\') or any(ord(ch) < 32 for ch in key):
            return None  # no issue key contains these; they would end the JQL string
        fields = ",".join(requested_fields(self.settings.fields))
        jql = scope_jql(self.settings.jql, key)
        if self.flavor == "cloud":
            endpoint, params = "search/jql", {"jql": jql, "fields": fields, "maxResults": 1}
        else:
            endpoint, params = "search", {"jql": jql, "fields": fields, "startAt": 0, "maxResults": 1}
        action = Action(f"search issue {key} within the source's JQL (GET /rest/api/2/{endpoint})", "Browse projects")
        try:
            data = self._get(endpoint, params, action)
        except BadRequest as exc:
            if _names_unknown_key(exc.message, key):
                return None
            raise
        issues = data.get("issues") if isinstance(data, Mapping) else None
        if not issues:
            return None
        if not isinstance(issues[0], Mapping):
            raise TransientError(f"Jira source {self.name!r} answered the search for {key} with a body that is "
                                 "not an issue")
        return issue_to_record(issues[0], source=self.name, base_url=self.base_url, fields=self.settings.fields)

    def _cloud_pages(self, watermark: str | None, fields: str, zone: Any,
                     extra: str = "") -> Iterator[dict[str, Any]]:
        """GET /rest/api/2/search/jql, keyset-paged like Data Center, nextPageToken within a minute.

        Atlassian does not document what nextPageToken points at (an offset or
        the last issue returned) when issues change between pages, only that it
        expires after 7 days and that this search is eventually consistent. So
        each next page restarts at the last minute read, as on Data Center (see
        ``jira_paging``): still one request per page. The token is followed only
        when a whole page lies within one minute, where a restart would read the
        same page again. The last page may omit nextPageToken rather than send
        null (JRACLOUD-92184), so either signal ends the loop.
        """
        action = Action("search issues (GET /rest/api/2/search/jql)", "Browse projects")
        keys = Keyset(watermark, zone_known=zone is not None)
        token: str | None = None
        page = 0
        while True:
            jql = build_jql(self.settings.jql, keys.floor, extra)
            params: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": self.settings.page_size}
            if token:
                params["nextPageToken"] = token
            data = self._get("search/jql", params, action)
            issues = data.get("issues") or []
            page += 1
            log.debug("jira source %s: cloud page %d, %d issue(s), jql %s", self.name, page, len(issues), jql)
            yield from self._fresh(issues, keys, zone)
            next_token = data.get("nextPageToken")
            if data.get("isLast") is True or not next_token or not issues:
                return
            restart = keys.restart_at()
            if restart is not None:
                keys.restart(restart)
                token = None
                continue
            if next_token == token:
                raise TransientError(f"Jira source {self.name!r}: search returned the same nextPageToken twice")
            token = next_token

    def _server_pages(self, watermark: str | None, fields: str, zone: Any,
                      extra: str = "") -> Iterator[dict[str, Any]]:
        """GET /rest/api/2/search, keyset-paged (see ``jira_paging``): one request per page.

        Each next page restarts at ``updated >= "<minute of the last issue>"``
        from startAt 0, so issues updated meanwhile (our comments) cannot push
        unread ones under the offset. When a whole page lies within one minute
        (or the user's zone is unknown, so literals are widened by hours) we step
        on by ``startAt`` within the query instead, backing off by the writes
        this connector started meanwhile (each moves at most one issue already
        read out of the prefix), and skip what comes round twice. The 10,000
        window (``SEARCH_WINDOW``) is then kept by restarting at the last minute.
        """
        action = Action("search issues (GET /rest/api/2/search)", "Browse projects")
        size = self.settings.page_size
        keys = Keyset(watermark, zone_known=zone is not None)
        start = 0
        read = 0  # issues received from the current query
        writes_at_query = self._write_count()
        while True:
            jql = build_jql(self.settings.jql, keys.floor, extra)
            params = {"jql": jql, "fields": fields, "startAt": start, "maxResults": size}
            data = self._get("search", params, action)
            issues = data.get("issues") or []
            log.debug("jira source %s: server page at %d, %d issue(s), jql %s", self.name, start, len(issues), jql)
            yield from self._fresh(issues, keys, zone)
            read += len(issues)
            total = data.get("total")
            if not issues or (isinstance(total, int) and start + len(issues) >= total):
                return
            restart = keys.restart_at()
            if restart is None:
                start = max(0, read - (self._write_count() - writes_at_query))
                if start + size <= self.SEARCH_WINDOW:
                    continue
                restart = keys.last_minute
                if restart is None or (keys.floor is not None and restart <= keys.floor):
                    raise TransientError(
                        f"Jira source {self.name!r}: more than {self.SEARCH_WINDOW - size} issues share the "
                        f"updated minute {keys.floor!r}; narrow the JQL in [sources.{self.name}]"
                    )
                log.info("jira source %s: %d-result window reached; restarting at updated >= %s",
                         self.name, self.SEARCH_WINDOW, restart)
            keys.restart(restart)
            start, read = 0, 0
            writes_at_query = self._write_count()

    def _fresh(self, issues: list[dict[str, Any]], keys: Keyset, zone: Any) -> Iterator[dict[str, Any]]:
        """The page's issues not yet read unchanged in this fetch."""
        keys.new_page()
        for issue in issues:
            if keys.fresh(str(issue.get("key")), self._updated_value(issue), self._issue_minute(issue, zone)):
                yield issue

    def _updated_value(self, issue: Mapping[str, Any]) -> Any:
        values = issue.get("fields")
        return values.get(self.settings.fields.updated) if isinstance(values, Mapping) else None

    def _write_count(self) -> int:
        with self._lock:
            return self._writes

    def _count_write(self) -> None:
        with self._lock:
            self._writes += 1

    def _issue_minute(self, issue: Mapping[str, Any], zone: Any) -> str | None:
        values = issue.get("fields") or {}
        moment = parse_jira_time(values.get(self.settings.fields.updated)) if isinstance(values, Mapping) else None
        return jql_time(moment, zone) if moment is not None else None

    # -- comments ------------------------------------------------------------------------

    def bot_comments(self, record: Record) -> list[BotComment]:
        """The bot's own comments on the issue: authored by its account and tagged, oldest first.

        Each carries its Jira comment id (``ref.comment_id``) and ``created``:
        the pipeline settles an ambiguous write by the marker, skipping ids it
        already knows and comments far older than the write.
        """
        account = account_of(self.myself())
        mine = [c for c in self._issue_comments(record.key) if authored_by(c, account)]
        if self.flavor == "cloud" and any(not has_properties(c) for c in mine):
            mine = self._with_properties(record.key, mine)
        found = [b for c in mine if (b := to_bot_comment(c, source=self.name, record_key=record.key))]
        found.sort(key=lambda b: (b.created is None, b.created or datetime.min, _numeric(b.ref.comment_id)))
        return found

    def marked_keys(self, since: datetime | None) -> set[str]:
        """Keys of the admin's issues with a comment containing "csi-coach", updated at or after
        ``since`` (all when None): one search, one request per page.

        JQL ``(<admin JQL>) AND comment ~ "\\"csi-coach\\"" AND updated >= "<since>"``,
        keyset-paged exactly as ``fetch`` (so only the ``updated`` field is
        requested; the key comes with every issue). A new comment bumps the
        issue's ``updated``, so the watermark on ``updated`` keeps every issue
        with a comment created since. The text index matches any author and the
        phrase anywhere (over-reporting is harmless); a comment only seconds old
        may not be indexed yet (Cloud's search is eventually consistent).
        """
        zone = user_zone(self.myself().get("timeZone"))
        watermark = jql_time(since, zone) if since is not None else None
        fields = self.settings.fields.updated
        if self.flavor == "cloud":
            pages = self._cloud_pages(watermark, fields, zone, MARKED_CLAUSE)
        else:
            pages = self._server_pages(watermark, fields, zone, MARKED_CLAUSE)
        keys = {issue["key"] for issue in pages if isinstance(issue.get("key"), str) and issue["key"]}
        log.info("jira source %s: %d issue(s) carry a comment with the bot marker", self.name, len(keys))
        return keys

    def _issue_comments(self, key: str) -> Iterator[dict[str, Any]]:
        """GET /issue/{key}/comment page by page, with properties expanded where supported."""
        action = Action(f"list the comments of {key}", "Browse projects")
        start = 0
        while True:
            params = {"startAt": start, "maxResults": COMMENT_PAGE, "expand": "properties"}
            data = self._get(f"issue/{key}/comment", params, action)
            comments = data.get("comments") or []
            yield from comments
            start += len(comments)
            total = data.get("total")
            if not comments or not isinstance(total, int) or start >= total:
                return

    def _with_properties(self, key: str, comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The same comments re-read with properties (Cloud: POST /comment/list?expand=properties)."""
        action = Action(f"read comment properties on {key}", "Browse projects")
        ids = [int(c["id"]) for c in comments if str(c.get("id", "")).isdigit()]
        expanded: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), COMMENT_LIST_MAX_IDS):
            chunk = ids[i:i + COMMENT_LIST_MAX_IDS]
            start = 0
            while True:  # a PageBeanComment: follow isLast
                params = {"expand": "properties", "startAt": start}
                data = self._send("POST", "comment/list", {"ids": chunk}, action, params=params)
                values = data.get("values") or []
                for c in values:
                    expanded[str(c.get("id"))] = c
                start += len(values)
                if data.get("isLast", True) or not values:
                    break
        return [expanded.get(str(c.get("id")), c) for c in comments]

    def post(self, record: Record, body: str, marker: str, *, version: str = "") -> CommentRef:
        """POST /issue/{key}/comment with the csi-coach property: one POST, never two.

        When the outcome is unknown (timeout or reset after the request was
        sent, or 500/502/504) this raises ``AmbiguousWrite`` and writes nothing
        more: Jira may still commit the first POST after the client gave up,
        so looking at once and posting again could leave two comments, and an
        older comment with the same marker (an earlier coaching) would pass for
        this one. The pipeline keeps its ledger row pending and settles it from
        ``bot_comments`` (comment ids it does not know, created near the write).
        """
        payload = self._payload(body, marker, version)
        action = Action(f"add a comment to {record.key}", "Add comments", write=True)
        self._count_write()  # before sending: the issue may move in the search order from now on
        try:
            created = self._send("POST", f"issue/{record.key}/comment", payload, action)
        except AmbiguousWrite:
            log.warning("jira source %s: the comment on %s may or may not have been saved; not writing it "
                        "again (settled by its marker %s)", self.name, record.key, marker)
            raise
        return CommentRef(source=self.name, record_key=record.key, comment_id=str(created.get("id", "")))

    def update(self, ref: CommentRef, body: str, marker: str, *, version: str = "") -> None:
        """PUT /issue/{key}/comment/{id}?notifyUsers=false (edit in place, watchers not mailed).

        Atlassian documents ``notifyUsers`` on comment update (default true) with
        no extra permission, unlike issue edit, where turning notifications off
        needs Administer Jira / Administer projects. Should a site still answer
        403 to it, we retry once without it (the edit goes through, watchers get
        mail), log a warning and stop sending it for this connector.

        A PUT is idempotent: the transport already retries it on 5xx, resets
        and timeouts. What outlasts those retries is raised as it is (an
        ``AmbiguousWrite`` too, never a second round here); the pipeline settles
        it by finding the comment carrying the new marker.
        """
        payload = self._payload(body, marker, version)
        action = Action(f"edit comment {ref.comment_id} on {ref.record_key}", "Edit own comments", write=True)
        path = f"issue/{ref.record_key}/comment/{ref.comment_id}"
        self._count_write()
        if self._notify_param:
            try:
                self._send("PUT", path, payload, action, params={"notifyUsers": "false"})
                return
            except PermissionDenied:
                log.warning("jira source %s: editing with notifyUsers=false was refused; retrying with "
                            "notifications (watchers will be mailed)", self.name)
                self._send("PUT", path, payload, action)
                self._notify_param = False
                return
        self._send("PUT", path, payload, action)

    def _payload(self, body: str, marker: str, version: str) -> dict[str, Any]:
        s = self.settings
        return comment_payload(body, marker, version=version, visibility_type=s.visibility_type,
                               visibility_value=s.visibility_value, internal=s.internal)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> JiraConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _failure_kind(message: str) -> str:
    """"ReadTimeout" out of the transport's "... may or may not have taken effect (ReadTimeout after sending)"."""
    found = re.search(r"\((\w+) after sending\)", message)
    return found.group(1) if found else "connection lost"


def _names_unknown_key(message: str, key: str) -> bool:
    """Jira's 400 for a JQL key that names no issue: "An issue with key 'X' does not exist for
    field 'key'." (or "The issue key 'X' for field 'key' is invalid."), quoting our key."""
    text = message.lower()
    return f"'{key.lower()}'" in text and "field 'key'" in text


def _numeric(value: str) -> int:
    return int(value) if value.isdigit() else 0
