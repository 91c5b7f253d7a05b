"""The scan as people usually first write it, for comparison (bench/scan_speed.py).

Jira: the ``jira`` library's search, then one comments read per issue, then
``add_comment`` where the bot has not commented yet. ServiceNow: page through the
table, one journal read per record, and for a write, GET the record then PUT it
with the work note, as pysnow-style code does. Same rules and templates as the
bot; only the way it talks to the systems differs. Sequential, like such scripts.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import requests

from csi_coach.model import Record


def _coach(record: Record, ruleset: Any, renderer: Any, target: str, policy: Any) -> str | None:
    from datetime import datetime

    from csi_coach import rules
    from csi_coach.coach import History, decide

    verdict = rules.evaluate(record, ruleset)
    action = decide(record, verdict, History(), policy, datetime.now(UTC), False)
    if not action.writes:
        return None
    return renderer.comment(target, record, verdict, action.marker)


def naive_jira(url: str, email: str, token: str, jql: str, goal_field: str, ruleset: Any, renderer: Any, policy: Any) -> dict[str, int]:
    from jira import JIRA

    j = JIRA(server=url, basic_auth=(email, token))
    written = seen = 0
    for issue in j.enhanced_search_issues(jql, maxResults=False):
        seen += 1
        comments = j.comments(issue.key)
        if any("csi-coach:" in (c.body if isinstance(c.body, str) else str(c.body)) for c in comments):
            continue
        f = issue.fields
        record = Record(
            source="jira", key=issue.key, number=issue.key, url="", title=f.summary or "",
            description=f.description if isinstance(f.description, str) else "",
            goal=str(getattr(f, goal_field, "") or ""), state=str(getattr(f, "status", "") or ""),
            labels=tuple(getattr(f, "labels", []) or ()),
        )
        body = _coach(record, ruleset, renderer, "jira", policy)
        if body:
            j.add_comment(issue.key, body)
            written += 1
    j.close()
    return {"records": seen, "written": written}


def naive_servicenow(url: str, user: str, password: str, table: str, ruleset: Any, renderer: Any, policy: Any) -> dict[str, int]:
    s = requests.Session()
    s.auth = (user, password)
    s.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
    written = seen = offset = 0
    while True:
        page = s.get(f"{url}/api/now/table/{table}", params={
            "sysparm_limit": 100, "sysparm_offset": offset, "sysparm_display_value": "true",
            "sysparm_exclude_reference_link": "true",
        }, timeout=60)
        page.raise_for_status()
        rows = page.json()["result"]
        if not rows:
            break
        offset += len(rows)
        for row in rows:
            seen += 1
            notes = s.get(f"{url}/api/now/table/sys_journal_field", params={
                "sysparm_query": f"element_id={row['sys_id']}^element=work_notes",
            }, timeout=60)
            notes.raise_for_status()
            if any("csi-coach:" in n["value"] for n in notes.json()["result"]):
                continue
            record = Record(
                source="servicenow", key=row["sys_id"], number=row.get("number", ""), url="",
                title=row.get("short_description", ""), description=row.get("description", ""),
                goal=row.get("benefit", ""), state=str(row.get("state", "")),
            )
            body = _coach(record, ruleset, renderer, "servicenow", policy)
            if body:
                current = s.get(f"{url}/api/now/table/{table}/{row['sys_id']}", timeout=60)
                current.raise_for_status()
                put = s.put(f"{url}/api/now/table/{table}/{row['sys_id']}", json={"work_notes": body}, timeout=60)
                put.raise_for_status()
                written += 1
    return {"records": seen, "written": written}
