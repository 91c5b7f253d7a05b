"""Shared helpers for the Jira sandbox tests (no tests here)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import jsonschema
import requests

from csi_coach.sandbox.jira.server import EMAIL, TOKEN
from support.paths import SHARED

BASIC = (EMAIL, TOKEN)
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SCHEMA_FILE = SHARED / "reference" / "jira-cloud-openapi-subset.json"


def get(url: str, path: str, params: dict | None = None, auth=BASIC, **kw) -> requests.Response:
    return requests.get(url + path, params=params, auth=auth, timeout=30, **kw)


def post(url: str, path: str, body: Any, params: dict | None = None, auth=BASIC) -> requests.Response:
    return requests.post(url + path, json=body, params=params, auth=auth, timeout=30)


def put(url: str, path: str, body: Any, params: dict | None = None, auth=BASIC) -> requests.Response:
    return requests.put(url + path, json=body, params=params, auth=auth, timeout=30)


def all_keys_cloud(url: str, jql: str, size: int = 7, version: int = 2, between=None) -> list[str]:
    """Every key a client sees following nextPageToken until isLast."""
    keys, token = [], None
    while True:
        params = {"jql": jql, "fields": "updated", "maxResults": size}
        if token:
            params["nextPageToken"] = token
        page = get(url, f"/rest/api/{version}/search/jql", params).json()
        keys += [issue["key"] for issue in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            return keys
        token = page["nextPageToken"]
        if between is not None:
            between(keys)


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` as JSON Schema's null type."""
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@lru_cache(maxsize=1)
def _components() -> dict[str, Any]:
    return _nullable(json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["components"])


def schema_errors(document: Any, component: str, *, array: bool = False) -> list[str]:
    """Messages for every way `document` breaks Atlassian's component schema."""
    ref = {"$ref": f"#/components/schemas/{component}"}
    schema = {"type": "array", "items": ref} if array else dict(ref)
    schema["components"] = copy.deepcopy(_components())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
