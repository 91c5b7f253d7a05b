"""JSON shapes of the Jira sandbox, per flavor ("cloud" | "server") and REST version (2 | 3).

Shapes follow Atlassian's OpenAPI (the Cloud schema's component schemas: IssueBean,
Comment, User, UserDetails, ServerInformation, FieldDetails ...). Differences that
matter to clients: v2 text fields are wiki strings, v3 ones are ADF documents; users
carry `accountId` on Cloud and `name`/`key` on Data Center; timestamps use Jira's
"2026-11-20T10:15:30.000+0100" form in the user's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from csi_coach.sandbox.jira import adf
from csi_coach.sandbox.jira.data import (
    GOAL_FIELD,
    GOAL_NAME,
    ISSUE_TYPE,
    ISSUE_TYPE_ID,
    PROJECT_ID,
    PROJECT_KEY,
    PROJECT_NAME,
    STATUS_CATEGORIES,
    STATUSES,
    Account,
    Comment,
    Row,
    Site,
    account_for,
)

CLOUD_VERSION = "1001.0.0-SNAPSHOT"
SERVER_VERSION = "9.12.15"
NAVIGABLE = ("summary", "description", GOAL_FIELD, "labels", "components", "assignee", "reporter", "status",
             "issuetype", "project", "updated", "created")
ALL_FIELDS = NAVIGABLE + ("comment",)


@dataclass(frozen=True)
class Shape:
    """How one request wants things rendered."""

    flavor: str
    version: int  # 2 or 3
    base: str  # the site's base URL
    zone: tzinfo

    @property
    def cloud(self) -> bool:
        return self.flavor == "cloud"

    @property
    def api(self) -> str:
        return f"{self.base}/rest/api/{self.version}"

    def time(self, epoch: float) -> str:
        moment = datetime.fromtimestamp(epoch, UTC).astimezone(self.zone)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")

    def text(self, value: Any) -> Any:
        """A stored text (wiki string or ADF) as this version shows it; None when empty."""
        if value is None or value == "":
            return None
        if self.version >= 3:
            return value if adf.is_adf(value) else adf.to_adf(str(value))
        return adf.to_wiki(value) if adf.is_adf(value) else str(value)

    # ---- people ------------------------------------------------------------------------

    def avatars(self, seed: str) -> dict[str, str]:
        return {f"{n}x{n}": f"{self.base}/secure/useravatar?size={n}&avatarId={seed}" for n in (16, 24, 32, 48)}

    def user(self, who: Account) -> dict[str, Any]:
        """UserDetails: as authors, assignees, reporters."""
        if self.cloud:
            return {"self": f"{self.api}/user?accountId={who.account_id}", "accountId": who.account_id,
                    "displayName": who.display_name, "active": True, "timeZone": str(self.zone),
                    "accountType": "atlassian", "avatarUrls": self.avatars(who.account_id[-6:])}
        return {"self": f"{self.api}/user?username={who.name}", "name": who.name, "key": who.key,
                "emailAddress": who.email, "displayName": who.display_name, "active": True,
                "timeZone": str(self.zone), "avatarUrls": self.avatars(who.key)}

    def myself(self, who: Account) -> dict[str, Any]:
        """User: GET /myself."""
        me = self.user(who)
        me.update({"emailAddress": who.email, "locale": "en_GB", "expand": "groups,applicationRoles",
                   "groups": {"size": 2, "items": []}, "applicationRoles": {"size": 1, "items": []}})
        return me

    # ---- site --------------------------------------------------------------------------

    def server_info(self, now: float) -> dict[str, Any]:
        version = CLOUD_VERSION if self.cloud else SERVER_VERSION
        numbers = [1001, 0, 0] if self.cloud else [int(p) for p in SERVER_VERSION.split(".")]
        info = {"baseUrl": self.base, "displayUrl": self.base, "version": version, "versionNumbers": numbers,
                "deploymentType": "Cloud" if self.cloud else "Server", "buildNumber": 100283 if self.cloud else 9120015,
                "buildDate": "2026-11-02T00:00:00.000+0000", "serverTime": self.time(now),
                "scmInfo": "3f2b8c0e1d7a4b6c9e5f0a1b2c3d4e5f6a7b8c9d", "serverTitle": "CSI sandbox Jira",
                "serverTimeZone": str(self.zone)}
        return info

    def fields(self) -> list[dict[str, Any]]:
        def system(fid: str, name: str, schema: dict[str, Any], clauses: list[str], orderable=True) -> dict[str, Any]:
            return {"id": fid, "key": fid, "name": name, "custom": False, "orderable": orderable, "navigable": True,
                    "searchable": True, "clauseNames": clauses, "schema": schema}

        goal = {"id": GOAL_FIELD, "key": GOAL_FIELD, "name": GOAL_NAME, "custom": True, "orderable": True,
                "navigable": True, "searchable": True, "clauseNames": ["cf[10050]", GOAL_NAME],
                "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                           "customId": 10050}}
        return [
            system("summary", "Summary", {"type": "string", "system": "summary"}, ["summary"]),
            system("description", "Description", {"type": "string", "system": "description"}, ["description"]),
            goal,
            system("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}, ["labels"]),
            system("components", "Components", {"type": "array", "items": "component", "system": "components"},
                   ["component"]),
            system("assignee", "Assignee", {"type": "user", "system": "assignee"}, ["assignee"]),
            system("reporter", "Reporter", {"type": "user", "system": "reporter"}, ["reporter"]),
            system("status", "Status", {"type": "status", "system": "status"}, ["status"], orderable=False),
            system("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}, ["issuetype", "type"]),
            system("project", "Project", {"type": "project", "system": "project"}, ["project"], orderable=False),
            system("updated", "Updated", {"type": "datetime", "system": "updated"}, ["updated", "updatedDate"],
                   orderable=False),
            system("created", "Created", {"type": "datetime", "system": "created"}, ["created", "createdDate"],
                   orderable=False),
            system("comment", "Comment", {"type": "comments-page", "system": "comment"}, ["comment"]),
            system("issuekey", "Key", {"type": "string", "system": "issuekey"}, ["id", "issue", "issuekey", "key"],
                   orderable=False),
        ]

    def project(self, expand_full: bool = True) -> dict[str, Any]:
        p: dict[str, Any] = {"self": f"{self.api}/project/{PROJECT_ID}", "id": PROJECT_ID, "key": PROJECT_KEY, "name": PROJECT_NAME,
             "projectTypeKey": "software", "avatarUrls": {f"{n}x{n}": f"{self.base}/secure/projectavatar?size={n}"
                                                           for n in (16, 24, 32, 48)}}
        if self.cloud:
            p.update({"simplified": False, "style": "classic", "isPrivate": False})
        if expand_full:
            p["issueTypes"] = [self.issue_type()]
            p["description"] = "Continual service improvement register: one issue per improvement initiative."
        return p

    def issue_type(self) -> dict[str, Any]:
        return {"self": f"{self.api}/issuetype/{ISSUE_TYPE_ID}", "id": ISSUE_TYPE_ID, "name": ISSUE_TYPE,
                "description": "An improvement to a service.", "subtask": False,
                "iconUrl": f"{self.base}/images/icons/issuetypes/improvement.svg"}

    def status(self, name: str) -> dict[str, Any]:
        sid, cat_key = next((s[1], s[2]) for s in STATUSES.values() if s[0] == name)
        cat_id, cat_name, colour = STATUS_CATEGORIES[cat_key]
        return {"self": f"{self.api}/status/{sid}", "id": sid, "name": name, "description": "",
                "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
                "statusCategory": {"self": f"{self.api}/statuscategory/{cat_id}", "id": cat_id, "key": cat_key,
                                   "colorName": colour, "name": cat_name}}

    # ---- issues ------------------------------------------------------------------------

    def issue(self, site: Site, row: Row, wanted: set[str], *, names: bool = False) -> dict[str, Any]:
        """IssueBean with the wanted fields (an empty set: id, key and self only)."""
        bean: dict[str, Any] = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,"
                                          "versionedRepresentations", "id": row.id,
                                "self": f"{self.api}/issue/{row.id}", "key": row.key}
        if not wanted:
            return bean
        values: dict[str, Any] = {}
        text = site.text_fields(row.index) if wanted & {"summary", "description", GOAL_FIELD} else {}
        for name in ALL_FIELDS:
            if name not in wanted:
                continue
            if name in ("summary",):
                values[name] = text[name]
            elif name in ("description", GOAL_FIELD):
                values[name] = self.text(text[name])
            elif name == "labels":
                values[name] = list(row.labels)
            elif name == "components":
                values[name] = [{"self": f"{self.api}/component/{10200 + _stable(row.component) % 100}",
                                 "id": str(10200 + _stable(row.component) % 100), "name": row.component}]
            elif name == "assignee":
                values[name] = self.user(account_for(row.assignee)) if row.assignee else None
            elif name == "reporter":
                values[name] = self.user(account_for(row.assignee)) if row.assignee else None
            elif name == "status":
                values[name] = self.status(row.status)
            elif name == "issuetype":
                values[name] = self.issue_type()
            elif name == "project":
                values[name] = self.project(expand_full=False)
            elif name in ("updated", "created"):
                values[name] = self.time(getattr(row, name))
            elif name == "comment":
                comments = site.issue_comments(row)
                values[name] = {"comments": [self.comment(c, props=False) for c in comments],
                                "self": f"{self.api}/issue/{row.id}/comment", "maxResults": len(comments),
                                "total": len(comments), "startAt": 0}
        bean["fields"] = values
        if names:
            bean["names"] = {f["id"]: f["name"] for f in self.fields() if f["id"] in values}
        return bean

    # ---- comments ----------------------------------------------------------------------

    def comment(self, c: Comment, *, props: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": f"{self.api}/issue/{10001 + c.issue}/comment/{c.id}", "id": str(c.id),
            "author": self.user(c.author), "body": self.text(c.body) or ("" if self.version < 3 else adf.to_adf("")),
            "updateAuthor": self.user(c.update_author), "created": self.time(c.created),
            "updated": self.time(c.updated),
        }
        if c.visibility:
            vis = dict(c.visibility)
            if self.cloud:
                vis.setdefault("identifier", vis.get("value", ""))
            out["visibility"] = vis
        if self.cloud:
            internal = c.properties.get("sd.public.comment")
            out["jsdPublic"] = not (isinstance(internal, dict) and internal.get("internal") is True)
        if props:
            out["properties"] = [{"key": k, "value": v} for k, v in c.properties.items()]
        return out


def _stable(text: str) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(text))
