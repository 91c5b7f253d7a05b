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
Every listing (searches, comment lists) ends whatever the server answers: a ``PageGuard``
(``connectors/page_guard.py``) raises ``EndlessListing`` on a ``nextPageToken`` seen before
in the same query, a page of issues or comments all read before (beyond the re-reads a
restart or a step back announces) or too many pages (``max_pages``, or twice what
``total`` needs), and the scan's stop request ends it between pages.

Field mapping: Jira leaves a field the site lacks out of each issue (and answers ``null``
for one it has that is not set), so every page ``fetch`` reads is counted
(``connectors.field_census``) before its issues go on: a goal field on none of them
fails the source with a ``ConfigError`` naming the site's fields, closest first (one
``GET /field``); another mapped field on none of the issues read, or a goal empty on
all of them, is a warning (``mapping_warnings``).

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
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from jira import JIRA, JIRAError

from csi_coach.coach import OwnerReply
from csi_coach.config import JiraSettings
from csi_coach.connectors.field_census import (
    FieldCensus,
    FieldTally,
    absent_goal_error,
    census_warnings,
    first_absent,
)
from csi_coach.connectors.jira.answers import BrokenAnswer, an_object, json_body, listed
from csi_coach.connectors.jira.comments import (
    account_of,
    authored_by,
    body_text,
    comment_payload,
    has_properties,
    to_bot_comment,
)
from csi_coach.connectors.jira.errors import Action, from_exception, from_response
from csi_coach.connectors.jira.jql import MARKED_CLAUSE, build_jql, jql_time, scope_jql, user_zone
from csi_coach.connectors.jira.mapping import field_text, issue_to_record, parse_jira_time, requested_fields
from csi_coach.connectors.jira.paging import Keyset
from csi_coach.connectors.page_guard import PageGuard
from csi_coach.connectors.probe import SourceProbe
from csi_coach.connectors.tls import pin_verify, tls_verify
from csi_coach.connectors.transport import decode_failure
from csi_coach.errors import AmbiguousWrite, BadRequest, CoachError, ConfigError, NotFound, PermissionDenied, TransientError
from csi_coach.model import BotComment, BrokenRecord, CommentRef, Record, aware

log = logging.getLogger(__name__)

T = TypeVar("T")

COMMENT_PAGE = 100  # Jira's default and maximum for comment listing
COMMENT_LIST_MAX_IDS = 1000  # POST /comment/list accepts at most 1000 ids


def wall_clock() -> datetime:
    return datetime.now(UTC)




class JiraConnector:
    """Reads improvement issues by JQL and writes coaching comments (wiki markup, API v2)."""

    target = "jira"
    can_edit = True
    # Data Center (and Elasticsearch-backed searches) refuse startAt past this window;
    # beyond it the query restarts from the last seen ``updated``.
    SEARCH_WINDOW = 10_000

    def __init__(self, settings: JiraSettings, session: requests.Session | None = None, *,
                 now: Callable[[], datetime] | None = None, stop: threading.Event | None = None) -> None:
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
        self._writes_done = 0  # comment writes answered (or failed): their effect is in place
        self._now = now  # fixes each listing's upper bound (None: ``wall_clock``, looked up per listing)
        self.stop = stop  # the scan's stop request, checked between pages of every listing
        self._tally = self.field_tally()  # the mapped fields on the issues the last fetch read
        self.client = self._make_client(settings, session)

    @classmethod
    def open(cls, settings: JiraSettings, *, limiters: Any, policy: Any = None, **kwargs: Any) -> JiraConnector:
        """Build the project's resilient session for ``settings.url`` and connect."""
        from csi_coach.connectors.transport import RetryPolicy, build_session

        kwargs.setdefault("stop", getattr(limiters, "stop", None))  # the scan's stop request (SIGTERM)

        session = build_session(
            settings.url, policy=policy or RetryPolicy(), limiters=limiters,
            verify=tls_verify(settings, warn=True),  # True, False or the ca_bundle path; _make_client pins it
            timeout=settings.timeout_seconds, read_budget=settings.read_budget_seconds,
            deadline=settings.request_deadline_seconds, max_response_bytes=settings.max_response_bytes,
        )
        return cls(settings, session, **kwargs)

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
            options={"verify": tls_verify(settings), "check_update": False},
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
        pin_verify(client._session, tls_verify(settings))  # verify_tls = false / ca_bundle hold whatever $REQUESTS_CA_BUNDLE says
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
        except (BrokenAnswer, RecursionError, MemoryError) as exc:
            # a 2xx that is not the API's JSON: never "no issues", never "gone"; JSON nested too
            # deep to decode (RecursionError) fails this source, not the whole scan
            head = f"Jira source {self.name!r} could not {action.text}"
            why = str(exc) if isinstance(exc, BrokenAnswer) else f"the answer is {decode_failure(exc)}"
            if action.write:
                raise AmbiguousWrite(f"{head}; {why}, so it may or may not have been saved",
                                     url=self.base_url) from None
            raise TransientError(f"{head}; {why}", url=self.base_url) from None
        except (requests.RequestException, OSError) as exc:
            raise from_exception(exc, action, source=self.name, url=self.base_url) from None

    def _get(self, path: str, params: Mapping[str, Any], action: Action,
             check: Callable[[Any], Any] | None = None) -> Any:
        """GET a path of the REST API: its JSON, checked by ``check`` (see ``answers``) when given.

        Not the library's ``_get_json``: it reads an empty body as ``{}``."""
        url = self.client._get_url(path)

        def do() -> Any:
            data = json_body(self.client._session.get(url, params=dict(params)))
            return check(data) if check is not None else data

        return self._call(action, do)

    def _send(self, method: str, path: str, payload: Any, action: Action,
              params: Mapping[str, Any] | None = None, check: Callable[[Any], Any] | None = None) -> Any:
        url = self.client._get_url(path)

        def do() -> Any:
            resp = self.client._session.request(method, url, params=dict(params or {}), data=json.dumps(payload))
            if resp.status_code == 204:
                return {}  # No Content: a PUT or DELETE that answers nothing
            data = an_object(json_body(resp), "a JSON object")
            return check(data) if check is not None else data

        return self._call(action, do)

    def _record(self, issue: Any) -> Record | BrokenRecord:
        """The issue as a Record, its text fields cut to ``max_field_chars`` (said in the log)."""
        record = issue_to_record(issue, source=self.name, base_url=self.base_url, fields=self.settings.fields)
        if isinstance(record, Record):
            record = record.capped(self.settings.max_field_chars)
            if record.truncated:
                log.warning("jira source %s: %s: %s cut to %d characters (max_field_chars); judged on that",
                            self.name, record.number[:60], ", ".join(record.truncated), self.settings.max_field_chars)
        return record

    # -- flavor and account --------------------------------------------------------------

    @property
    def flavor(self) -> str:
        """"cloud" or "server"; with flavor = "auto" asks serverInfo once."""
        if self._flavor is None:
            info = self._get("serverInfo", {}, Action("read serverInfo", "Browse projects"),
                             lambda d: an_object(d, "serverInfo"))
            kind = str(info.get("deploymentType", "")) if isinstance(info, dict) else ""
            self._flavor = "cloud" if kind.lower() == "cloud" else "server"
            log.info("jira source %s: serverInfo deploymentType %r -> flavor %s", self.name, kind, self._flavor)
        return self._flavor

    def myself(self) -> dict[str, Any]:
        """The bot's account (``GET /myself``), fetched once per connector."""
        with self._lock:
            if self._me is None:
                me = self._get("myself", {}, Action("read the bot's own account (myself)", "Browse projects"),
                               lambda d: an_object(d, "a user"))
                self._me = me if isinstance(me, dict) else {}
            return self._me

    # -- records -------------------------------------------------------------------------

    def fetch(self, since: datetime | None) -> Iterator[Record | BrokenRecord]:
        """Issues matching the admin's JQL updated at or after ``since``, oldest first, and before
        the end of the minute the listing started in (the upper bound: JQL counts in minutes).

        Why no issue is skipped however reads, the bot's writes and owners' edits
        interleave: pages restart at the minute of the last issue read (no offset,
        see ``paging``), so an issue leaving the listing cannot push another
        past the restart point. Only within one crowded minute is an offset used
        (Data Center ``startAt``) or a token followed (Cloud). There the upper
        bound keeps the listing's set from growing: an issue updated while the
        listing runs leaves it for good (its ``updated`` is after the bound)
        instead of moving to its end, so on Data Center every issue that left
        lowers ``total``, and the next ``startAt`` backs off by that drop (and by
        the bot's writes that may have landed since, see ``_server_pages``). An
        issue that left unread was updated after the bound; the watermark never
        passes the bound (it is the time of an issue this listing read, or
        older), so the next scan reads it.

        Left open: an owner's edit within the listing's first minute (before the
        bound) moves the issue to the end of the set rather than out of it, and
        so do all edits when the user's time zone is unknown (no bound: a literal
        cannot be placed within 14 hours); stepping by ``startAt`` through a
        crowded minute could then skip one (the bot's own writes are still
        backed off for); Cloud's ``nextPageToken`` is taken to be a cursor
        after the last issue returned, as Atlassian's search-after design and the
        sandbox are (if it were an offset, a crowded minute could skip).
        """
        zone = user_zone(self.myself().get("timeZone"))
        watermark = jql_time(since, zone) if since is not None else None
        started = self._now() if self._now is not None else wall_clock()
        # the next minute boundary: a bound at the minute started in would leave out what was
        # updated in its first seconds until the next scan, even in a full one
        until = jql_time(started + timedelta(minutes=1), zone) if zone is not None else None
        fields = ",".join(requested_fields(self.settings.fields))
        self._tally = self.field_tally()
        if self.flavor == "cloud":
            pages = self._cloud_pages(watermark, fields, zone, until=until, on_page=self._check_goal_fields)
        else:
            pages = self._server_pages(watermark, fields, zone, until=until, on_page=self._check_goal_fields)
        count = 0
        for issue in pages:
            count += 1
            self._tally.add(issue)  # the issues read, each once
            yield self._record(issue)
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
            issue = self._get(f"issue/{quote(key, safe='')}", {"fields": fields}, action,
                              lambda d: an_object(d, "an issue"))
        except NotFound:
            return None
        if not isinstance(issue, Mapping):
            raise TransientError(f"Jira source {self.name!r} answered issue {key} with a body that is not an issue")
        return self._record(issue)

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
            issues = self._get(endpoint, params, action, lambda d: listed(d, "issues"))
        except BadRequest as exc:
            if _names_unknown_key(exc.message, key):
                return None
            raise
        if not issues:  # a well-formed search answer without it: gone or out of scope
            return None
        if not isinstance(issues[0], Mapping):
            raise TransientError(f"Jira source {self.name!r} answered the search for {key} with a body that is "
                                 "not an issue")
        return self._record(issues[0])

    def _cloud_pages(self, watermark: str | None, fields: str, zone: Any, extra: str = "", until: str | None = None,
                     on_page: Callable[[list[Any]], None] | None = None) -> Iterator[dict[str, Any]]:
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
        guard = self._guard("search issues (GET /rest/api/2/search/jql)")
        token: str | None = None
        while True:
            guard.next_page()
            jql = build_jql(self.settings.jql, keys.floor, extra, until)
            params: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": self.settings.page_size}
            if token:
                params["nextPageToken"] = token
            data = self._get("search/jql", params, action, _search_answer)
            issues = data["issues"]
            log.debug("jira source %s: cloud page %d, %d issue(s), jql %s", self.name, guard.pages, len(issues), jql)
            if on_page is not None:  # sees the page before any of its issues goes on
                on_page(issues)
            fresh = self._fresh(issues, keys, zone)
            yield from fresh
            next_token = data.get("nextPageToken")
            if data.get("isLast") is True or not next_token or not issues:
                return
            guard.page_read(len(issues), len(fresh))
            restart = keys.restart_at()
            if restart is not None:
                keys.restart(restart)
                guard.allow_rereads(len(keys))  # the issues of the restart minute come again
                token = None
                continue
            guard.seen(("token", jql, str(next_token)), f"the nextPageToken {str(next_token)[:40]!r}")
            token = next_token

    def _server_pages(self, watermark: str | None, fields: str, zone: Any, extra: str = "", until: str | None = None,
                      on_page: Callable[[list[Any]], None] | None = None) -> Iterator[dict[str, Any]]:
        """GET /rest/api/2/search, keyset-paged (see ``jira_paging``): one request per page.

        Each next page restarts at ``updated >= "<minute of the last issue>"``
        from startAt 0, so issues updated meanwhile (our comments) cannot push
        unread ones under the offset. When a whole page lies within one minute
        (or the user's zone is unknown, so literals are widened by hours) we step
        on by ``startAt`` within the query instead, backing off for the issues
        that left the part already read since the last page:

        - ahead, by the bot's writes that may have landed between the two
          queries: every write started by now and not answered before the last
          page was asked (a write in flight across a query, e.g. behind a locked
          state file, lands after it). Without a bound a written issue moves to
          the end and ``total`` stays, so this is what covers the bot's writes;
        - after, by the drop in ``total``: with the upper bound (``until``) the
          query's set never grows, so each issue that left it (edited by anyone,
          deleted, moved out of scope) lowers it by one. A drop larger than the
          step backed off for means the page began past unread issues: it is
          asked again further back before anything of it is yielded.

        Backing off too far only re-reads issues, skipped by ``_fresh``. The
        10,000 window (``SEARCH_WINDOW``) is kept by restarting at the last minute.
        """
        action = Action("search issues (GET /rest/api/2/search)", "Browse projects")
        size = self.settings.page_size
        keys = Keyset(watermark, zone_known=zone is not None)
        guard = self._guard("search issues (GET /rest/api/2/search)")
        start = 0
        total_before: int | None = None  # the query's total at its previous page
        backed = 0  # how far the last step backed off ahead of seeing the new total
        while True:
            guard.next_page()
            jql = build_jql(self.settings.jql, keys.floor, extra, until)
            params = {"jql": jql, "fields": fields, "startAt": start, "maxResults": size}
            done_now = self._writes_answered()
            data = self._get("search", params, action, _search_answer)
            issues = data["issues"]
            total = data.get("total")
            total = total if isinstance(total, int) else None
            log.debug("jira source %s: server page at %d, %d issue(s), total %s, jql %s",
                      self.name, start, len(issues), total, jql)
            if total is not None and total_before is not None and total_before - total > backed:
                # More issues left the listing since the last page than the step backed off
                # for: this page starts past unread ones. Ask again further back, yield nothing.
                back = min(start, total_before - total - backed)
                start -= back
                total_before, backed = total, 0
                guard.allow_rereads(back)
                guard.expect_rows(total - start, size)
                continue
            if on_page is not None:  # sees the page before any of its issues goes on
                on_page(issues)
            fresh = self._fresh(issues, keys, zone)
            yield from fresh
            if not issues or (total is not None and start + len(issues) >= total):
                return
            guard.page_read(len(issues), len(fresh))
            if total is not None:
                guard.expect_rows(total - start - len(issues), size)
            restart = keys.restart_at()
            if restart is None:
                backed = self._write_count() - done_now  # started by now, not answered before this page
                total_before = total
                start = max(0, start + len(issues) - backed)
                guard.allow_rereads(backed)
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
            guard.allow_rereads(len(keys))  # the issues of the restart minute come again
            start, total_before, backed = 0, None, 0

    def _guard(self, listing: str) -> PageGuard:
        """A fresh guard for one listing: it ends, whatever the server answers (see ``page_guard``)."""
        return PageGuard(f"Jira source {self.name!r}: {listing}", max_pages=self.settings.max_pages, stop=self.stop)

    def _fresh(self, issues: list[dict[str, Any]], keys: Keyset, zone: Any) -> list[dict[str, Any]]:
        """The page's issues not yet read unchanged in this fetch."""
        keys.new_page()
        return [issue for issue in issues
                if keys.fresh(str(issue.get("key")), self._updated_value(issue), self._issue_minute(issue, zone))]

    def _updated_value(self, issue: Mapping[str, Any]) -> Any:
        values = issue.get("fields")
        return values.get(self.settings.fields.updated) if isinstance(values, Mapping) else None

    def _write_count(self) -> int:
        with self._lock:
            return self._writes

    def _count_write(self) -> None:
        with self._lock:
            self._writes += 1

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Count one comment write for the search's back-off: started now, answered when it
        returns or fails for certain. An ``AmbiguousWrite`` stays unanswered (it may land
        later), so every later page backs off for it too."""
        self._count_write()
        try:
            yield
        except AmbiguousWrite:
            raise
        except BaseException:
            self._write_answered()
            raise
        self._write_answered()

    def _writes_answered(self) -> int:
        with self._lock:
            return self._writes_done

    def _write_answered(self) -> None:
        with self._lock:
            self._writes_done += 1

    def _issue_minute(self, issue: Mapping[str, Any], zone: Any) -> str | None:
        values = issue.get("fields") or {}
        moment = parse_jira_time(values.get(self.settings.fields.updated)) if isinstance(values, Mapping) else None
        return jql_time(moment, zone) if moment is not None else None

    # -- the field mapping ---------------------------------------------------------------

    def field_tally(self) -> FieldTally:
        """A running count of which mapped fields issues carry, and on how many each holds a value."""
        return FieldTally(requested_fields(self.settings.fields), fields_of=_issue_fields,
                          has_value=lambda value: bool(field_text(value)))

    def page_census(self, issues: list[Any]) -> FieldCensus:
        """Which mapped fields the issues of a search page carry, and on how many each holds a value."""
        return self.field_tally().census_of(issues)

    def _check_goal_fields(self, issues: list[Any]) -> None:
        """Per page of ``fetch``: a goal field on none of its issues ends the listing (see the module
        docstring), before any issue of the page goes on."""
        census = self.page_census(issues)
        missing = first_absent(census, self.settings.fields.goal)
        if missing is not None:
            raise self.absent_goal(missing, census)

    def absent_goal(self, name: str, census: FieldCensus) -> ConfigError:
        """The config error for a goal field none of a page's issues carries."""
        return absent_goal_error(name, census, source=self.name, config_file=self.settings.auth.config_file,
                                 available=self.available_fields(), vendor=f"Jira ({self.base_url})")

    def available_fields(self) -> list[str]:
        """The site's fields as "id (name)" (``GET /field``, one request; [] when it fails)."""
        try:
            listed_fields = self._get("field", {}, Action("list the site's fields (GET /field)", "Browse projects"),
                                      listed_items)
        except CoachError as exc:
            log.warning("jira source %s: cannot list the site's fields: %s", self.name, exc)
            return []
        out = []
        for f in listed_fields:
            fid = str(f.get("id", "")) if isinstance(f, Mapping) else ""
            name = str(f.get("name", "")) if isinstance(f, Mapping) else ""
            if fid:
                out.append(f"{fid} ({name})" if name and name != fid else fid)
        return out

    def mapping_warnings(self) -> list[str]:
        """Mapped fields on none of the issues the last ``fetch`` read; a goal empty on all of them."""
        return census_warnings(self._tally.census(), self.settings.fields, source=self.name, skip=("key",))

    def probe(self) -> SourceProbe:
        """The checks of ``check-config --connect`` (``connectors.jira.probe``); writes nothing."""
        from csi_coach.connectors.jira.probe import probe

        return probe(self)

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

    def owner_replies(self, record: Record, since: datetime | None) -> list[OwnerReply]:
        """Comments on the issue by anyone but the bot's account, created at or after ``since``
        (all when None), oldest first: where an owner pushes back on the coaching. The same
        comment listing ``bot_comments`` reads (no properties needed: the author decides)."""
        account = account_of(self.myself())
        out: list[OwnerReply] = []
        for c in self._issue_comments(record.key):
            if authored_by(c, account):
                continue
            created = parse_jira_time(c.get("created"))
            if since is not None and created is not None and created < aware(since):
                continue
            author = c.get("author")
            name = str(author.get("displayName") or "") if isinstance(author, Mapping) else ""
            out.append(OwnerReply(str(c.get("id", "")), name, body_text(c.get("body")), created))
        out.sort(key=lambda r: (r.created is None, r.created or datetime.min.replace(tzinfo=UTC)))
        return out

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
        guard = self._guard(f"list the comments of {key}")
        ids: set[str] = set()
        start = 0
        while True:
            guard.next_page()
            params = {"startAt": start, "maxResults": COMMENT_PAGE, "expand": "properties"}
            data = self._get(f"issue/{key}/comment", params, action, lambda d: _page_of(d, "comments"))
            comments = data["comments"]
            yield from comments
            start += len(comments)
            total = data.get("total")
            if not comments or not isinstance(total, int) or start >= total:
                return
            guard.page_read(len(comments), _new_ids(comments, ids))
            guard.expect_rows(total - start, COMMENT_PAGE)

    def _with_properties(self, key: str, comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The same comments re-read with properties (Cloud: POST /comment/list?expand=properties)."""
        action = Action(f"read comment properties on {key}", "Browse projects")
        ids = [int(c["id"]) for c in comments if str(c.get("id", "")).isdigit()]
        expanded: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), COMMENT_LIST_MAX_IDS):
            chunk = ids[i:i + COMMENT_LIST_MAX_IDS]
            guard = self._guard(f"read comment properties on {key}")
            read: set[str] = set()
            start = 0
            while True:  # a PageBeanComment: follow isLast
                guard.next_page()
                params = {"expand": "properties", "startAt": start}
                data = self._send("POST", "comment/list", {"ids": chunk}, action, params=params,
                                  check=lambda d: _page_of(d, "values"))
                values = data["values"]
                for c in values:
                    if isinstance(c, dict):
                        expanded[str(c.get("id"))] = c
                start += len(values)
                if data.get("isLast", True) or not values:
                    break
                guard.page_read(len(values), _new_ids(values, read))
                guard.expect_rows(len(chunk) - start, len(values))
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
        try:
            with self._writing():  # counted before sending: the issue may move in the search order from now on
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
        with self._writing():
            self._edit(path, payload, action)

    def _edit(self, path: str, payload: Any, action: Action) -> None:
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


def _page_of(data: Any, name: str) -> Mapping[str, Any]:
    """A page of a listing: an object holding a ``name`` list (else ``BrokenAnswer``)."""
    listed(data, name)
    return an_object(data, f"a page of {name}")


def _new_ids(items: list[Any], seen: set[str]) -> int:
    """How many of a page's comments have an id not in ``seen`` (which takes them in)."""
    new = 0
    for item in items:
        cid = str(item.get("id", "")) if isinstance(item, Mapping) else ""
        if cid and cid not in seen:
            seen.add(cid)
            new += 1
    return new


def _issue_fields(issue: Any) -> Mapping[str, Any] | None:
    """An issue's ``fields`` object (None: not an issue)."""
    values = issue.get("fields") if isinstance(issue, Mapping) else None
    return values if isinstance(values, Mapping) else None


def listed_items(data: Any) -> list[Any]:
    """A bare JSON list (``GET /field``), else ``BrokenAnswer``."""
    if not isinstance(data, list):
        raise BrokenAnswer(f"a list was expected, not {type(data).__name__}")
    return data


def _search_answer(data: Any) -> Mapping[str, Any]:
    return _page_of(data, "issues")


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
