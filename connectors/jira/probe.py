"""``check-config --connect`` for a Jira source: what the bot's account can do, found without
writing anything (``JiraConnector.probe``).

Requests, five to seven: ``myself`` (the login; ``serverInfo`` first with flavor "auto");
one search page of the admin's JQL with the mapped fields (Jira answers 400 with its
own words for a JQL error); the number in scope (Data Center: the search's ``total``;
Cloud, whose ``search/jql`` gives none: ``POST search/approximate-count``); ``GET
/field`` only when a mapped field is missing, to offer the closest ids; the first
comment of the first issue (comment read); and ``GET mypermissions`` for that issue.

Write permission is asked, not tried: ``GET /rest/api/2/mypermissions`` with
``issueKey`` and ``permissions=BROWSE_PROJECTS,ADD_COMMENTS,EDIT_OWN_COMMENTS``
(Atlassian's "Get my permissions"; Cloud requires the ``permissions`` list, and each
key comes back as ``{"havePermission": true|false}``). In an issue's context it
accounts for issue security; without an issue in scope it says only whether the
account holds the permission in some project. Comment visibility (role or group) and
Service Management's internal notes are not covered by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from csi_coach.connectors.jira.answers import an_object, listed
from csi_coach.connectors.jira.errors import Action
from csi_coach.connectors.jira.jql import build_jql, strip_order_by
from csi_coach.connectors.jira.mapping import requested_fields
from csi_coach.connectors.probe import Check, SourceProbe, failure, field_checks, ok, warn
from csi_coach.connectors.probe import fail as failed
from csi_coach.errors import AuthError, BadRequest, CoachError, Gone, NotFound, PermissionDenied

if TYPE_CHECKING:
    from csi_coach.connectors.jira.connector import JiraConnector

# Project permission keys (Atlassian's "Get all permissions"), and what the bot needs each for.
PERMISSIONS = {
    "BROWSE_PROJECTS": "Browse projects",
    "ADD_COMMENTS": "Add comments",
    "EDIT_OWN_COMMENTS": "Edit own comments",
}


def probe(conn: JiraConnector) -> SourceProbe:
    checks: list[Check] = []
    try:
        _run(conn, checks)
    except CoachError as exc:  # a failure the steps did not expect: the connection, the answer
        checks.append(failure("connection", exc))
    return SourceProbe(conn.name, tuple(checks))


def _run(conn: JiraConnector, checks: list[Check]) -> None:
    s = conn.settings
    try:
        me = conn.myself()
        flavor = conn.flavor
    except AuthError as exc:
        checks.append(failure("login", exc))
        return
    who = str(me.get("displayName") or me.get("name") or me.get("accountId") or "?")
    checks.append(ok(f"login: ok as {who!r} (Jira {flavor}, {s.auth.method} auth)"))

    try:
        issues, in_scope = _first_page(conn, flavor)
    except (BadRequest, Gone) as exc:
        checks.append(failure(f"jql {s.jql!r}", exc, config_fixes=(BadRequest, Gone)))
        return
    except PermissionDenied as exc:
        checks.append(failure(f"jql {s.jql!r}", exc))
        return
    if not issues:
        checks.append(warn(f"jql {s.jql!r}: 0 issues in scope (or the account may not browse them)"))
    else:
        checks.append(ok(f"jql {s.jql!r}: {in_scope} issue(s) in scope"))

    census = conn.page_census(issues)
    missing = any(census.absent(name) for name in requested_fields(s.fields))
    checks.extend(field_checks(census, s.fields, source=conn.name, config_file=s.auth.config_file,
                               vendor=f"Jira ({conn.base_url})", skip=("key",),
                               available=conn.available_fields() if missing else None))
    key = next((str(i["key"]) for i in issues if isinstance(i, Mapping) and isinstance(i.get("key"), str)), "")
    checks.append(_comment_read(conn, key))
    checks.extend(_write_permissions(conn, key))


def _first_page(conn: JiraConnector, flavor: str) -> tuple[list[Any], str]:
    """One search page of the admin's JQL with the mapped fields, and the number in scope as text."""
    s = conn.settings
    jql = build_jql(s.jql, None)
    fields = ",".join(requested_fields(s.fields))
    if flavor != "cloud":
        action = Action("search issues (GET /rest/api/2/search)", "Browse projects")
        data = conn._get("search", {"jql": jql, "fields": fields, "startAt": 0, "maxResults": s.page_size}, action,
                         lambda d: an_object(d, "a search page"))
        issues = listed(data, "issues")
        total = data.get("total")
        return issues, str(total) if isinstance(total, int) else f"{len(issues)} or more"
    action = Action("search issues (GET /rest/api/2/search/jql)", "Browse projects")
    data = conn._get("search/jql", {"jql": jql, "fields": fields, "maxResults": s.page_size}, action,
                     lambda d: an_object(d, "a search page"))
    issues = listed(data, "issues")
    if not issues or data.get("isLast") is True or not data.get("nextPageToken"):
        return issues, str(len(issues))
    try:
        count = conn._send("POST", "search/approximate-count", {"jql": strip_order_by(s.jql)},
                           Action("count issues (POST /rest/api/2/search/approximate-count)", "Browse projects"))
    except (NotFound, BadRequest, PermissionDenied):
        return issues, f"{len(issues)} or more (this site has no approximate count)"
    number = count.get("count") if isinstance(count, Mapping) else None
    return issues, f"about {number}" if isinstance(number, int) else f"{len(issues)} or more"


def _comment_read(conn: JiraConnector, key: str) -> Check:
    """May the account list comments, where the bot finds its own? Asked on the first issue in scope."""
    if not key:
        return warn("comments: not checked, no issue in scope to read comments on")
    action = Action(f"list the comments of {key}", "Browse projects")
    try:
        conn._get(f"issue/{key}/comment", {"startAt": 0, "maxResults": 1}, action, lambda d: listed(d, "comments"))
    except (PermissionDenied, NotFound) as exc:
        return failed(f"comments: the account cannot list the comments of {key}, where the bot finds its own "
                      f"earlier comments: {exc}")
    return ok(f"comments: the account can read the comments of {key}")


def _write_permissions(conn: JiraConnector, key: str) -> list[Check]:
    """ADD_COMMENTS and EDIT_OWN_COMMENTS (and BROWSE_PROJECTS) by ``GET mypermissions``, on ``key``."""
    params = {"permissions": ",".join(PERMISSIONS)}
    if key:
        params["issueKey"] = key
    action = Action("ask the account's permissions (GET /rest/api/2/mypermissions)", "Browse projects")
    try:
        data = conn._get("mypermissions", params, action, lambda d: an_object(d, "a permissions answer"))
    except (BadRequest, NotFound, PermissionDenied) as exc:
        return [warn(f"write: could not ask the account's permissions: {exc}")]
    granted = data.get("permissions") if isinstance(data, Mapping) else None
    granted = granted if isinstance(granted, Mapping) else {}

    def has(perm: str) -> bool | None:
        entry = granted.get(perm)
        value = entry.get("havePermission") if isinstance(entry, Mapping) else None
        return value if isinstance(value, bool) else None

    where = f"on {key}" if key else "in some project (no issue in scope to ask about)"
    out: list[Check] = []
    if has("ADD_COMMENTS") is False:
        out.append(failed(f"write: the account lacks 'Add comments' {where} (mypermissions): the bot could "
                          "coach no one"))
    if has("EDIT_OWN_COMMENTS") is False:
        out.append(warn(f"write: the account lacks 'Edit own comments' {where} (mypermissions): a changed "
                        'finding cannot update the earlier comment (set on_change = "new" to write a new one)'))
    unknown = [PERMISSIONS[p] for p in ("ADD_COMMENTS", "EDIT_OWN_COMMENTS") if has(p) is None]
    if unknown:
        out.append(warn(f"write: mypermissions did not answer for {', '.join(unknown)}"))
    if not out:
        s = conn.settings
        extra = ""
        if s.visibility_type or s.internal:
            extra = "; comment visibility and internal notes are not covered by this check"
        checks = ok if key else warn
        out.append(checks(f"write: 'Add comments' and 'Edit own comments' granted {where} (mypermissions){extra}"))
    return out
