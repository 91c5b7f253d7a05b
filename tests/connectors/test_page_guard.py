"""PageGuard: the rules that end a listing, without a server (issue 13, finding 2)."""

from __future__ import annotations

import threading

import pytest

from csi_coach.connectors.page_guard import COUNT_SLACK_PAGES, PageGuard
from csi_coach.errors import EndlessListing, RemoteError, TransientError


def test_max_pages_is_the_ceiling():
    guard = PageGuard("src: list x", max_pages=3)
    for _ in range(3):
        guard.next_page()
    with pytest.raises(EndlessListing) as exc:
        guard.next_page()
    assert "src: list x" in str(exc.value) and "after 3 pages" in str(exc.value) and "max_pages = 3" in str(exc.value)
    assert isinstance(exc.value, RemoteError)  # the source fails like any failed read


def test_the_servers_count_lowers_the_cap_never_raises_it():
    guard = PageGuard("x", max_pages=100)
    guard.next_page()
    guard.expect_rows(10, 5)  # two pages' worth: 1 + 2 x 2 + slack
    assert guard.cap == 1 + 4 + COUNT_SLACK_PAGES
    guard.expect_rows(10**9, 5)  # a bigger count never lifts it
    assert guard.cap == 1 + 4 + COUNT_SLACK_PAGES
    guard.expect_rows(-7, 5)  # a count below what was read: only the slack is left
    assert guard.cap == 1 + COUNT_SLACK_PAGES


def test_a_position_seen_before_ends_the_listing():
    guard = PageGuard("x")
    guard.next_page()
    guard.seen(("token", "A"), "the nextPageToken 'A'")
    guard.next_page()
    guard.seen(("token", "B"), "the nextPageToken 'B'")
    guard.next_page()
    with pytest.raises(EndlessListing, match="page 3 with the nextPageToken 'A' it had already sent"):
        guard.seen(("token", "A"), "the nextPageToken 'A'")


def test_a_page_of_rows_all_read_before_ends_the_listing():
    guard = PageGuard("x")
    guard.next_page()
    guard.page_read(2, 2)
    guard.next_page()
    with pytest.raises(EndlessListing, match="page 2 brought only records already read"):
        guard.page_read(2, 0)


def test_an_empty_page_is_no_evidence_either_way():
    # ServiceNow: rows hidden by read ACLs leave pages empty while more follow; the cap bounds those
    guard = PageGuard("x")
    for _ in range(50):
        guard.next_page()
        guard.page_read(0, 0)


def test_announced_re_reads_are_allowed_until_a_page_brings_something_new():
    guard = PageGuard("x")
    guard.next_page()
    guard.page_read(5, 5)
    guard.allow_rereads(7)  # a restart at the last minute read: 7 issues come again
    guard.next_page()
    guard.page_read(5, 0)
    guard.next_page()
    guard.page_read(2, 0)  # 7 re-read: as announced
    guard.next_page()
    guard.page_read(5, 3)  # new ones: the allowance is spent
    guard.next_page()
    with pytest.raises(EndlessListing):
        guard.page_read(5, 0)


def test_more_re_reads_than_announced_end_the_listing():
    guard = PageGuard("x")
    guard.next_page()
    guard.page_read(5, 5)
    guard.allow_rereads(3)
    guard.next_page()
    with pytest.raises(EndlessListing):
        guard.page_read(5, 0)


def test_a_stop_request_ends_the_listing_between_pages_not_before_the_first():
    stop = threading.Event()
    stop.set()
    guard = PageGuard("src: list x", stop=stop)
    guard.next_page()  # a listing asked for after the stop still reads its first page (a look-up)
    with pytest.raises(TransientError, match="src: list x: stopped on request between pages .after page 1."):
        guard.next_page()
