"""ServiceNow connector: Table API reads, journal (work notes / comments) writes.

How the registry opens it (``connectors/__init__.py``)::

    connector = ServiceNowConnector.open(settings, limiters=limiters)   # builds the session
    connector = ServiceNowConnector(settings, session)                   # or bring your own

Requests per scan: one per page of records, one PATCH per write, and the
OAuth token request when OAuth is used. ``get(key)`` (explain --ticket) is one
request, by sys_id or number; ``get_in_scope(key)`` (a record re-read by key
in a scan) is one request, by sys_id within the admin's query. ``marked_keys`` is one journal request per page
of bot entries (which records carry one). Other journal reads happen only when
the coach asks for the bot's earlier comments, or the pipeline settles an
ambiguous write.

Paging (``_keyset_pages``): keyset on ``(sys_updated_on, sys_id)`` with an upper bound
fixed when the listing starts, no offset. Its docstring argues why no interleaving of
the bot's writes and owners' edits with the page reads can skip a record. Every listing
(records, ``marked_keys``, ``bot_comments``) ends whatever the instance answers: a
``PageGuard`` (``connectors/page_guard.py``) raises ``EndlessListing`` on a page sent
twice, a page of rows already read, or too many pages, and the scan's stop request ends
it between pages.

Vendor facts relied on (ServiceNow Table API docs and KB0534905):
- ``sysparm_display_value=all`` gives ``{"display_value", "value"}`` per
  field; ``value`` of a date/time is UTC ("YYYY-MM-DD HH:MM:SS"),
  ``display_value`` is in the API user's time zone, so only ``value`` is parsed.
- A plain date/time in an encoded query is taken as UTC; only the
  ``javascript:gs.dateGenerate(...)`` form is read in the user's time zone
  (and needs script evaluation in queries). So the watermark is sent as a
  plain UTC value: ``sys_updated_on>=2026-01-31 23:59:00``.
- Invalid parts of an encoded query are silently ignored, and so are unknown
  names in ``sysparm_fields`` (left out of each row). So every page ``fetch`` reads is
  counted (``connectors.field_census``) before its rows go on: a goal field on none of
  them fails the source with a ``ConfigError`` naming the table's fields, closest first
  (one more request, ``available_fields``); another mapped field on none of the rows
  read, or a goal empty on all of them, is a warning (``mapping_warnings``).
- ``sysparm_no_count=true`` skips the COUNT(*) the instance runs per page.
- Journal entries live in ``sys_journal_field`` (element_id = record sys_id,
  element = field, name = table) and cannot be edited: an "update" is a new entry.
- PATCH answers with the record, never the journal row, so ``post`` returns
  ``comment_id = ""``; ``bot_comments`` gives each entry's journal sys_id and
  ``sys_created_on``, which is what settling an ambiguous write matches on.
- A PATCH that timed out may still commit on the instance seconds later, so a
  write is never repeated here: ``AmbiguousWrite`` goes to the caller.
- Older releases answer an empty list with 404 "No Record found"; that is
  taken as an empty page.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import requests
from requests import Response  # in the class, ``requests`` names its request counter

from csi_coach.coach import OwnerReply
from csi_coach.config import ServiceNowSettings
from csi_coach.connectors.field_census import (
    FieldCensus,
    FieldTally,
    absent_goal_error,
    census_warnings,
    first_absent,
)
from csi_coach.connectors.page_guard import PageGuard
from csi_coach.connectors.probe import SourceProbe
from csi_coach.connectors.servicenow.auth import SnAuth, auth_from_settings
from csi_coach.connectors.tls import pin_verify, tls_verify
from csi_coach.connectors.transport import DECODE_ERRORS, RetryPolicy, build_session, decode_failure, error_for
from csi_coach.errors import AmbiguousWrite, CoachError, ConfigError, TransientError
from csi_coach.model import MARKER_PREFIX, MARKER_RE, BotComment, BrokenRecord, CommentRef, Record

log = logging.getLogger(__name__)

SN_TIME = "%Y-%m-%d %H:%M:%S"
JOURNAL_TABLE = "sys_journal_field"
JOURNAL_PAGE = 100
AMBIGUOUS_WRITE_STATUS = frozenset({500, 502, 504})  # the write may have landed behind the error


def sn_time(moment: datetime) -> str:
    """A datetime as ServiceNow's UTC value string (naive input is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(SN_TIME)


def parse_sn_time(value: Any) -> datetime | None:
    """ServiceNow's stored date/time value (UTC) as an aware datetime."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) != 19 or value[10] != " ":  # exactly "YYYY-MM-DD HH:MM:SS"
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)  # ~10x faster than strptime
    except ValueError:
        return None


def build_query(admin_query: str, updated_field: str, since: str | None, *, until: str | None = None,
                after: tuple[str, str] | None = None) -> str:
    """The encoded query: the admin's filter, the listing's window, a stable order.

    ``since`` is the watermark (``updated >= since``); ``until`` the upper bound
    fixed when the listing started (``updated <= until``); ``after`` the key
    ``(updated, sys_id)`` of the last row read, so only rows ordered after it
    are asked for. ``^OR`` binds the condition after it to the one before it, so
    ``U>=t^U>t^ORsys_id>i`` reads ``U >= t AND (U > t OR sys_id > i)``, which is
    ``(U, sys_id) > (t, i)``: no offset, whatever moved before the key.

    An admin query may OR whole queries with ``^NQ``; the window is added to
    each part, or it would only narrow the last one.
    """
    parts = [p for p in admin_query.split("^NQ")] if admin_query.strip() else [""]
    conds: list[str] = []
    if after is not None:
        at, sys_id = after
        conds.append(f"{updated_field}>={at}^{updated_field}>{at}^ORsys_id>{sys_id}")
    elif since is not None:
        conds.append(f"{updated_field}>={since}")
    if until is not None:
        conds.append(f"{updated_field}<={until}")
    if conds:
        cond = "^".join(conds)
        parts = [f"{p}^{cond}" if p else cond for p in parts]
    query = "^NQ".join(parts)
    order = f"ORDERBY{updated_field}^ORDERBYsys_id"
    return f"{query}^{order}" if query else order


def scope_query(admin_query: str, condition: str) -> str:
    """``condition`` AND the admin's filter, as one encoded query.

    ``^OR`` binds only the two conditions around it, so ``cond^<admin>`` keeps
    ``cond`` on every OR of the admin's; ``^NQ`` starts a whole new query,
    so the condition is put at the head of each ``^NQ`` part.
    """
    parts = [p.strip().lstrip("^") for p in admin_query.split("^NQ")] if admin_query.strip() else [""]
    return "^NQ".join(f"{condition}^{p}" if p else condition for p in parts)


_LINK = re.compile(r"<[^>]*>([^<]*)")
_REL = re.compile(r"""\brel\s*=\s*"?([^";,]+)"?""")


def link_relations(header: str) -> set[str]:
    """The rel values of an HTTP Link header (URLs may hold unencoded commas, so no split on ",")."""
    rels: set[str] = set()
    for params in _LINK.findall(header):
        for m in _REL.finditer(params):
            rels.update(m.group(1).lower().split())
    return rels


def field_value(item: Mapping[str, Any], name: str) -> str:
    """The stored value of a field (``value`` of a display_value=all pair)."""
    v = item.get(name)
    if isinstance(v, Mapping):
        v = v.get("value")
    return "" if v is None else str(v)


def _cell_text(cell: Any) -> str:
    """What a field's answer holds, shown or stored ("" when neither)."""
    if isinstance(cell, Mapping):
        return str(cell.get("display_value") or cell.get("value") or "").strip()
    return "" if cell is None else str(cell).strip()


def field_display(item: Mapping[str, Any], name: str) -> str:
    """What a person sees: ``display_value`` (names for references, labels for choices)."""
    v = item.get(name)
    if isinstance(v, Mapping):
        shown = v.get("display_value")
        v = shown if shown not in (None, "") else v.get("value")
    return "" if v is None else str(v)


HTML_ANSWER = "the server answered with an HTML page, probably a login or proxy page, not the Table API"


def _json_body(resp: requests.Response, action: str) -> Any:
    """The answer's JSON; a ``TransientError`` naming what came instead (an empty body, an HTML
    page from a login or proxy, JSON cut off)."""
    url = resp.url.split("?", 1)[0] if resp.url else None
    text = resp.text
    if not text.strip():
        why = f"an empty body (HTTP {resp.status_code})"
    elif "html" in resp.headers.get("Content-Type", "").lower() or text.lstrip()[:1] == "<":
        why = HTML_ANSWER
    else:
        try:
            return json.loads(text)
        except DECODE_ERRORS as exc:  # RecursionError too: a hostile nesting ends this source, not the scan
            why = f"{decode_failure(exc)} ({len(text)} characters)"
    raise TransientError(f"ServiceNow answered {action} with {why}", status=resp.status_code, url=url)


def _row_key(item: Any, stamp: str) -> tuple[str, str] | None:
    """A row's place in the listing's order, ``(stamp value, sys_id)``; None when it has no
    date/time or no sys_id to continue from."""
    if not isinstance(item, Mapping):
        return None
    value, sys_id = field_value(item, stamp), field_value(item, "sys_id")
    if parse_sn_time(value) is None or not sys_id or "^" in sys_id:
        return None
    return value, sys_id


class ServiceNowConnector:
    """Reads improvement records through the Table API, coaches in the journal."""

    target = "servicenow"
    can_edit = False  # journal entries cannot be edited; an update is a new entry

    def __init__(
        self,
        settings: ServiceNowSettings,
        session: requests.Session,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.base_url = settings.url.rstrip("/")
        self.table = settings.table
        self.session = session
        self.auth: SnAuth = auth_from_settings(settings, session, clock=clock)
        self._now = now  # the wall clock that fixes each listing's upper bound
        self.stop = stop  # the scan's stop request, checked between pages of every listing
        self._sent = 0
        self._sent_lock = threading.Lock()  # pages, journal reads and writes run in worker threads
        self._bot_user: str | None = None  # the user_name the bot writes as, found once (``bot_user``)
        self._bot_user_lock = threading.Lock()
        self._tally = self.field_tally()  # the mapped fields on the rows the last fetch read

    @property
    def requests(self) -> int:
        """HTTP requests made through this connector (OAuth token calls not included)."""
        with self._sent_lock:
            return self._sent

    @classmethod
    def open(cls, settings: ServiceNowSettings, *, limiters: Any, policy: RetryPolicy | None = None,
             **kwargs: Any) -> ServiceNowConnector:
        """Build the project's resilient session for ``settings.url`` and connect."""
        kwargs.setdefault("stop", getattr(limiters, "stop", None))  # the scan's stop request (SIGTERM)
        verify = tls_verify(settings, warn=True)  # True, False or the ca_bundle path
        session = build_session(settings.url, policy=policy or RetryPolicy(), limiters=limiters,
                                verify=verify, timeout=settings.timeout_seconds,
                                read_budget=settings.read_budget_seconds,
                                deadline=settings.request_deadline_seconds,
                                max_response_bytes=settings.max_response_bytes)
        return cls(settings, pin_verify(session, verify), **kwargs)

    # -- one request, errors converted ---------------------------------------------------

    def _hints(self, write: bool) -> dict[int, str]:
        need = (f"write on {self.table}.{self.settings.journal_field}" if write
                else f"read on {self.table} and on {JOURNAL_TABLE}")
        return {
            401: f"Check {self.auth.hint}" if self.auth.hint else "Check the credentials",
            403: (f"The bot's account needs {need} (e.g. the role sn_cim.improvement_manager for "
                  f"sn_cim_register, plus a read ACL on {JOURNAL_TABLE})"),
            404: f"Check url and table in [sources.{self.name}] (a read ACL can also hide a table)",
        }

    def _request(self, method: str, path: str, *, action: str, params: Mapping[str, Any] | None = None,
                 json: Any = None, write: bool = False, empty_404: bool = False) -> Response:
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        if json is not None:
            headers["Content-Type"] = "application/json"
        head = f"ServiceNow source {self.name!r} could not {action}"
        renewed = False
        while True:
            with self._sent_lock:
                self._sent += 1
            try:
                resp = self.session.request(method, url, params=params, json=json, headers=headers,
                                            auth=self.auth, timeout=self.settings.timeout_seconds)
            except AmbiguousWrite as exc:
                raise AmbiguousWrite(f"{head}: {exc.message}", url=exc.url) from None
            except CoachError:
                raise
            except requests.RequestException as exc:
                raise TransientError(f"{head}: connection failed ({type(exc).__name__})", url=url) from None
            if resp.status_code == 401 and not renewed and self.auth.renew():
                renewed = True  # an expired or revoked token: renew once, then believe the 401
                log.info("servicenow source %s: HTTP 401; renewed the OAuth token, trying once more", self.name)
                continue
            break
        if resp.status_code < 400:
            return resp
        if empty_404 and resp.status_code == 404 and "no record found" in resp.text.lower():
            return resp
        if write and resp.status_code in AMBIGUOUS_WRITE_STATUS:
            raise AmbiguousWrite(f"{head}: HTTP {resp.status_code} after the write was sent", url=url,
                                 status=resp.status_code)
        raise error_for(resp, head, hints=self._hints(write))

    @staticmethod
    def _result(resp: Response, action: str) -> list[Any]:
        """The ``result`` list of a Table API answer. Anything else (an empty body, an HTML
        page, JSON cut off, no list) is a ``TransientError``, never an empty result: only a
        well-formed answer (or an old release's 404 "No Record found") says "no records"."""
        if resp.status_code == 404:
            return []
        body = _json_body(resp, action)
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise TransientError(f"ServiceNow answered {action} without a result list",
                                 status=resp.status_code, url=resp.url.split("?", 1)[0])
        return result

    # -- records -------------------------------------------------------------------------

    def requested_fields(self) -> list[str]:
        f = self.settings.fields
        names = ["sys_id", f.number, f.title, f.description, *f.goal, f.service, f.owner, f.state, f.updated]
        names.extend(n for n in (f.labels, f.group) if n)
        out: list[str] = []
        for n in names:
            if n and n not in out:
                out.append(n)
        return out

    def fetch(self, since: datetime | None) -> Iterator[Record | BrokenRecord]:
        """Records updated at or after ``since`` and at or before the moment the listing starts,
        oldest first, one page in memory (keyset-paged by ``_keyset_pages``)."""
        fields = self.requested_fields()
        size = self.settings.page_size
        stats = {"pages": 0}
        count = 0
        until = self._now()
        self._tally = self.field_tally()
        rows = self._keyset_pages(self.table, self.settings.query, self.settings.fields.updated, since,
                                  lambda query, offset: self._read_params(fields, query, size, offset),
                                  action=f"read {self.table}", stats=stats, until=until,
                                  on_page=self._check_goal_fields)
        for item in rows:
            count += 1
            self._tally.add(item)  # the rows read, each once
            yield self._to_record(item)
        log.info("servicenow source %s: fetched %d record(s) from %s in %d page(s)",
                 self.name, count, self.table, stats["pages"])

    def _keyset_pages(self, table: str, base_query: str, stamp: str, since: datetime | None,
                      params_for: Callable[[str, int], dict[str, str]], *, action: str,
                      stats: dict[str, int], until: datetime | None = None,
                      on_page: Callable[[list[Any]], None] | None = None) -> Iterator[Any]:
        """The rows of ``base_query`` with ``stamp`` in [``since``, ``until``], ordered by
        ``(stamp, sys_id)``, one page in memory; ``on_page`` sees each page before its rows
        are yielded (and may raise to end the listing).

        Keyset paging: each next page asks for the rows whose key ``(stamp, sys_id)``
        is greater than the last row read (see ``build_query``), from offset 0.
        Why no interleaving of reads and writes can skip a row:

        - A row whose key does not change while the listing runs is read. The
          cursor only ever takes the key of a row just returned, and a page holds
          the smallest keys above the cursor; a row keyed between the old and the
          new cursor was in that page. Nothing before the cursor is counted, so
          rows leaving the listing (updated, deleted) cannot push one past it, as
          an offset would be pushed (the hole of offset or ``>=``+offset paging).
        - A row whose key changes while the listing runs was updated: its stamp
          moves to the instance's now, after ``until`` (taken when the listing
          started), so this listing no longer returns it. The bot only writes on
          rows it has read, so its own writes lose nothing. A row an owner edits
          is read by this listing if it came before the edit, else by the next
          scan: the watermark never passes ``until`` (it is the stamp of a row
          this listing read, or older), and the next scan reads from it.
        - Clock skew: ``until`` is the bot's clock. Behind the instance, rows
          updated just before the scan wait for the next one. Ahead by d, an
          owner's edit in the scan's first d seconds stays under ``until`` and may
          land behind the cursor: its stamp is then at least the watermark minus
          d, which the scan's overlap (10 minutes) reads again next time.

        Read ACLs are applied after the query and the limit, so a page may hold
        fewer rows than the limit (even none) while more follow: a page's length
        never ends the paging (``_more`` asks the response's headers). A page
        with no row to take a key from (all hidden) is stepped over with an
        offset within the same query: the one place where an offset remains,
        and it only counts rows the bot cannot see.

        None of that lets a misbehaving instance keep the listing going (``PageGuard``):
        a page answered again byte for byte, a page whose rows all lie at or behind the
        cursor, or more pages than ``max_pages`` (or than twice what ``X-Total-Count``
        needs) end it with ``EndlessListing`` once the instance says more follows; empty
        pages (all hidden) count only towards the cap.
        """
        size = self.settings.page_size
        floor = sn_time(since) if since is not None else None
        ceiling = sn_time(until) if until is not None else None
        guard = self._guard(action)
        cursor: tuple[str, str] | None = None
        offset = 0
        counted = False
        while True:
            guard.next_page()
            params = params_for(build_query(base_query, stamp, floor, until=ceiling, after=cursor), offset)
            if counted:
                params.pop("sysparm_no_count", None)
            resp = self._request("GET", f"/api/now/table/{table}", params=params, action=action, empty_404=True)
            page = self._result(resp, action)
            stats["pages"] = stats.get("pages", 0) + 1
            log.debug("servicenow source %s: page %d, %d row(s), query %s offset %d",
                      self.name, stats["pages"], len(page), params["sysparm_query"], offset)
            digest = hashlib.blake2b(resp.content, digest_size=16).digest() if page else None
            if on_page is not None:
                on_page(page)
            last: tuple[str, str] | None = None
            new = 0
            for item in page:
                key = _row_key(item, stamp)
                if key is not None:
                    if cursor is not None and key <= cursor:
                        # read already: a proxy served an old page, or the instance dropped
                        # the keyset terms (it ignores terms it cannot read); the guard ends
                        # the listing when a whole page is such rows
                        continue
                    last = key
                new += 1  # a row without a key cannot be told apart: the page digest guards it
                yield item
            more, counted = self._more(resp, len(page), offset, size, counted, guard)
            if not more:
                return
            if digest is not None:  # each page asks past the last: the same rows twice is a server going round
                guard.seen(("page", digest), "a page (the same rows, byte for byte)")
            guard.page_read(len(page), new)
            if last is not None and (cursor is None or last > cursor):
                cursor, offset = last, 0
            else:  # nothing to take a key from: every row of the page is hidden from the bot
                offset += size

    def _guard(self, action: str) -> PageGuard:
        """A fresh guard for one listing: it ends, whatever the server answers (see ``page_guard``)."""
        return PageGuard(f"ServiceNow source {self.name!r}: {action}", max_pages=self.settings.max_pages,
                         stop=self.stop)

    def _more(self, resp: Response, returned: int, offset: int, size: int,
              counted: bool, guard: PageGuard) -> tuple[bool, bool]:
        """Whether rows follow the page read at ``offset``, and whether to ask for a count next.

        ACLs hide rows after the limit, so a short page proves nothing. What the
        instance read before the ACLs is in its headers: ``X-Total-Count`` when
        counted, else the ``Link`` header (rel="next" while the window it read was
        full). With neither (suppressed or stripped by a proxy), a full page goes
        on and a short one is followed by one counted request (no
        ``sysparm_no_count``), whose ``X-Total-Count`` decides (and caps the pages left, ``guard``).
        """
        total = resp.headers.get("X-Total-Count", "").strip()
        if total.isdigit():
            guard.expect_rows(int(total) - offset - size, size)
            return offset + size < int(total), counted
        link = resp.headers.get("Link")
        if link:
            return "next" in link_relations(link), counted
        if returned >= size:
            return True, counted
        if counted:
            return False, counted  # counted and still no header: nothing more to go on
        log.info("servicenow source %s: a short page came without paging headers; asking once with a count",
                 self.name)
        return True, True

    @staticmethod
    def _read_params(fields: list[str], query: str, limit: int, offset: int) -> dict[str, str]:
        """Table API parameters for reading records, the same for ``fetch`` and ``get``."""
        return {
            "sysparm_query": query,
            "sysparm_fields": ",".join(fields),
            "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true",
            "sysparm_no_count": "true",
            "sysparm_limit": str(limit),
            "sysparm_offset": str(offset),
        }

    def get(self, key: str) -> Record | BrokenRecord | None:
        """One record by its sys_id or its number (e.g. ``CIM0010023``), or None: one request.

        The admin's ``query`` is not applied: the record is read even when the
        scan's filter would leave it out (``explain --ticket`` on any record).
        """
        key = key.strip()
        # "^" joins encoded-query terms and a newline ends one: such a key would query
        # something else, and no sys_id or number contains them.
        if not key or "^" in key or any(ord(ch) < 32 for ch in key):
            return None
        return self._read_one(f"sys_id={key}^OR{self.settings.fields.number}={key}", f"read {key} from {self.table}")

    def get_in_scope(self, key: str) -> Record | BrokenRecord | None:
        """The record with sys_id ``key`` only if the admin's ``query`` still selects it, as ``fetch``
        would yield it; None when it is gone, hidden by a read ACL or out of scope. One request.

        ``GET /api/now/table/<table>`` with ``sysparm_query=sys_id=<key>^<admin query>``
        (the sys_id at the head of every ``^NQ`` part, see ``scope_query``),
        limit 1, the same fields and display values as ``fetch``.
        """
        key = key.strip()
        if not key or "^" in key or any(ord(ch) < 32 for ch in key):
            return None  # as in get: such a key would query something else
        return self._read_one(scope_query(self.settings.query, f"sys_id={key}"),
                              f"read {key} from {self.table} within the source's query")

    def _read_one(self, query: str, action: str) -> Record | BrokenRecord | None:
        """The first record the encoded query selects, read as fetch reads it: one request."""
        fields = self.requested_fields()
        resp = self._request("GET", f"/api/now/table/{self.table}", params=self._read_params(fields, query, 1, 0),
                             action=action, empty_404=True)
        page = self._result(resp, action)
        if not page:
            return None
        if isinstance(page[0], Mapping):
            self._warn_missing(page[0], fields)
        return self._to_record(page[0])

    # -- the field mapping ---------------------------------------------------------------

    def field_tally(self) -> FieldTally:
        """A running count of which mapped fields rows carry, and on how many each holds a value."""
        return FieldTally(self.requested_fields(), fields_of=lambda row: row if isinstance(row, Mapping) else None,
                          has_value=lambda cell: bool(_cell_text(cell)))

    def page_census(self, page: list[Any]) -> FieldCensus:
        """Which mapped fields the rows of ``page`` carry, and on how many each holds a value."""
        return self.field_tally().census_of(page)

    def _check_goal_fields(self, page: list[Any]) -> None:
        """Per page of ``fetch``: a goal field on none of its rows ends the listing (see the module
        docstring), before any row of the page goes on."""
        census = self.page_census(page)
        missing = first_absent(census, self.settings.fields.goal)
        if missing is not None:
            raise self.absent_goal(missing, census)

    def absent_goal(self, name: str, census: FieldCensus) -> ConfigError:
        """The config error for a goal field none of a page's rows carries."""
        return absent_goal_error(name, census, source=self.name, config_file=self.settings.auth.config_file,
                                 available=self.available_fields(), vendor=f"ServiceNow table {self.table}")

    def available_fields(self) -> list[str]:
        """The fields of the table the bot may read: the columns of one row read without
        ``sysparm_fields`` (one request; [] when no row comes back or the read fails)."""
        params = {"sysparm_query": self.settings.query, "sysparm_limit": "1", "sysparm_no_count": "true",
                  "sysparm_exclude_reference_link": "true"}
        action = f"list the fields of {self.table}"
        try:
            rows = self._result(self._request("GET", f"/api/now/table/{self.table}", params=params, action=action,
                                              empty_404=True), action)
        except CoachError as exc:
            log.warning("servicenow source %s: cannot list the fields of %s: %s", self.name, self.table, exc)
            return []
        return sorted(rows[0]) if rows and isinstance(rows[0], Mapping) else []

    def mapping_warnings(self) -> list[str]:
        """Mapped fields on none of the rows the last ``fetch`` read; a goal empty on all of them."""
        return census_warnings(self._tally.census(), self.settings.fields, source=self.name)

    def probe(self) -> SourceProbe:
        """The checks of ``check-config --connect`` (``connectors.servicenow.probe``); writes nothing."""
        from csi_coach.connectors.servicenow.probe import probe

        return probe(self)

    def _warn_missing(self, item: Mapping[str, Any], fields: list[str]) -> None:
        missing = [f for f in fields if f not in item]
        if missing:
            log.warning("servicenow source %s: %s returned no %s; check [sources.%s.fields] "
                        "(unknown field names are silently ignored by ServiceNow)",
                        self.name, self.table, ", ".join(missing), self.name)

    def _to_record(self, item: Any) -> Record | BrokenRecord:
        if not isinstance(item, Mapping):
            return BrokenRecord(self.name, "", "", f"not a record: {type(item).__name__}")
        f = self.settings.fields
        sys_id = field_value(item, "sys_id")
        number = field_display(item, f.number) or sys_id
        if not sys_id:
            return BrokenRecord(self.name, "", number, "the record has no sys_id")
        stamp = field_value(item, f.updated)
        moment = parse_sn_time(stamp)
        if moment is None:
            return BrokenRecord(self.name, sys_id, number, f"{f.updated} is not a date/time: {stamp[:40]!r}")
        goal = "\n\n".join(t for t in (field_display(item, g).strip() for g in f.goal) if t)
        labels: tuple[str, ...] = ()
        if f.labels:
            labels = tuple(x.strip() for x in field_display(item, f.labels).split(",") if x.strip())
        record = Record(
            source=self.name,
            key=sys_id,
            number=number,
            url=self.record_url(sys_id),
            title=field_display(item, f.title),
            description=field_display(item, f.description),
            goal=goal,
            service=field_display(item, f.service),
            owner=field_display(item, f.owner),
            labels=labels,
            group=field_display(item, f.group) if f.group else "",
            state=field_display(item, f.state),
            updated=moment,
            container=self.table,
            raw=item,
        ).capped(self.settings.max_field_chars)
        if record.truncated:
            log.warning("servicenow source %s: %s: %s cut to %d characters (max_field_chars); judged on that",
                        self.name, record.number[:60], ", ".join(record.truncated), self.settings.max_field_chars)
        return record

    def record_url(self, sys_id: str) -> str:
        return f"{self.base_url}/nav_to.do?uri={self.table}.do?sys_id={quote(sys_id, safe='')}"

    # -- comments ------------------------------------------------------------------------

    def bot_user(self) -> str:
        """The ``user_name`` of the bot's account, which ServiceNow writes as ``sys_created_by`` on
        each journal entry the bot adds; found once per connector.

        ``bot_user`` from the config when set; else the login user name (``basic``,
        ``oauth_password``: the session user is the account logged in as); else
        (``oauth_client_credentials`` acts as the OAuth entity's "OAuth Application User",
        ``api_key`` as the key's user) one look-up, ``GET sys_user`` with
        ``sysparm_query=sys_id=javascript:gs.getUserID()`` (the platform's "is me"
        filter), ``sysparm_limit=2``. It must answer exactly one row: an instance that
        does not evaluate the term ignores it and answers every user, which is refused
        (a ``ConfigError`` asking for ``bot_user``) rather than taking anyone for the bot.
        """
        with self._bot_user_lock:
            if self._bot_user is None:
                self._bot_user = self._find_bot_user()
            return self._bot_user

    def _find_bot_user(self) -> str:
        if self.settings.bot_user:
            return self.settings.bot_user
        auth = self.settings.auth
        if auth.method in ("basic", "oauth_password"):
            return auth.secret("username", key=f"sources.{self.name}.auth.username_env").reveal().strip()
        action = "find out which user the bot is (sys_user, sys_id=javascript:gs.getUserID())"
        params = {"sysparm_query": "sys_id=javascript:gs.getUserID()", "sysparm_fields": "user_name,sys_id",
                  "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true", "sysparm_limit": "2"}
        rows = self._result(self._request("GET", "/api/now/table/sys_user", params=params, action=action,
                                          empty_404=True), action)
        names = [field_value(r, "user_name").strip() for r in rows if isinstance(r, Mapping)]
        if len(rows) == 1 and names and names[0]:
            log.info("servicenow source %s: the bot writes as %r (from sys_user)", self.name, names[0])
            return names[0]
        raise ConfigError(
            f"cannot tell which ServiceNow user the bot is ({auth.method} auth): sys_user answered "
            f"{len(rows)} row(s) for the current user, so the bot could not tell its own journal entries "
            "from anyone else's", file=auth.config_file or None, key=f"sources.{self.name}.bot_user",
            expected="bot_user = the user_name of the account the bot's OAuth application or API key acts as")

    def bot_comments(self, record: Record) -> list[BotComment]:
        """The bot's journal entries on the record, oldest first: entries carrying the marker
        and written by the bot's own account (``sys_created_by`` is ``bot_user()``, compared
        without regard to case as ServiceNow's user names are), so a marker quoted or forged
        by anyone else never passes for the bot's coaching.

        Each entry's ``ref.comment_id`` is its ``sys_journal_field`` sys_id and
        ``created`` its ``sys_created_on`` (UTC): the pipeline settles an
        ambiguous write by the marker, skipping ids it already knows and entries
        far older than the write (an earlier coaching on the same finding).
        """
        me = self.bot_user().casefold()
        field = self.settings.journal_field
        query = (f"element_id={record.key}^name={self.table}^element={field}"
                 f"^valueLIKE{MARKER_PREFIX}^ORDERBYsys_created_on^ORDERBYsys_id")
        action = f"read the {field} of {record.number or record.key} ({JOURNAL_TABLE})"
        guard = self._guard(action)
        read: set[str] = set()
        out: list[BotComment] = []
        offset = 0
        counted = False
        while True:
            guard.next_page()
            params = {
                "sysparm_query": query,
                "sysparm_fields": "sys_id,value,sys_created_on,sys_created_by",
                "sysparm_exclude_reference_link": "true",
                "sysparm_limit": str(JOURNAL_PAGE),
                "sysparm_offset": str(offset),
            }
            if not counted:
                params["sysparm_no_count"] = "true"
            resp = self._request("GET", f"/api/now/table/{JOURNAL_TABLE}", params=params, action=action,
                                 empty_404=True)
            rows = self._result(resp, action)
            new = 0
            for row in rows:
                if not isinstance(row, Mapping):
                    continue
                entry_id = field_value(row, "sys_id")
                if entry_id and entry_id not in read:
                    read.add(entry_id)
                    new += 1
                body = field_value(row, "value")
                m = MARKER_RE.search(body)
                if not m or field_value(row, "sys_created_by").strip().casefold() != me:
                    continue
                out.append(BotComment(
                    ref=CommentRef(self.name, record.key, field_value(row, "sys_id")),
                    marker=m.group(0),
                    body=body,
                    created=parse_sn_time(field_value(row, "sys_created_on")),
                    editable=False,
                ))
            # ACLs may shorten a page while entries follow: the headers decide, as in fetch.
            more, counted = self._more(resp, len(rows), offset, JOURNAL_PAGE, counted, guard)
            if not more:
                return out
            guard.page_read(len(rows), new)
            offset += JOURNAL_PAGE

    def owner_replies(self, record: Record, since: datetime | None) -> list[OwnerReply]:
        """Journal entries (``comments`` and ``work_notes``) on the record written by anyone but
        the bot, created at or after ``since`` (all when None), oldest first: where an owner
        pushes back on the coaching. One request: the first ``JOURNAL_PAGE`` entries since the
        bot's comment (a reply starting with a keyword is looked for there; more are not read).
        The bot's own entries are told by ``sys_created_by`` as in ``bot_comments``.
        """
        me = self.bot_user().casefold()
        query = f"element_id={record.key}^name={self.table}^elementINcomments,work_notes"
        if since is not None:
            query += f"^sys_created_on>={sn_time(since)}"
        action = f"read the replies on {record.number or record.key} ({JOURNAL_TABLE})"
        params = {
            "sysparm_query": query + "^ORDERBYsys_created_on^ORDERBYsys_id",
            "sysparm_fields": "sys_id,value,sys_created_on,sys_created_by",
            "sysparm_exclude_reference_link": "true",
            "sysparm_no_count": "true",
            "sysparm_limit": str(JOURNAL_PAGE),
        }
        resp = self._request("GET", f"/api/now/table/{JOURNAL_TABLE}", params=params, action=action, empty_404=True)
        out: list[OwnerReply] = []
        for row in self._result(resp, action):
            if not isinstance(row, Mapping):
                continue
            author = field_value(row, "sys_created_by").strip()
            if not author or author.casefold() == me:
                continue
            out.append(OwnerReply(field_value(row, "sys_id"), author, field_value(row, "value"),
                                  parse_sn_time(field_value(row, "sys_created_on"))))
        return out

    def marked_keys(self, since: datetime | None) -> set[str]:
        """sys_ids of the records with a journal entry carrying the marker prefix, created at or
        after ``since`` (all when None): one request per page, whatever the number of records.

        ``GET sys_journal_field`` with ``name=<table>^element=<journal field>
        ^valueLIKEcsi-coach:^sys_created_on>=<since, UTC>``, ordered by
        ``sys_created_on`` and sys_id and keyset-paged as ``fetch`` is (no upper bound:
        journal entries never change, so none can move); only
        ``element_id`` (the record's sys_id) is kept. The admin's ``query`` is
        not applied (journal rows cannot be filtered by it), so keys of records
        outside it may come back; a person quoting the marker counts too.
        Entries written in another journal field than the configured one are
        not seen (``bot_comments`` does not look there either).

        Cost on a real instance: ``value`` is a long text column that LIKE
        cannot use an index for, so the database narrows by table, field and
        ``sys_created_on`` first; with ``since`` None on a large journal the
        query may run long (the REST transaction quota then cancels it, raised
        as an error like any failed read).
        """
        field = self.settings.journal_field
        base = f"name={self.table}^element={field}^valueLIKE{MARKER_PREFIX}"
        size = self.settings.page_size

        def params_for(query: str, offset: int) -> dict[str, str]:
            return {
                "sysparm_query": query,
                "sysparm_fields": "element_id,sys_created_on,sys_id",
                "sysparm_exclude_reference_link": "true",
                "sysparm_no_count": "true",
                "sysparm_limit": str(size),
                "sysparm_offset": str(offset),
            }

        stats = {"pages": 0}
        keys: set[str] = set()
        rows = self._keyset_pages(JOURNAL_TABLE, base, "sys_created_on", since, params_for,
                                action=f"list the records with bot entries in {field} ({JOURNAL_TABLE})",
                                stats=stats)
        for row in rows:
            key = field_value(row, "element_id").strip() if isinstance(row, Mapping) else ""
            if key:
                keys.add(key)
        log.info("servicenow source %s: %d record(s) carry bot entries in %s (%d page(s))",
                 self.name, len(keys), field, stats["pages"])
        return keys

    def post(self, record: Record, body: str, marker: str) -> CommentRef:
        """A new journal entry carrying ``marker``: one PATCH of the journal field, never two.

        Returns ``comment_id = ""``: the PATCH answers with the record, not the
        journal row, and finding the row would cost a GET per write; the entry's
        sys_id is learnt from ``bot_comments`` whenever it is needed.

        When the outcome is unknown (timeout or reset after the request was
        sent, or 500/502/504) this raises ``AmbiguousWrite`` and writes nothing
        more: a slow instance may still commit the first PATCH seconds later,
        so a quick look-and-rewrite here would leave two entries. The caller
        keeps its ledger row pending and settles it by looking for the marker
        with ``bot_comments`` (entries created near the write, ids it does not
        already know), now or on the next scan.
        """
        self._write(record, body, marker)
        return CommentRef(self.name, record.key, "")

    def update(self, ref: CommentRef, body: str, marker: str) -> None:
        """Journal entries cannot be edited: a new entry is written instead (as ``post``,
        including ``AmbiguousWrite`` without a second write)."""
        probe = Record(source=self.name, key=ref.record_key, number=ref.record_key, url="", title="")
        self._write(probe, body, marker)

    def _write(self, record: Record, body: str, marker: str) -> None:
        if marker and marker not in body:
            body = f"{body.rstrip()}\n\n{marker}"  # the marker is how the bot finds its entry again
        field = self.settings.journal_field
        action = f"add {field} to {record.number or record.key}"
        path = f"/api/now/table/{self.table}/{quote(record.key, safe='')}"
        params = {"sysparm_fields": "sys_id", "sysparm_exclude_reference_link": "true"}
        try:
            resp = self._request("PATCH", path, params=params, json={field: body}, action=action, write=True)
            try:
                answer = _json_body(resp, action)
            except TransientError as exc:  # a proxy's or login page's 200: the PATCH may never have arrived
                raise AmbiguousWrite(f"{exc.message}, so the write may not have landed", url=exc.url,
                                     status=resp.status_code) from None
            if not isinstance(answer, dict) or not isinstance(answer.get("result"), dict):
                raise AmbiguousWrite(f"ServiceNow answered {action} without the record it wrote",
                                     status=resp.status_code, url=path)
        except AmbiguousWrite:
            log.warning("servicenow source %s: the write on %s may or may not have landed; not writing it "
                        "again (settled by its marker %s)", self.name, record.number or record.key, marker)
            raise

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ServiceNowConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

