"""The interface every ticketing-system connector meets.

``Connector``: fetch / bot_comments / post / update / close, a context manager;
``RecordLookup``: ``get(key)``, one record by system key or display number
(ServiceNow has it; it joins ``Connector`` once every connector does).

A connector does I/O and nothing else: it turns the vendor's records into
``Record`` values, finds the bot's own earlier comments, and writes comments.
It never decides whether to comment; that lives in ``coach``. Vendor failures
are converted into the ``errors`` tree before they leave the connector.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Iterator, Protocol, runtime_checkable

from model import BotComment, BrokenRecord, CommentRef, Record


@runtime_checkable
class RecordLookup(Protocol):
    """Reading one record by key: part of the connector interface.

    Declared apart from ``Connector`` only until every connector has it: a
    runtime-checkable Protocol requires all its members, so adding ``get`` to
    ``Connector`` before the Jira connector has one would make
    ``isinstance(jira, Connector)`` false. Callers test ``isinstance(conn,
    RecordLookup)`` and otherwise fall back to ``fetch``.
    """

    def get(self, key: str) -> Record | BrokenRecord | None:
        """One record by its system key (ServiceNow sys_id, Jira issue key or id) or by
        its display number (ServiceNow ``number`` such as CIM0010023; for Jira the key
        is the number), or None when there is no such record.

        Reads that one record (one request, same fields and mapping as ``fetch``),
        whatever the source's query/JQL filter; never scans the source.
        """
        ...


@runtime_checkable
class Connector(Protocol):
    name: str  # the source's name in the config
    target: str  # template folder for its markup: "servicenow" or "jira"
    can_edit: bool  # True where the bot may edit its own comment in place

    def __enter__(self) -> "Connector": ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def fetch(self, since: datetime | None) -> Iterator[Record | BrokenRecord]:
        """Records updated at or after ``since`` (all when None), oldest first.

        Streams page by page; never holds all records. An item that cannot be
        mapped is yielded as ``BrokenRecord`` rather than raised.
        """
        ...

    def bot_comments(self, record: Record) -> list[BotComment]:
        """The bot's own earlier comments on ``record``, oldest first."""
        ...

    def post(self, record: Record, body: str, marker: str) -> CommentRef:
        """Write a new comment carrying ``marker``; return where it went."""
        ...

    def update(self, ref: CommentRef, body: str, marker: str) -> None:
        """Replace the body of an earlier bot comment (only when ``can_edit``)."""
        ...

    def close(self) -> None: ...
