"""Request parsing and validation for the Jira sandbox (pure functions, Jira's error wording).

Search parameters from GET or POST, the `fields` parameter (*all, *navigable, -field),
whole-number parameters, search-after page tokens, comment visibility and properties,
rendered bodies and edit metadata. Each raises jiradata.ApiError the way Jira answers.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from typing import Any

from csi_coach.sandbox.http import Request
from csi_coach.sandbox.jira import adf
from csi_coach.sandbox.jira.data import GOAL_FIELD, GROUPS, MAX_PROPERTY_BYTES, ROLES, Account, ApiError, Comment
from csi_coach.sandbox.jira.jql import decode_position
from csi_coach.sandbox.jira.shape import ALL_FIELDS, NAVIGABLE, Shape


def search_params(req: Request) -> dict[str, Any]:
    """Search parameters from the query string (GET) or the JSON body (POST)."""
    if req.method == "POST":
        payload = req.json()
        if not isinstance(payload, dict):
            raise ApiError(400, ["Can not deserialize the request body."])
        return {k: v for k, v in payload.items() if v is not None}
    params: dict[str, Any] = dict(req.query)
    if "fields" in req.query_all:
        params["fields"] = req.query_all["fields"]
    return params


def field_specs(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def wanted_fields(specs: list[str] | None, default: set[str]) -> set[str]:
    """Which fields a `fields` parameter asks for (Jira's *all, *navigable, -field, id)."""
    if specs is None:
        return set(default)
    chosen: set[str] = set()
    only_exclusions = all(s.startswith("-") for s in specs)
    if only_exclusions:
        chosen = set(default)
    for spec in specs:
        if spec == "*all":
            chosen |= set(ALL_FIELDS)
        elif spec == "*navigable":
            chosen |= set(NAVIGABLE)
        elif spec.startswith("-"):
            chosen.discard(spec[1:])
        elif spec in ALL_FIELDS:
            chosen.add(spec)
    return chosen


def to_int(raw: Any, default: int, name: str, *, low: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, [f"The '{name}' parameter must be a whole number, got '{raw}'."]) from None
    return max(value, low)


def decode_token(token: str, fingerprint: str, query) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = json.loads(raw.decode("utf-8"))
        if cursor.get("q") != fingerprint:
            raise ValueError("the token belongs to another query")
        return decode_position(query, cursor["after"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, ["The provided next page token is invalid or expired."]) from None


def must_own(found: Comment, user: Account, verb: str) -> None:
    if found.author.account_id != user.account_id:
        raise ApiError(403, [f"You do not have the permission to {verb} this comment."])


def check_visibility(visibility: Any) -> dict[str, str] | None:
    if visibility == {}:
        return {}
    if not isinstance(visibility, dict) or visibility.get("type") not in ("role", "group"):
        raise ApiError(400, [], {"commentLevel": "The visibility type must be 'role' or 'group'."})
    value = str(visibility.get("value") or visibility.get("identifier") or "")
    known = ROLES if visibility["type"] == "role" else GROUPS
    if value not in known:
        what = "project role" if visibility["type"] == "role" else "group"
        raise ApiError(400, [], {"commentLevel": f"You are currently not a member of the {what}: {value}."})
    return {"type": visibility["type"], "value": value}


def check_properties(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ApiError(400, [], {"properties": "The properties must be a list of {key, value} objects."})
    out: dict[str, Any] = {}
    for prop in raw:
        if not isinstance(prop, dict) or not isinstance(prop.get("key"), str) or not prop["key"] \
                or "value" not in prop:
            raise ApiError(400, [], {"properties": "Each property needs a key and a value."})
        if len(prop["key"]) > 255:
            raise ApiError(400, [], {"properties": "The property key can not be longer than 255 characters."})
        if len(json.dumps(prop["value"])) > MAX_PROPERTY_BYTES:
            raise ApiError(400, [], {"properties": f"The property value is too long (limit {MAX_PROPERTY_BYTES} bytes)."})
        out[prop["key"]] = prop["value"]
    return out


def with_rendered(out: dict[str, Any], req: Request, c: Comment, shape: Shape) -> dict[str, Any]:
    if "renderedBody" in req.query.get("expand", ""):
        text = c.body if isinstance(c.body, str) else adf.to_wiki(c.body)
        out["renderedBody"] = "<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br/>") + "</p>"
    return out


def edit_metadata(shape: Shape) -> dict[str, Any]:
    editable = {"summary": ("Summary", {"type": "string", "system": "summary"}, True),
                "description": ("Description", {"type": "string", "system": "description"}, False),
                GOAL_FIELD: ("Value goal", {"type": "string", "custom":
                                            "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                                            "customId": 10050}, False),
                "labels": ("Labels", {"type": "array", "items": "string", "system": "labels"}, False)}
    return {fid: {"key": fid, "name": name, "required": required, "schema": schema,
                  "operations": ["set", "add", "remove"] if fid == "labels" else ["set"]}
            for fid, (name, schema, required) in editable.items()}
