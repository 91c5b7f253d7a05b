"""The Jira sandbox's site: one project of seeded issues, users, comments and their properties.

Issues are not stored whole: a compact row per issue (key, dates, status, labels,
assignee, component) is built from `sandbox.seed` on a background thread, which is
all a JQL search needs; the text of an issue is regenerated from the seed when a
response shows it (a pure function of index and seed) and kept in a small cache.
What the API changed (comments, properties, edited fields, `updated`) lives in
overlays. One lock guards every read and write, so the HTTP threads share a Site.

Values are kept in one canonical form (times as epoch seconds, comment bodies as
the text or ADF they were written in); `sandbox.jirashape` renders them per flavor
and API version.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from csi_coach.sandbox import seed as seedmod
from csi_coach.sandbox.jira.adf import to_wiki
from csi_coach.sandbox.jira.jql import Catalog, Floor, Query, position

PROJECT_KEY = "CSI"
PROJECT_NAME = "Continual Service Improvement"
PROJECT_ID = "10000"
ISSUE_TYPE = "Improvement"
ISSUE_TYPE_ID = "10100"
GOAL_FIELD = "customfield_10050"
GOAL_NAME = "Value goal"
FIRST_SEEDED_COMMENT_ID = 10000
FIRST_COMMENT_ID = 20000
_CACHED_QUERIES = 8
_PATCH_LIMIT = 2000
STARTUP_WAIT = 20.0  # seconds a request waits for the records before a 503 + Retry-After  # more changes than this since a query was cached: run it afresh

# seed state -> (Jira status, status id, status category key)
STATUSES = {
    "Draft": ("To Do", "10000", "new"),
    "Open": ("Open", "1", "new"),
    "Work in Progress": ("In Progress", "3", "indeterminate"),
    "On Hold": ("On Hold", "10001", "indeterminate"),
    "Closed": ("Done", "10002", "done"),
    "Cancelled": ("Cancelled", "10003", "done"),
}
STATUS_CATEGORIES = {  # key -> (id, name, colour)
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
ROLES = ("Administrators", "Service Owners", "Developers", "Users")
GROUPS = ("jira-administrators", "jira-software-users", "csi-coaches", "service-owners")
MAX_COMMENT_CHARS = 32_767
MAX_PROPERTY_BYTES = 32_768

_SEEDED_REMARKS = (
    "Raised at the monthly service review; {owner} to confirm the target with the service owner.",
    "Linked to the problem record from last quarter. Any update on the baseline figures?",
    "Moved to {status} after the CAB discussion.",
    "Can we get the customer survey results attached before the next review?",
    "Agreed with the business sponsor that this stays on the FY plan.",
    "Baseline measured over four weeks; numbers are in the attached sheet.",
)


class ApiError(Exception):
    """An answer other than success: status, Jira's errorMessages and errors."""

    def __init__(self, status: int, messages: Iterable[str] = (), errors: dict[str, str] | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        self.status = status
        self.headers = list(headers or [])
        self.messages = list(messages)
        self.errors = dict(errors or {})
        super().__init__(f"{status}: {'; '.join(self.messages) or self.errors}")

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


@dataclass(frozen=True)
class Account:
    display_name: str
    account_id: str  # Cloud
    name: str  # Data Center login
    key: str  # Data Center user key
    email: str


def account_for(display_name: str, email: str = "") -> Account:
    digest = hashlib.sha1(display_name.encode("utf-8")).hexdigest()
    login = "".join(ch for ch in display_name.lower().replace(" ", ".") if ch.isalnum() or ch == ".")
    return Account(display_name, f"712020:{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
                   login, f"JIRAUSER{10100 + int(digest[:4], 16) % 9000}", email or f"{login}@example.com")


BOT = Account("CSI Coach", "712020:5c1c0ac4-c0ac-4c51-9c0a-c5100ac4b07a", "csi-coach", "JIRAUSER10000",
              "csi-coach@example.com")


@dataclass
class Comment:
    id: int
    issue: int  # issue index
    author: Account
    body: Any  # wiki text (str) or an ADF doc (dict), as written
    created: float
    updated: float
    update_author: Account
    visibility: dict[str, str] | None = None
    properties: dict[str, Any] = field(default_factory=dict)


class Row:
    """One issue as a JQL search sees it (text fields come from the seed on demand)."""

    __slots__ = ("index", "key", "updated", "created", "status", "category", "labels", "assignee",
                 "component", "site")

    def __init__(self, site: Site, rec: seedmod.SeedRecord) -> None:
        status = STATUSES.get(rec.state, ("Open", "1", "new"))
        self.site = site
        self.index = rec.index
        self.key = f"{PROJECT_KEY}-{rec.index + 1}"
        self.updated = rec.updated.timestamp()
        self.created = rec.created.timestamp()
        self.status = status[0]
        self.category = STATUS_CATEGORIES[status[2]][1]
        self.labels = rec.labels
        self.assignee = rec.owner
        self.component = rec.service

    @property
    def id(self) -> str:
        return str(10001 + self.index)

    def value(self, name: str) -> Any:
        if name == "project":
            return PROJECT_KEY
        if name == "issuetype":
            return ISSUE_TYPE
        if name == "statusCategory":
            return self.category
        if name == "assignee":
            return (self.assignee, account_for(self.assignee).name, account_for(self.assignee).account_id)
        if name == "comment":
            return self.site.comment_text(self.index)
        if name in ("summary", "description", GOAL_FIELD, "text"):
            fields = self.site.text_fields(self.index)
            if name == "text":
                return " ".join(v for v in fields.values() if v)
            return fields[name]
        return getattr(self, name, None)


class Site:
    """The seeded site. Methods raise ApiError with Jira's wording."""

    def __init__(self, records: int, seed: int, anchor: datetime | None = None, clock=time.time) -> None:
        if not 0 <= records <= seedmod.MAX_RECORDS:
            raise ValueError(f"records must be between 0 and {seedmod.MAX_RECORDS}, got {records}")
        self.records, self.seed = records, seed
        self.anchor = anchor or seedmod.default_anchor()
        self.clock = clock
        self.lock = threading.RLock()
        self.rows: list[Row] = []
        self.comments: dict[int, Comment] = {}
        self.by_issue: dict[int, list[int]] = {}
        self.edits: dict[int, dict[str, Any]] = {}  # issue index -> fields set through the API
        self.notifications = 0  # e-mails Jira would have sent (new comments, edits with notifyUsers)
        self._next_comment = FIRST_COMMENT_ID
        self._ready = threading.Event()
        self.startup_wait = STARTUP_WAIT
        self._failure: BaseException | None = None
        self._record = lru_cache(maxsize=4096)(self._seed_record)
        self._search_cache: dict[str, tuple[int, list]] = {}  # query text -> (change-log length, hits)
        self._change_log: list[int] = []

    # ---- building --------------------------------------------------------------------

    def build_async(self) -> None:
        threading.Thread(target=self._build, name="jira-sandbox-seed", daemon=True).start()

    def build(self) -> None:
        self._build()
        self.wait(None)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def _build(self) -> None:
        try:
            rows = [Row(self, rec) for rec in seedmod.generate("jira", self.records, self.seed, self.anchor)]
            with self.lock:
                self.rows = rows
                self._seed_comments()
        except BaseException as exc:  # surfaced to every request rather than lost in a thread
            self._failure = exc
        finally:
            self._ready.set()

    def wait(self, timeout: float | None) -> None:
        """Block until the records are built; past `timeout`, answer as a starting Jira does (503)."""
        if not self._ready.wait(timeout):
            raise ApiError(503, ["Jira is starting up: the sandbox is still generating its issues. "
                                 "Try again shortly."], headers=[("Retry-After", "5")])
        if self._failure is not None:
            raise RuntimeError(f"the Jira sandbox could not build its records: {self._failure}")

    def _seed_comments(self) -> None:
        """About a quarter of the issues carry remarks from people (ids below the bot's)."""
        next_id = FIRST_SEEDED_COMMENT_ID
        owners = seedmod.owners()
        for row in self.rows:
            rng = random.Random(row.index * 7919 + self.seed)
            if rng.random() >= 0.25:
                continue
            for _ in range(1 + int(rng.random() * 3)):
                person = account_for(owners[int(rng.random() * len(owners))])
                when = row.created + rng.random() * max(0.0, row.updated - row.created)
                text = _SEEDED_REMARKS[int(rng.random() * len(_SEEDED_REMARKS))].format(
                    owner=row.assignee, status=row.status)
                self.comments[next_id] = Comment(next_id, row.index, person, text, when, when, person)
                self.by_issue.setdefault(row.index, []).append(next_id)
                next_id += 1
        for ids in self.by_issue.values():
            ids.sort(key=lambda cid: self.comments[cid].created)

    # ---- issues ----------------------------------------------------------------------

    def catalog(self, current_user: str) -> Catalog:
        return Catalog(projects=(PROJECT_KEY, PROJECT_NAME), issue_types=(ISSUE_TYPE,),
                       statuses=tuple(s[0] for s in STATUSES.values()),
                       status_categories=tuple(c[1] for c in STATUS_CATEGORIES.values()),
                       current_user=current_user)

    def search(self, query: Query) -> list[tuple[tuple, Row]]:
        """(position, row) for the rows matching the query, in its order (ties broken by index).

        A scan pages through one query while it writes, so results are cached per query
        text and patched with the rows changed since, rather than re-filtering and
        re-sorting the whole site for every page. Queries with relative dates are not cached.
        """
        self.wait(self.startup_wait)
        if query.floor is not None and query.rest is not None:
            seek = self._seek(query.floor, query.rest)
            if seek is not None:
                return seek
        with self.lock:
            cached = self._search_cache.get(query.text) if not query.volatile else None
            if cached is not None and len(self._change_log) - cached[0] <= _PATCH_LIMIT:
                seen, hits = cached
                changed = set(self._change_log[seen:])
                if changed:
                    hits = [hit for hit in hits if hit[1].index not in changed]
                    for index in sorted(changed):
                        row = self.rows[index]
                        if query.matches(row):
                            bisect.insort(hits, (position(query, row, index), row), key=lambda hit: hit[0])
            else:
                hits = [(position(query, row, row.index), row) for row in self.rows if query.matches(row)]
                hits.sort(key=lambda hit: hit[0])
            if not query.volatile:
                self._search_cache.pop(query.text, None)
                self._search_cache[query.text] = (len(self._change_log), hits)
                while len(self._search_cache) > _CACHED_QUERIES:
                    self._search_cache.pop(next(iter(self._search_cache)))
            return hits

    def _seek(self, floor: Floor, rest: Query) -> list[tuple[tuple, Row]] | None:
        """The hits of ``rest AND <floor>``: the cached, ordered hits of ``rest`` from the first
        at or past the floor, up to the first with the field empty (Jira lists those last).
        A keyset-paging client changes only the floor from page to page, so this is a
        bisection where a full pass would filter and sort every issue for every page.
        None when the field's values do not compare with the floor's (no such field here)."""
        hits = self.search(rest)
        part = lambda hit: hit[0][0]  # noqa: E731 - (empty, value) of the first, ascending sort field
        try:
            end = bisect.bisect_left(hits, (True,), key=part)
            find = bisect.bisect_left if floor.operator == ">=" else bisect.bisect_right
            return hits[find(hits, (False, floor.ref), hi=end, key=part):end]
        except TypeError:
            return None

    def _changed(self, index: int) -> None:
        """Record that a row's searchable values changed (caller holds the lock)."""
        self._change_log.append(index)

    def row(self, key_or_id: str) -> Row:
        self.wait(self.startup_wait)
        text = key_or_id.strip()
        index = None
        if text.isdigit():
            index = int(text) - 10001
        else:
            project, _, number = text.upper().rpartition("-")
            if project == PROJECT_KEY and number.isdigit():
                index = int(number) - 1
        if index is None or not 0 <= index < len(self.rows):
            raise ApiError(404, ["Issue does not exist or you do not have permission to see it."])
        return self.rows[index]

    def has_issue(self, key_or_id: str) -> bool:
        try:
            self.row(key_or_id)
        except ApiError:
            return False
        return True

    def _seed_record(self, index: int) -> seedmod.SeedRecord:
        return seedmod.record_at("jira", index, self.seed, self.anchor)

    def text_fields(self, index: int) -> dict[str, str]:
        rec = self._record(index)
        values = {"summary": rec.title, "description": rec.description, GOAL_FIELD: rec.goal}
        values.update({k: v for k, v in self.edits.get(index, {}).items() if k in values})
        return values

    def edit_issue(self, row: Row, fields: dict[str, Any], label_ops: list[tuple[str, str]]) -> None:
        with self.lock:
            edits = self.edits.setdefault(row.index, {})
            for name, value in fields.items():
                if name == "labels":
                    row.labels = tuple(value)
                else:
                    edits[name] = value
            labels = list(row.labels)
            for op, label in label_ops:
                if op == "add" and label not in labels:
                    labels.append(label)
                elif op == "remove" and label in labels:
                    labels.remove(label)
                elif op == "set":
                    labels = [label]
            row.labels = tuple(labels)
            row.updated = self.clock()
            self._changed(row.index)

    # ---- comments --------------------------------------------------------------------

    def issue_comments(self, row: Row) -> list[Comment]:
        with self.lock:
            return [self.comments[cid] for cid in self.by_issue.get(row.index, [])]

    def comment_text(self, index: int) -> str:
        """The bodies of an issue's comments as one text, for JQL ``comment ~`` (ADF as wiki text)."""
        with self.lock:
            bodies = [self.comments[cid].body for cid in self.by_issue.get(index, ())]
        return "\n\n".join(b if isinstance(b, str) else to_wiki(b) for b in bodies)

    def comment(self, comment_id: str, row: Row | None = None) -> Comment:
        with self.lock:
            found = self.comments.get(int(comment_id)) if comment_id.isdigit() else None
        if found is None or (row is not None and found.issue != row.index):
            raise ApiError(404, [f"Can not find a comment for the id: {comment_id}."])
        return found

    def add_comment(self, row: Row, author: Account, body: Any, visibility: dict[str, str] | None,
                    properties: dict[str, Any]) -> Comment:
        with self.lock:
            now = self.clock()
            cid = self._next_comment
            self._next_comment += 1
            made = Comment(cid, row.index, author, body, now, now, author, visibility, dict(properties))
            self.comments[cid] = made
            self.by_issue.setdefault(row.index, []).append(cid)
            row.updated = now  # a comment counts as an update of the issue
            self._changed(row.index)
            self.notifications += 1
            return made

    def update_comment(self, found: Comment, editor: Account, body: Any | None, visibility: dict[str, str] | None,
                       properties: dict[str, Any] | None, notify: bool) -> Comment:
        with self.lock:
            now = self.clock()
            if body is not None:
                found.body = body
            if visibility is not None:
                found.visibility = visibility or None
            if properties:
                found.properties.update(properties)
            found.updated, found.update_author = now, editor
            self.rows[found.issue].updated = now
            self._changed(found.issue)
            if notify:
                self.notifications += 1
            return found

    def delete_comment(self, found: Comment) -> None:
        with self.lock:
            self.comments.pop(found.id, None)
            ids = self.by_issue.get(found.issue, [])
            if found.id in ids:
                ids.remove(found.id)
            self.rows[found.issue].updated = self.clock()
            self._changed(found.issue)

    def set_property(self, found: Comment, key: str, value: Any) -> bool:
        """True when the property is new."""
        with self.lock:
            created = key not in found.properties
            found.properties[key] = value
            return created

    def delete_property(self, found: Comment, key: str) -> None:
        with self.lock:
            if key not in found.properties:
                raise ApiError(404, [f"The property with key '{key}' does not exist."])
            del found.properties[key]

    def comments_by_ids(self, ids: list[int]) -> list[Comment]:
        with self.lock:
            return [self.comments[i] for i in sorted(set(ids)) if i in self.comments]
