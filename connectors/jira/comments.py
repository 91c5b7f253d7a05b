"""Bot comments on Jira issues: request bodies and recognition (pure, no I/O).

Every comment the bot writes carries the comment property ``csi-coach``
(``{"marker", "digest", "version"}``), set in the create/update body: the
Comment bean accepts ``properties: [EntityProperty]`` "on create and update"
(Atlassian's OpenAPI, Comment.properties). A comment is the bot's when its
author is the bot's own account (``GET /myself``: ``accountId`` on Cloud,
``key``/``name`` on Data Center) AND it carries that property; when the
server did not return properties, the ``csi-coach:<digest>`` text marker in the
body is the fallback.

Jira Service Management: the ``sd.public.comment`` property with
``{"internal": true}`` makes a comment internal (agents only), the same
property the ``jira`` library's ``add_comment(is_internal=True)`` sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csi_coach.connectors.jira.mapping import adf_text, is_adf, parse_jira_time
from csi_coach.model import MARKER_RE, BotComment, CommentRef

PROPERTY_KEY = "csi-coach"
INTERNAL_PROPERTY_KEY = "sd.public.comment"


def digest_of(marker: str) -> str:
    match = MARKER_RE.search(marker)
    return match.group(1) if match else ""


def comment_payload(
    body: str,
    marker: str,
    *,
    version: str = "",
    visibility_type: str = "",
    visibility_value: str = "",
    internal: bool = False,
) -> dict[str, Any]:
    """The JSON body for POST (create) and PUT (update) of a bot comment."""
    properties: list[dict[str, Any]] = [
        {"key": PROPERTY_KEY, "value": {"marker": marker, "digest": digest_of(marker), "version": version}}
    ]
    if internal:
        properties.append({"key": INTERNAL_PROPERTY_KEY, "value": {"internal": True}})
    payload: dict[str, Any] = {"body": body, "properties": properties}
    if visibility_type and visibility_value:
        payload["visibility"] = {"type": visibility_type, "value": visibility_value}
    return payload


def body_text(body: Any) -> str:
    """A comment body as text: v2 gives wiki markup, v3 gives ADF."""
    if isinstance(body, str):
        return body
    if is_adf(body):
        return adf_text(body)
    return ""


def account_of(me: Mapping[str, Any]) -> dict[str, str]:
    """The identifiers of the bot's account that comment authors are matched on."""
    ident = {}
    for key in ("accountId", "key", "name"):
        value = me.get(key)
        if isinstance(value, str) and value:
            ident[key] = value
    return ident


def authored_by(comment: Mapping[str, Any], account: Mapping[str, str]) -> bool:
    """True when the comment's author is the bot's account (accountId first)."""
    author = comment.get("author")
    if not isinstance(author, Mapping) or not account:
        return False
    if "accountId" in account:
        return author.get("accountId") == account["accountId"]
    if "key" in account and author.get("key"):
        return author.get("key") == account["key"]
    return "name" in account and author.get("name") == account["name"]


def has_properties(comment: Mapping[str, Any]) -> bool:
    """True when the server expanded the comment's properties (possibly empty)."""
    return isinstance(comment.get("properties"), list)


def property_marker(comment: Mapping[str, Any]) -> str | None:
    """The marker stored in the ``csi-coach`` property, if the comment has it."""
    for prop in comment.get("properties") or ():
        if isinstance(prop, Mapping) and prop.get("key") == PROPERTY_KEY:
            value = prop.get("value")
            if isinstance(value, Mapping) and isinstance(value.get("marker"), str):
                return value["marker"]
            return ""  # tagged, but the value is unreadable: still the bot's
    return None


def to_bot_comment(comment: Mapping[str, Any], *, source: str, record_key: str) -> BotComment | None:
    """The comment as a BotComment when it carries the property or the text marker."""
    text = body_text(comment.get("body"))
    marker = property_marker(comment)
    if not marker:
        found = MARKER_RE.search(text)
        if found:
            marker = found.group(0)
        elif marker is None:
            return None
    return BotComment(
        ref=CommentRef(source=source, record_key=record_key, comment_id=str(comment.get("id", ""))),
        marker=marker,
        body=text,
        created=parse_jira_time(comment.get("created")),
        editable=True,
    )
