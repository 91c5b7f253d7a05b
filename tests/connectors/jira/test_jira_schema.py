"""Every Jira fixture, and every body the connector sends, matches Atlassian's own schema.

The schema is Atlassian's OpenAPI document (subset) in ../shared/reference. It is
OpenAPI 3.0: ``nullable: true`` is translated to a JSON Schema ``null`` type and
``#/components/schemas/...`` references resolve inside the same document.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from csi_coach.connectors.jira.comments import comment_payload
from support.jira import FIXTURES, load
from support.paths import SHARED

# ../shared/reference beside the checkout (issue 3)
SCHEMA_FILE = SHARED / "reference" / "jira-cloud-openapi-subset.json"

# fixture file -> component schema (the responses' documented schema)
FIXTURE_SCHEMAS = {
    "search_jql_page1.json": "SearchAndReconcileResults",  # GET /search/jql
    "search_jql_page2.json": "SearchAndReconcileResults",
    "search_jql_page3.json": "SearchAndReconcileResults",
    "search_page1.json": "SearchResults",  # GET /search (Data Center)
    "search_page2.json": "SearchResults",
    "search_page3.json": "SearchResults",
    "serverinfo_cloud.json": "ServerInformation",
    "serverinfo_datacenter.json": "ServerInformation",
    "myself_cloud.json": "User",
    "myself_datacenter.json": "User",
    "comments_page1.json": "PageOfComments",  # GET /issue/{key}/comment
    "comments_page2.json": "PageOfComments",
    "comments_page3.json": "PageOfComments",
    "comments_no_properties.json": "PageOfComments",
    "comment_list.json": "PageBeanComment",  # POST /comment/list
    "comment_created.json": "Comment",  # POST /issue/{key}/comment (201)
}
# Jira's ErrorCollection bean (errorMessages + errors) is not in the subset; its
# documented shape is checked here instead.
ERROR_COLLECTION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "errorMessages": {"type": "array", "items": {"type": "string"}},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
        "status": {"type": "integer"},
    },
}


def _nullable_to_jsonschema(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _nullable_to_jsonschema(v) for k, v in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"] if isinstance(node["type"], str) else [*node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_nullable_to_jsonschema(v) for v in node]
    return node


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    doc = json.loads(SCHEMA_FILE.read_text())
    return _nullable_to_jsonschema(copy.deepcopy(doc["components"]))


def validator(components: dict[str, Any], name: str) -> jsonschema.Validator:
    assert name in components["schemas"], name
    root = {"$ref": f"#/components/schemas/{name}", "components": components}
    return jsonschema.Draft202012Validator(root)


def errors_of(v: jsonschema.Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)]


def test_every_fixture_has_a_schema():
    files = {p.name for p in FIXTURES.glob("*.json")}
    unmapped = files - set(FIXTURE_SCHEMAS) - {f for f in files if f.startswith("error_")}
    assert not unmapped, f"fixtures without a schema mapping: {sorted(unmapped)}"
    assert set(FIXTURE_SCHEMAS) <= files


@pytest.mark.parametrize("fixture", sorted(FIXTURE_SCHEMAS))
def test_fixture_matches_atlassian_schema(components, fixture):
    problems = errors_of(validator(components, FIXTURE_SCHEMAS[fixture]), load(fixture))
    assert problems == []


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("error_*.json")))
def test_error_fixture_matches_error_collection(fixture):
    assert errors_of(jsonschema.Draft202012Validator(ERROR_COLLECTION), load(fixture)) == []


def test_schema_check_can_fail(components):
    bad = load("search_jql_page1.json")
    bad["isLast"] = "no"  # a string where Atlassian documents a boolean
    bad["issues"][0]["unknown"] = 1  # IssueBean allows no extra properties
    assert len(errors_of(validator(components, "SearchAndReconcileResults"), bad)) == 2


@pytest.mark.parametrize("visibility,internal", [(("", ""), False), (("role", "Service Owners"), True), (("group", "csi-admins"), False)])
def test_comment_body_sent_matches_comment_schema(components, visibility, internal):
    body = comment_payload("h4. Coaching\ntext", "csi-coach:0123456789abcdef", version="r-1",
                           visibility_type=visibility[0], visibility_value=visibility[1], internal=internal)
    assert errors_of(validator(components, "Comment"), body) == []


def test_comment_list_request_matches_schema(components):
    assert errors_of(validator(components, "IssueCommentListRequestBean"), {"ids": [10010, 10011]}) == []
