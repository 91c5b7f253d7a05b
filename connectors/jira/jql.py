"""JQL for the Jira connector's incremental scans (pure functions, no I/O).

The query is always

    (<admin's JQL>) AND updated >= "<watermark>" ORDER BY updated ASC, key ASC

with, for ``fetch``, ``AND updated < "<the end of the minute the listing started in>"``
before the order (see ``connector.JiraConnector.fetch``), and, for ``marked_keys``,
``MARKED_CLAUSE`` after the admin's part.

The admin's JQL is parenthesised so an ``OR`` inside it cannot swallow the
watermark, and any ``ORDER BY`` of its own is dropped (ours gives the stable
order that paging and the 10,000-result split rely on).

Watermark and time zones: JQL date literals have minute precision and are read
in the *searching user's* time zone (Jira profile setting), not UTC. We convert
the watermark into that zone (from ``GET /myself`` ``timeZone``) and round it
down to the minute, so nothing updated at the watermark is missed. If the zone
is unknown we widen the window by ``UNKNOWN_ZONE_WIDENING`` instead: a literal
read in any zone from UTC-12 to UTC+14 then still lies at or before the
watermark. The remaining skew risk (the profile zone changed between scans, a
DST fold) is covered by the scan's overlap window; re-seen records are cheap
because comments are keyed by digest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from csi_coach.model import MARKER_PREFIX

ORDER_CLAUSE = "ORDER BY updated ASC, key ASC"
JQL_TIME_FORMAT = "%Y-%m-%d %H:%M"  # Jira's "yyyy-MM-dd HH:mm"
UNKNOWN_ZONE_WIDENING = timedelta(hours=14)

# Issues with a comment carrying the bot's marker "csi-coach:<digest>". Only the
# word "csi" is searched: every analyzer splits at the hyphen, so "csi" is always a
# word of its own, whereas "coach" may not be: under Unicode word breaking (UAX #29)
# a colon between letters joins them, so "coach:ab12..." can be one word and the
# phrase "csi coach" would miss the markers whose digest starts with a letter.
# Over-reporting (people writing "CSI") only costs a comment read before a write;
# under-reporting would cost a duplicate comment.
MARKED_CLAUSE = 'comment ~ "' + MARKER_PREFIX.split("-")[0] + '"'

_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def strip_order_by(jql: str) -> str:
    """The admin's JQL without a trailing ORDER BY clause (quotes respected)."""
    text = jql.strip()
    cut = None
    for match in _ORDER_BY.finditer(text):
        if not _inside_quotes(text, match.start()):
            cut = match.start()
            break
    if cut is not None:
        text = text[:cut].rstrip()
    return text


def _inside_quotes(text: str, pos: int) -> bool:
    quote = ""
    escaped = False
    for ch in text[:pos]:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
    return bool(quote)


def user_zone(name: str | None) -> tzinfo | None:
    """The Jira user's time zone from ``myself.timeZone``; None if unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def jql_time(moment: datetime, zone: tzinfo | None) -> str:
    """``moment`` as a JQL literal in the user's zone, rounded down to the minute."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if zone is None:
        local = moment.astimezone(UTC) - UNKNOWN_ZONE_WIDENING
    else:
        local = moment.astimezone(zone)
    return local.strftime(JQL_TIME_FORMAT)


def build_jql(admin_jql: str, watermark: str | None, extra: str = "", until: str | None = None) -> str:
    """The full query: admin's restriction, an extra clause of ours, the watermark, the listing's
    upper bound (``updated < until``: fixed when the listing starts), the stable order."""
    clauses = []
    restriction = strip_order_by(admin_jql)
    if restriction:
        clauses.append(f"({restriction})")
    if extra:
        clauses.append(extra)
    if watermark:
        clauses.append(f'updated >= "{watermark}"')
    if until:
        clauses.append(f'updated < "{until}"')
    return " AND ".join(clauses) + " " + ORDER_CLAUSE


def scope_jql(admin_jql: str, key: str) -> str:
    """One issue by key, within the admin's restriction: ``key = "<key>" AND (<admin JQL>)``."""
    restriction = strip_order_by(admin_jql)
    clause = f'key = "{key}"'
    return f"{clause} AND ({restriction})" if restriction else clause
