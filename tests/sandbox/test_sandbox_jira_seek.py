"""The Jira sandbox answers a keyset-paging query (``<rest> AND updated >= "<minute>" ORDER BY
updated ASC, ...``) by bisecting the ordered hits of ``<rest>``: every answer must equal a
full filter-and-sort, before and after writes (no HTTP)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from csi_coach.sandbox.jira.data import BOT, Site
from csi_coach.sandbox.jira.jql import parse, position

SEEKS = [
    'project = CSI AND updated >= "{x}" ORDER BY updated ASC, key ASC',
    '(project = CSI) AND labels = csi AND updated > "{x}" ORDER BY updated ASC, key ASC',
    'updated >= "{x}" ORDER BY updated, key',
    'updated >= "{x}" AND comment ~ "\\"csi-coach\\"" ORDER BY updated ASC, key ASC',
    'updated >= "{y}" AND project = CSI AND updated >= "{x}" ORDER BY updated ASC, key ASC',
    'created > "{x}" AND project = CSI ORDER BY created ASC, updated DESC',
]
NOT_SEEKS = [  # answered the ordinary way
    'project = CSI OR updated >= "{x}" ORDER BY updated ASC, key ASC',
    'NOT updated >= "{x}" ORDER BY updated ASC',
    '(labels = csi AND updated >= "{x}") ORDER BY updated ASC',
    'updated >= "{x}" ORDER BY updated DESC, key ASC',
    'updated >= "{x}" ORDER BY key ASC',
    'created >= "{x}" ORDER BY updated ASC',
    'updated >= -30d ORDER BY updated ASC',
]


def fresh(site: Site, query) -> list[str]:
    hits = sorted(((position(query, r, r.index), r) for r in site.rows if query.matches(r)), key=lambda h: h[0])
    return [r.key for _, r in hits]


def answer(site: Site, query) -> list[str]:
    return [r.key for _, r in site.search(query)]


def minutes(site: Site) -> list[str]:
    stamps = sorted(r.updated for r in site.rows)
    picked = stamps[::11] + [stamps[0] - 3600, stamps[-1], stamps[-1] + 3600]
    return [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") for t in picked]


def built(records: int, clock=None) -> Site:
    site = Site(records, 3, **({"clock": clock} if clock else {}))
    site.build()
    return site


@pytest.mark.parametrize("template", SEEKS + NOT_SEEKS)
def test_answers_equal_a_full_pass(template):
    site = built(250)
    catalog = site.catalog("CSI Coach")
    xs = minutes(site)
    for x, y in zip(xs, reversed(xs)):
        query = parse(template.format(x=x, y=y), catalog)
        assert (query.floor is not None) == (template in SEEKS)
        assert answer(site, query) == fresh(site, query), query.text


def test_answers_follow_writes_between_pages():
    """Comments move issues within the order (to times inside the seeded range) and
    label edits move them in and out of the rest of the query."""
    stamps = sorted(r.updated for r in built(250).rows)
    times = itertools.cycle(stamps[::17])
    site = built(250, clock=lambda: next(times))
    catalog = site.catalog("CSI Coach")
    for i, x in enumerate(minutes(site)):
        row = site.rows[(i * 37) % len(site.rows)]
        site.add_comment(row, BOT, f"csi-coach:{i}", None, {})
        site.edit_issue(site.rows[(i * 53) % len(site.rows)], {}, [("remove" if i % 2 else "add", "csi")])
        for template in SEEKS[:4]:
            query = parse(template.format(x=x), catalog)
            assert answer(site, query) == fresh(site, query), query.text
