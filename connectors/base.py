"""The interface every ticketing-system connector meets.

``Connector``: fetch / get / get_in_scope / bot_comments / marked_keys / post / update /
probe / mapping_warnings / close, a context manager. ``RecordLookup`` is ``get`` alone, and
``MappingReport`` is ``mapping_warnings`` alone, for callers that must cope with a connector
lacking them.

A connector does I/O and nothing else: it turns the vendor's records into
``Record`` values, finds the bot's own earlier comments, and writes comments.
It never decides whether to comment; that lives in ``coach``. Vendor failures
are converted into the ``errors`` tree before they leave the connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Protocol, runtime_checkable

from csi_coach.connectors.probe import SourceProbe
from csi_coach.model import BotComment, BrokenRecord, CommentRef, Record


@runtime_checkable
class RecordLookup(Protocol):
    """The one-record read alone: ``isinstance(conn, RecordLookup)`` tells callers
    (explain --ticket) whether a connector, e.g. a third-party one written before
    ``get`` joined the interface, can read one record or must be scanned."""

    def get(self, key: str) -> Record | BrokenRecord | None: ...


@runtime_checkable
class MappingReport(Protocol):
    """``mapping_warnings`` alone: ``isinstance(conn, MappingReport)`` tells the scan whether a
    connector (e.g. a third-party one written before it joined the interface) reports them."""

    def mapping_warnings(self) -> list[str]: ...


@runtime_checkable
class Connector(Protocol):
    name: str  # the source's name in the config
    target: str  # template folder for its markup: "servicenow" or "jira"
    can_edit: bool  # True where the bot may edit its own comment in place

    def __enter__(self) -> Connector: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def fetch(self, since: datetime | None) -> Iterator[Record | BrokenRecord]:
        """Records updated at or after ``since`` (all when None), oldest first.

        Streams page by page; never holds all records. An item that cannot be
        mapped is yielded as ``BrokenRecord`` rather than raised. A page on which no
        record carries a mapped goal field raises ``ConfigError`` (naming the field and
        the fields the source has, ``connectors.field_census``) before any record of it
        is yielded: a wrong mapping would read every goal as empty and coach everyone.
        """
        ...

    def mapping_warnings(self) -> list[str]:
        """What the last ``fetch`` found amiss in the field mapping short of failing: a mapped
        field no record read carried, a goal field empty on every record read (one line
        each, naming the setting, for the scan's summary and report)."""
        ...

    def probe(self) -> SourceProbe:
        """Check the source without writing anything (``check-config --connect``): log in,
        read one page of the scope and count the records in it, check the mapped fields on
        that page (and how often the goal holds text), whether the bot may read the comments
        it recognises its own by, and whether it may write, as far as the vendor lets one
        ask. What it finds, failures included, comes back as ``Check`` lines, never raised.
        """
        ...

    def get(self, key: str) -> Record | BrokenRecord | None:
        """One record by its system key (ServiceNow sys_id, Jira issue key or id) or by
        its display number (ServiceNow ``number`` such as CIM0010023; for Jira the key
        is the number), or None when there is no such record.

        Reads that one record (one request, same fields and mapping as ``fetch``),
        whatever the source's query/JQL filter; never scans the source.
        """
        ...

    def get_in_scope(self, key: str) -> Record | BrokenRecord | None:
        """The record with system key ``key`` (``Record.key`` as ``fetch`` yields it) only if it is
        still in this source's scope (the admin's ServiceNow ``query`` / Jira ``jql``), mapped as
        ``fetch`` would yield it; None when it is gone, hidden from the bot or out of scope.

        One request. The scan re-reads records that failed in earlier scans with it,
        so a record moved out of scope is neither judged nor coached. The record's
        key may differ from ``key`` where the vendor follows a renamed record (a Jira
        issue moved to another project answers its old key under its new one).
        """
        ...

    def bot_comments(self, record: Record) -> list[BotComment]:
        """The bot's own earlier comments on ``record``, oldest first."""
        ...

    def marked_keys(self, since: datetime | None) -> set[str]:
        """Keys (``Record.key``, as ``fetch`` yields them) of records in this source's scope that
        carry at least one comment with the bot marker (``model.MARKER_PREFIX`` "csi-coach:"),
        created at or after ``since`` (None: ever). May over-report (a human quoting the marker,
        records outside the admin's filter), never under-report what the server has indexed.

        One bulk query, streamed page by page (only the key set is held), so the
        pipeline reads ``bot_comments`` only of records that have some; errors
        are raised from the ``errors`` tree as ``fetch`` raises them.
        """
        ...

    def post(self, record: Record, body: str, marker: str) -> CommentRef:
        """Write a new comment carrying ``marker``; return where it went
        (``comment_id`` may be "" where the vendor does not say; ServiceNow).

        Writes at most once. When the outcome is unknown (timeout or reset after
        sending, 500/502/504) it raises ``AmbiguousWrite`` without looking or
        writing again: the write may still commit later. The pipeline keeps its
        ledger row pending and settles it with ``bot_comments`` by marker,
        creation time and the comment ids it already knows.
        """
        ...

    def update(self, ref: CommentRef, body: str, marker: str) -> None:
        """Replace the body of an earlier bot comment (only when ``can_edit``;
        ServiceNow writes a new journal entry). ``AmbiguousWrite`` as for ``post``."""
        ...

    def close(self) -> None: ...
