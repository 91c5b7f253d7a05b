"""Every paged listing ends: one ``PageGuard`` per listing, asked before and after each page.

A server that answers every page with "more follows" would otherwise keep a scan
paging for ever (the same page with ``Link: rel="next"``, ``nextPageToken``
alternating A/B, ``total: 10**9`` with one issue a page), and since no record
reaches the pipeline, its stop check never runs. The guard ends such a listing
with an ``EndlessListing`` naming what the server did:

- a position asked for or a page answered before (``seen``): a ``nextPageToken``
  seen before in the same query, or a page whose body is byte for byte one already
  read (ServiceNow: a keyset listing never legitimately gets the same rows twice);
- a page that brings no record key not already read in this listing
  (``page_read``), beyond the re-reads the caller announced (``allow_rereads``:
  a restart at the last minute read, a step back over issues that left the set);
- more pages than the listing can need: ``max_pages`` of the source, lowered to
  twice the pages the server's own count needs plus ``COUNT_SLACK_PAGES``
  (``expect_rows``).

And a stop request (SIGTERM, the pipeline's stop Event) ends the listing between
pages, raised as the transport raises it during a retry wait (``TransientError``),
so the pipeline reports the source ``interrupted``.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from csi_coach.errors import EndlessListing, TransientError

DEFAULT_MAX_PAGES = 10_000  # per listing; at a page of 100 that is a million records
COUNT_SLACK_PAGES = 10  # on top of twice the pages a server's count needs


class PageGuard:
    """The pages of one listing (records, journal entries, comments of one record).

    ``what`` names the listing in messages: "ServiceNow source 'snow': read
    sn_cim_register". Not thread-safe: one listing is read by one thread.
    """

    def __init__(self, what: str, *, max_pages: int = DEFAULT_MAX_PAGES,
                 stop: threading.Event | None = None) -> None:
        self.what = what
        self.max_pages = max_pages
        self.stop = stop
        self.pages = 0  # pages asked for so far
        self.cap = max_pages
        self._cap_reason = f"max_pages = {max_pages} for this source"
        self._seen: set[Hashable] = set()
        self._rereads = 0  # rows the caller expects to read again before anything new
        self._stale = 0  # rows read since the last page that brought a new key

    def next_page(self) -> None:
        """Before asking for a page: a stop request (between pages) or the page cap ends it."""
        if self.pages and self.stop is not None and self.stop.is_set():
            raise TransientError(f"{self.what}: stopped on request between pages (after page {self.pages})")
        if self.pages >= self.cap:
            raise EndlessListing(f"{self.what}: the server still offered more after {self.pages} pages, "
                                 f"more than this listing can need ({self._cap_reason}); the source is read "
                                 "again next scan")
        self.pages += 1

    def seen(self, position: Hashable, told: str) -> None:
        """A position (token, page body digest) of this listing; raises when it came before.
        ``told`` says in words what repeated, e.g. "the nextPageToken 'A'"."""
        if position in self._seen:
            raise EndlessListing(f"{self.what}: the server answered page {self.pages} with {told} it had "
                                 "already sent in this listing, so paging would never end")
        self._seen.add(position)

    def expect_rows(self, rows: int, page_size: int) -> None:
        """The server counts ``rows`` still to come: at most twice the pages they need, plus slack.
        Twice, because re-reads (restarts, steps back, rows hidden by ACLs) cost pages too."""
        need = -(-max(rows, 0) // max(page_size, 1))
        cap = self.pages + 2 * need + COUNT_SLACK_PAGES
        if cap < self.cap:
            self.cap = cap
            self._cap_reason = f"the server counted {rows} more row(s) after page {self.pages}"

    def allow_rereads(self, rows: int) -> None:
        """The next pages may bring up to ``rows`` rows read already, on purpose."""
        self._rereads += max(rows, 0)

    def page_read(self, returned: int, new: int) -> None:
        """After a page the caller means to follow with another: ``returned`` rows, ``new`` of
        them not read before in this listing. A page of rows all read before, beyond the
        re-reads announced, means the server is serving the same rows again."""
        if new:
            self._stale = 0
            self._rereads = 0
            return
        self._stale += returned
        if returned and self._stale > self._rereads:
            raise EndlessListing(f"{self.what}: page {self.pages} brought only records already read in this "
                                 "listing while the server says more follow, so paging would never end")
