"""``check-config --connect`` for a ServiceNow source: what the bot's account can do, found
without writing anything (``ServiceNowConnector.probe``).

Requests, four or five: one page of the table within the admin's query, counted
(``X-Total-Count``: the records in scope, before read ACLs); with a query, one count of
the whole table, because ServiceNow drops query terms it cannot read and a misspelt
field then selects every record; the table's fields (only when a mapped field is
missing, to offer the closest names); one row of ``sys_journal_field`` for the table,
counted; and, for OAuth client credentials or an API key, the ``sys_user`` look-up of
who the bot is (``bot_user``).

Write permission on the journal field cannot be asked without writing: the Table API
has no "may I" call, and a PATCH that is refused or accepted has already acted. The
probe says so, and how to check it by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from csi_coach.connectors.probe import Check, SourceProbe, failure, field_checks, ok, warn
from csi_coach.connectors.probe import fail as failed
from csi_coach.errors import AuthError, BadRequest, CoachError, ConfigError, NotFound, PermissionDenied

if TYPE_CHECKING:
    from csi_coach.connectors.servicenow.connector import ServiceNowConnector

JOURNAL_TABLE = "sys_journal_field"


def probe(conn: ServiceNowConnector) -> SourceProbe:
    checks: list[Check] = []
    try:
        _run(conn, checks)
    except CoachError as exc:  # a failure the steps did not expect: the connection, the answer
        checks.append(failure("connection", exc))
    return SourceProbe(conn.name, tuple(checks))


def _counted(conn: ServiceNowConnector, table: str, params: dict[str, str], action: str) -> tuple[list[Any], int | None]:
    """One counted read: the rows and ``X-Total-Count`` (None when the instance sends none)."""
    resp = conn._request("GET", f"/api/now/table/{table}", params=params, action=action, empty_404=True)
    rows = conn._result(resp, action)
    total = resp.headers.get("X-Total-Count", "").strip()
    return rows, int(total) if total.isdigit() else None


def _run(conn: ServiceNowConnector, checks: list[Check]) -> None:
    from csi_coach.connectors.servicenow.connector import build_query

    s = conn.settings
    table, query = conn.table, s.query.strip()
    who = f"ok ({s.auth.method} auth)"
    fields = conn.requested_fields()
    params = conn._read_params(fields, build_query(query, s.fields.updated, None), s.page_size, 0)
    del params["sysparm_no_count"]  # counted: X-Total-Count is the number in scope
    try:
        page, in_scope = _counted(conn, table, params, f"read {table}")
    except AuthError as exc:
        checks.append(failure("login", exc))
        return
    except (BadRequest, NotFound) as exc:
        checks.append(ok(f"login: {who}"))
        checks.append(failure(f"table {table}", exc, config_fixes=(BadRequest, NotFound)))
        return
    except PermissionDenied as exc:
        checks.append(ok(f"login: {who}"))
        checks.append(failure(f"read {table}", exc))
        return
    checks.append(ok(f"login: {who}"))
    checks.append(_scope(conn, query, page, in_scope))

    census = conn.page_census(page)
    missing = any(census.absent(name) for name in fields)
    checks.extend(field_checks(census, s.fields, source=conn.name, config_file=s.auth.config_file,
                               vendor=f"ServiceNow table {table}",
                               available=conn.available_fields() if missing else None))
    checks.append(_journal(conn))
    checks.append(warn(
        f"write: cannot be checked without writing. By hand: impersonate the bot's user, open a record of "
        f"{table} in scope and see that its {s.journal_field} field is editable (or, in Access Analyzer, "
        f"check write on {table}.{s.journal_field} for that user)"))


def _scope(conn: ServiceNowConnector, query: str, page: list[Any], in_scope: int | None) -> Check:
    """The table and query line: how many records are in scope, and whether the query narrowed
    anything (ServiceNow ignores terms it cannot read, so a typo selects the whole table)."""
    table = conn.table
    shown = f"query {query!r}" if query else "no query"
    count = in_scope if in_scope is not None else len(page)
    more = "" if in_scope is not None else " or more (the instance sent no count)"
    if count == 0:
        return warn(f"table {table}, {shown}: 0 records in scope (or read ACLs hide them all)")
    if query:
        _, whole = _counted(conn, table, {"sysparm_fields": "sys_id", "sysparm_limit": "1",
                                          "sysparm_exclude_reference_link": "true"}, f"count {table}")
        if whole is not None and whole == count:
            return warn(f"table {table}, {shown}: {count} records in scope, which is every record of the table: "
                        "ServiceNow drops query terms it cannot read (a misspelt field, say), so check the query, "
                        "or set glide.invalid_query.returns_no_rows so a bad query selects nothing")
    return ok(f"table {table}, {shown}: {count}{more} records in scope")


def _journal(conn: ServiceNowConnector) -> Check:
    """May the bot read sys_journal_field, where it finds its own earlier entries? A table-level
    read ACL answers 403; a row-level one hides rows, which the count still includes."""
    table, field = conn.table, conn.settings.journal_field
    params = {"sysparm_query": f"name={table}", "sysparm_fields": "sys_id", "sysparm_limit": "1",
              "sysparm_exclude_reference_link": "true"}
    why = (f"the bot finds its earlier {field} entries there; without it a lost state file means "
           f"coaching again. Add a read ACL on {JOURNAL_TABLE} for the bot's role")
    try:
        rows, total = _counted(conn, JOURNAL_TABLE, params, f"read {JOURNAL_TABLE}")
    except PermissionDenied as exc:
        return failed(f"journal: the bot's account may not read {JOURNAL_TABLE} (HTTP {exc.status}); {why}")
    if not rows and total:
        return failed(f"journal: read ACLs hide all {total} {JOURNAL_TABLE} row(s) of {table} from the bot's "
                      f"account; {why}")
    try:
        me = conn.bot_user()
    except ConfigError as exc:
        return failed(f"journal: {exc}", in_config=True)
    if not rows:
        return warn(f"journal: {JOURNAL_TABLE} has no entry on {table} yet, so read access could not be "
                    f"confirmed; the bot's own entries will be those written by {me!r}")
    return ok(f"journal: {JOURNAL_TABLE} readable; the bot's own {field} entries are those written by {me!r}")
