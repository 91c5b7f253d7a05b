"""An honest in-memory connector, evaluator and renderer for scan unit tests.

The fake keeps every comment it was asked to write, finds them again by marker
like the real connectors do, and can fail on chosen records in the ways real
systems fail (refused, server error after the write landed, ambiguous reset).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from csi_coach.coach import OwnerReply
from csi_coach.config import AuthSettings, CommentPolicy, Config, JiraSettings, ServiceNowSettings, StateSettings
from csi_coach.errors import AmbiguousWrite, NotFound, TransientError
from csi_coach.model import (
    MARKER_RE,
    BotComment,
    BrokenRecord,
    Category,
    CommentRef,
    Evidence,
    Finding,
    Record,
    Severity,
    Verdict,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_records(source: str, goals: list[str], *, start: datetime = T0, states: dict[int, str] | None = None,
                 labels: dict[int, tuple[str, ...]] | None = None) -> list[Record]:
    states = states or {}
    labels = labels or {}
    return [
        Record(
            source=source, key=f"k{i}", number=f"REC{i:04d}", url=f"http://x/{i}", title=f"record {i}",
            goal=g, state=states.get(i, "Open"), labels=labels.get(i, ()),
            updated=start + timedelta(minutes=i),
        )
        for i, g in enumerate(goals)
    ]


def fake_evaluate(record: Record) -> Verdict:
    """value when the goal names revenue, process_only when it names MTTR, else no_goal."""
    text = record.goal.lower()
    if "explode" in text:
        raise ValueError("the engine choked")
    if "revenue" in text:
        return Verdict(Category.VALUE, measurable=True)
    if "mttr" in text:
        start = text.index("mttr")
        ev = (Evidence("goal", record.goal[start:start + 4], start, start + 4),)
        extra = ()
        if "incidents" in text:
            s2 = text.index("incidents")
            extra = (Finding("fewer-incidents", Severity.WARNING, "incident count only", (Evidence("goal", "incidents", s2, s2 + 9),)),)
        return Verdict(Category.PROCESS_ONLY, measurable=False,
                       findings=(Finding("process-only", Severity.WARNING, "process metric only", ev),) + extra)
    return Verdict(Category.NO_GOAL, measurable=False, findings=(Finding("no-goal", Severity.ERROR, "no goal"),))


class FakeRenderer:
    def comment(self, target, record, verdict, marker):
        return f"[{target}] {record.number}: {verdict.category.value}\n{marker}"

    def acknowledgement(self, target, record, verdict, marker):
        return f"[{target}] thanks for the value goal on {record.number}\n{marker}"

    def dispute_acknowledgement(self, target, record, verdict, marker, dispute):
        return f"[{target}] noted: {dispute['kind']} on {', '.join(dispute['rules'])} for {record.number}\n{marker}"

    def report(self, name, context):
        return f"<html>{name} {context['scan']['written']}</html>"


class FakeConnector:
    def __init__(self, name, records, *, target="servicenow", can_edit=False):
        self.name = name
        self.target = target
        self.can_edit = can_edit
        self.records = {r.key: r for r in records}
        self.comments: dict[str, list[BotComment]] = {}
        self.ops: list[tuple[str, str, str]] = []  # (op, record key, marker) of every successful write
        self.reads = 0
        self.gets: list[str] = []
        self.marked_asks: list[object] = []
        self.has_bulk_marks = True
        self.fail_write: dict[str, Exception] = {}  # key -> error raised instead of writing
        self.fail_times: dict[str, int] = {}  # key -> how many writes fail (default: all)
        self.land_then_fail: dict[str, Exception] = {}  # key -> error raised after the write landed
        self.land_later: dict[str, float] = {}  # key -> seconds after the AmbiguousWrite it lands (slow commit)
        self.broken: set[str] = set()
        self.fail_fetch_after: int | None = None
        self.fail_read: set[str] = set()
        self.replies: dict[str, list[OwnerReply]] = {}  # key -> owners' replies, oldest first
        self.reply_asks: list[tuple[str, datetime | None]] = []  # (key, since) of every owner_replies call
        self.closed = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closed = True

    def fetch(self, since):
        self.fetched_since = since
        items = sorted(self.records.values(), key=lambda r: r.updated)
        for n, r in enumerate(items):
            if since is not None and r.updated < since:
                continue
            if self.fail_fetch_after is not None and n >= self.fail_fetch_after:
                raise TransientError("list page failed", status=503)
            if r.key in self.broken:
                yield BrokenRecord(self.name, r.key, r.number, "unparseable date")
            else:
                yield r

    def get(self, key):
        self.gets.append(key)
        r = self.records.get(key)
        if r is not None and key in self.broken:
            return BrokenRecord(self.name, r.key, r.number, "unparseable date")
        return r

    def get_in_scope(self, key):
        """Every record the fake holds is in scope: the same as get()."""
        return self.get(key)

    def __getattr__(self, name):
        # ``marked_keys`` exists only while has_bulk_marks is on (a connector without it)
        if name == "marked_keys" and self.__dict__.get("has_bulk_marks"):
            return self._marked_keys
        raise AttributeError(name)

    def _marked_keys(self, since):
        self.marked_asks.append(since)
        with self._lock:
            return {k for k, cs in self.comments.items()
                    if any(since is None or c.created >= since for c in cs)}

    def _failing(self, key):
        if key not in self.fail_write:
            return None
        left = self.fail_times.get(key)
        if left is None:
            return self.fail_write[key]
        if left <= 0:
            return None
        self.fail_times[key] = left - 1
        return self.fail_write[key]

    def bot_comments(self, record):
        self.reads += 1
        if record.key in self.fail_read:
            raise TransientError("comments read failed", status=502)
        with self._lock:
            return list(self.comments.get(record.key, []))

    def post(self, record, body, marker):
        if (exc := self._failing(record.key)) is not None:
            raise exc
        if record.key in self.land_later:
            delay = self.land_later.pop(record.key)
            threading.Timer(delay, self._land, (record, body, marker)).start()
            raise AmbiguousWrite("gateway timeout (504) while the server went on")
        return self._land(record, body, marker)

    def _land(self, record, body, marker):
        with self._lock:
            cid = f"c{next(self._ids)}"
            self.comments.setdefault(record.key, []).append(
                BotComment(CommentRef(self.name, record.key, cid), marker, body, datetime.now(UTC), self.can_edit))
            self.ops.append(("post", record.key, marker))
        if record.key in self.land_then_fail:
            raise self.land_then_fail[record.key]
        return CommentRef(self.name, record.key, cid)

    def update(self, ref, body, marker):
        if (exc := self._failing(ref.record_key)) is not None:
            raise exc
        with self._lock:
            lst = self.comments[ref.record_key]
            for i, c in enumerate(lst):
                if c.ref.comment_id == ref.comment_id:
                    lst[i] = BotComment(c.ref, marker, body, c.created, True)
                    break
            else:
                raise NotFound("no such comment", status=404)
            self.ops.append(("update", ref.record_key, marker))

    def owner_replies(self, record, since):
        """Owners' replies created at or after ``since`` (all when None), oldest first, as the
        real connectors answer."""
        self.reply_asks.append((record.key, since))
        with self._lock:
            return [r for r in self.replies.get(record.key, [])
                    if since is None or r.created is None or r.created >= since]

    def reply(self, key, body, *, author="Ann Owner"):
        """An owner replies on the ticket now: the record becomes the most recently updated."""
        with self._lock:
            replies = self.replies.setdefault(key, [])
            replies.append(OwnerReply(f"r{next(self._ids)}", author, body, datetime.now(UTC)))
        latest = max(r.updated for r in self.records.values())
        self.records[key] = replace(self.records[key], updated=latest + timedelta(minutes=1))

    # what a person would see on the ticket
    def markers(self, key):
        return [MARKER_RE.search(c.body).group(1) for c in self.comments.get(key, [])]

    def set_goal(self, key, goal):
        """An owner edits the goal: the record becomes the most recently updated."""
        latest = max(r.updated for r in self.records.values())
        self.records[key] = replace(self.records[key], goal=goal, updated=latest + timedelta(minutes=1))


# A scan over fakes: the configs and the call the pipeline and report tests share.
GOALS = ["lower MTTR", "grow revenue", "", "MTTR and incidents", "more revenue", "cut MTTR"]
FLAGGED = {"k0", "k2", "k3", "k5"}


def make_config(tmp_path, sources=("snow",), **policy):
    settings = []
    for name in sources:
        if name.startswith("jira"):
            settings.append(JiraSettings(name=name, url="http://jira", auth=AuthSettings("basic")))
        else:
            settings.append(ServiceNowSettings(name=name, url="http://snow", auth=AuthSettings("basic")))
    return Config(
        path=tmp_path / "config.toml",
        state=StateSettings(path="state/s.sqlite"),
        comments=CommentPolicy(**{"settle_after_seconds": 0, **policy}),
        sources=tuple(settings),
    )


def scan(config, fakes, **kw):
    from csi_coach.scan.runner import run_scan  # late: the pipeline tests import this module first

    kw.setdefault("fingerprint", "fp1")
    return run_scan(
        config, evaluate=fake_evaluate, renderer=FakeRenderer(),
        open_connector=lambda settings, limiters: fakes[settings.name], **kw,
    )
