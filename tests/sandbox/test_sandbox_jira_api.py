"""The Jira sandbox's REST behaviour: paging, removed endpoints, auth, rate limit, faults, comments."""

from __future__ import annotations

import base64
from collections import Counter

import pytest
import requests

from csi_coach.sandbox.faults import ERROR_STATUSES, Faults
from csi_coach.sandbox.jira.server import REMOVED_SEARCH, JiraSandbox
from support.sandbox_jira import BASIC, BEARER, all_keys_cloud, get, post, put


@pytest.fixture(scope="module")
def cloud():
    with JiraSandbox(flavor="cloud", records=150, seed=8) as site:
        yield site


@pytest.fixture(scope="module")
def server():
    with JiraSandbox(flavor="server", records=150, seed=8) as site:
        yield site


# ---- search and paging ---------------------------------------------------------------

def test_cloud_token_paging_yields_every_issue_once_in_order(cloud):
    keys = all_keys_cloud(cloud.url, "project = CSI ORDER BY key DESC", size=17)
    assert keys == [f"CSI-{n}" for n in range(150, 0, -1)]


def test_cloud_paging_survives_updates_between_pages(cloud):
    """A comment bumps `updated`; a cursor (not an offset) neither skips nor loses issues."""
    written = []

    def comment_on_first_unwritten(seen):
        key = next(k for k in seen if k not in written)
        assert post(cloud.url, f"/rest/api/2/issue/{key}/comment", {"body": "bump"}).status_code == 201
        written.append(key)

    keys = all_keys_cloud(cloud.url, "project = CSI ORDER BY updated ASC, key ASC", size=20,
                          between=comment_on_first_unwritten)
    assert set(keys) == {f"CSI-{n}" for n in range(1, 151)}
    assert len(keys) == 150 + len(written)  # the bumped ones come round again at the end
    assert keys[-len(written):] == written


def test_cloud_page_size_caps(cloud):
    with_fields = get(cloud.url, "/rest/api/3/search/jql", {"jql": "project = CSI", "maxResults": 500,
                                                             "fields": "summary"}).json()
    assert len(with_fields["issues"]) == 100 and with_fields["isLast"] is False
    ids_only = get(cloud.url, "/rest/api/3/search/jql", {"jql": "project = CSI", "maxResults": 500}).json()
    assert len(ids_only["issues"]) == 150 and ids_only["isLast"] is True and "nextPageToken" not in ids_only
    assert ids_only["issues"][0] == {"id": "10150"}  # IDs only, unless fields are asked for
    keys = get(cloud.url, "/rest/api/3/search/jql", {"jql": "project = CSI", "fields": "key", "maxResults": 1}).json()
    assert set(keys["issues"][0]) == {"expand", "id", "self", "key"}


def test_cloud_rejects_a_token_from_another_query(cloud):
    token = get(cloud.url, "/rest/api/2/search/jql", {"jql": "project = CSI", "maxResults": 5}).json()["nextPageToken"]
    resp = get(cloud.url, "/rest/api/2/search/jql", {"jql": "project = CSI AND labels = csi", "nextPageToken": token})
    assert resp.status_code == 400 and resp.json()["errorMessages"]
    garbage = get(cloud.url, "/rest/api/2/search/jql", {"jql": "project = CSI", "nextPageToken": "not-a-token"})
    assert garbage.status_code == 400


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("version", [2, 3])
def test_cloud_old_search_is_gone(cloud, method, version):
    resp = requests.request(method, f"{cloud.url}/rest/api/{version}/search", auth=BASIC, timeout=10,
                            params={"jql": "project = CSI"} if method == "GET" else None,
                            json={"jql": "project = CSI"} if method == "POST" else None)
    assert resp.status_code == 410
    assert resp.json() == {"errorMessages": [REMOVED_SEARCH], "errors": {}}


def test_server_startat_paging_total_caps_and_window(server):
    seen, start = [], 0
    while True:
        page = get(server.url, "/rest/api/2/search", {"jql": "project = CSI ORDER BY key ASC", "startAt": start,
                                                       "maxResults": 40, "fields": "summary"}, auth=None,
                   headers=BEARER).json()
        assert page["total"] == 150 and page["startAt"] == start and page["maxResults"] == 40
        seen += [i["key"] for i in page["issues"]]
        start += len(page["issues"])
        if start >= page["total"]:
            break
    assert seen == [f"CSI-{n}" for n in range(1, 151)]
    big = get(server.url, "/rest/api/2/search", {"jql": "project = CSI", "maxResults": 5000}, auth=None,
              headers=BEARER).json()
    assert big["maxResults"] == 1000
    beyond = get(server.url, "/rest/api/2/search", {"jql": "project = CSI", "startAt": 9990, "maxResults": 50},
                 auth=None, headers=BEARER)
    assert beyond.status_code == 400
    assert get(server.url, "/rest/api/2/search/jql", {"jql": "project = CSI"}).status_code == 404
    assert get(server.url, "/rest/api/3/myself").status_code == 404  # Data Center has no v3


# ---- auth ----------------------------------------------------------------------------

def test_cloud_auth(cloud):
    assert get(cloud.url, "/rest/api/2/myself").status_code == 200
    wrong = get(cloud.url, "/rest/api/2/myself", auth=("csi-coach@example.com", "nope"))
    assert wrong.status_code == 401 and wrong.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert "must be authenticated" in wrong.text
    anonymous = get(cloud.url, "/rest/api/2/myself", auth=None)
    assert anonymous.status_code == 401 and anonymous.json()["errorMessages"]
    assert get(cloud.url, "/rest/api/2/myself", auth=None, headers=BEARER).status_code == 401  # no PATs on Cloud


def test_server_auth(server):
    assert get(server.url, "/rest/api/2/myself", auth=None, headers=BEARER).status_code == 200
    assert get(server.url, "/rest/api/2/myself", auth=("csi-coach", "sandbox-jira-token")).status_code == 200
    bad = get(server.url, "/rest/api/2/myself", auth=None, headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401 and bad.json()["errorMessages"]


# ---- rate limit, faults, stats -------------------------------------------------------

def test_rate_limit_answers_429_with_headers_past_the_budget():
    with JiraSandbox(records=5, seed=1, rate_limit=3, rate_window=3600) as site:
        answers = [get(site.url, "/rest/api/2/serverInfo") for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
        limited = answers[3]
        assert 3500 <= int(limited.headers["Retry-After"]) <= 3600
        assert limited.headers["X-RateLimit-Limit"] == "3" and limited.headers["X-RateLimit-Reset"].endswith("Z")
        assert limited.json()["errorMessages"]
        assert get(site.url, "/_sandbox/stats", auth=None).status_code == 200  # exempt


def outcomes(seed: int, n: int = 40) -> list[str]:
    faults = Faults(error_rate=0.25, throttle_rate=0.15, reset_rate=0.15, seed=seed, retry_after=2)
    seen = []
    with JiraSandbox(records=10, seed=1, faults=faults) as site:
        for _ in range(n):
            try:
                resp = get(site.url, "/rest/api/2/search/jql", {"jql": "project = CSI", "maxResults": 3})
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                seen.append("reset")
                continue
            if resp.status_code == 429:
                assert resp.headers["Retry-After"] == "2" and "X-RateLimit-Reset" in resp.headers
            elif resp.status_code >= 500:
                assert resp.status_code in ERROR_STATUSES and resp.json()["errorMessages"]
            else:
                assert len(resp.json()["issues"]) == 3
            seen.append(str(resp.status_code))
        stats = get(site.url, "/_sandbox/stats", auth=None).json()
        assert stats == {"requests": {"GET /rest/api/2/search/jql": n}, "total": n}
    return seen


def test_faults_are_deterministic_under_the_seed():
    first, again, other = outcomes(5), outcomes(5), outcomes(6)
    assert first == again and first != other
    kinds = Counter(first)
    assert kinds["200"] and kinds["429"] and kinds["reset"] and sum(kinds[str(s)] for s in ERROR_STATUSES)


def test_stats_count_route_templates(cloud):
    before = get(cloud.url, "/_sandbox/stats", auth=None).json()
    get(cloud.url, "/rest/api/3/issue/CSI-2/comment")
    made = post(cloud.url, "/rest/api/2/issue/CSI-2/comment", {"body": "x"}).json()
    put(cloud.url, f"/rest/api/2/comment/{made['id']}/properties/csi-coach", {"a": 1})
    after = get(cloud.url, "/_sandbox/stats", auth=None).json()
    grew = {k: v - before["requests"].get(k, 0) for k, v in after["requests"].items()
            if v != before["requests"].get(k, 0)}
    assert grew == {"GET /rest/api/3/issue/{id}/comment": 1, "POST /rest/api/2/issue/{id}/comment": 1,
                    "PUT /rest/api/2/comment/{id}/properties/{propertyKey}": 1}
    assert after["total"] - before["total"] == 3


# ---- comments ------------------------------------------------------------------------

def test_comment_create_bumps_updated_and_stores_properties(cloud):
    issue = get(cloud.url, "/rest/api/2/issue/CSI-30", {"fields": "updated"}).json()
    made = post(cloud.url, "/rest/api/2/issue/CSI-30/comment", {
        "body": "note", "properties": [{"key": "csi-coach", "value": {"digest": "d1"}}]})
    assert made.status_code == 201 and "properties" not in made.json()
    later = get(cloud.url, "/rest/api/2/issue/CSI-30", {"fields": "updated"}).json()
    assert later["fields"]["updated"] > issue["fields"]["updated"]
    cid = made.json()["id"]
    assert get(cloud.url, f"/rest/api/2/comment/{cid}/properties/csi-coach").json() == {
        "key": "csi-coach", "value": {"digest": "d1"}}


def test_comment_listing_pages_and_orders(cloud):
    ids = [post(cloud.url, "/rest/api/2/issue/CSI-31/comment", {"body": f"n{i}"}).json()["id"] for i in range(5)]
    listing = get(cloud.url, "/rest/api/2/issue/CSI-31/comment", {"orderBy": "created"}).json()
    mine = [c["id"] for c in listing["comments"] if c["id"] in ids]
    assert mine == ids and listing["total"] == len(listing["comments"])
    newest = get(cloud.url, "/rest/api/2/issue/CSI-31/comment", {"orderBy": "-created", "maxResults": 2}).json()
    assert [c["id"] for c in newest["comments"]] == ids[::-1][:2] and newest["total"] >= 5
    second = get(cloud.url, "/rest/api/2/issue/CSI-31/comment", {"startAt": 2, "maxResults": 2,
                                                                  "orderBy": "-created"}).json()
    assert [c["id"] for c in second["comments"]] == ids[::-1][2:4] and second["startAt"] == 2
    assert "properties" not in listing["comments"][0]
    expanded = get(cloud.url, "/rest/api/2/issue/CSI-31/comment", {"expand": "properties"}).json()
    assert all(c["properties"] == [] for c in expanded["comments"] if c["id"] in ids)


def test_comment_bodies_per_api_version(cloud):
    v2 = post(cloud.url, "/rest/api/2/issue/CSI-32/comment", {"body": "h3. Goal\nServe *patients*."}).json()
    v3 = get(cloud.url, f"/rest/api/3/issue/CSI-32/comment/{v2['id']}").json()
    assert v3["body"]["type"] == "doc" and v3["body"]["content"][0]["type"] == "heading"
    refused = post(cloud.url, "/rest/api/3/issue/CSI-32/comment", {"body": "plain text on v3"})
    assert refused.status_code == 400 and "Atlassian Document" in refused.json()["errors"]["comment"]
    empty = post(cloud.url, "/rest/api/2/issue/CSI-32/comment", {"body": ""})
    assert empty.status_code == 400 and empty.json()["errors"]["comment"]
    huge = post(cloud.url, "/rest/api/2/issue/CSI-32/comment", {"body": "x" * 32_768})
    assert huge.status_code == 400


def test_comment_visibility_is_checked(cloud):
    ok = post(cloud.url, "/rest/api/2/issue/CSI-33/comment", {"body": "x", "visibility": {"type": "group",
                                                                                           "value": "csi-coaches"}})
    assert ok.status_code == 201 and ok.json()["visibility"]["value"] == "csi-coaches"
    bad = post(cloud.url, "/rest/api/2/issue/CSI-33/comment", {"body": "x", "visibility": {"type": "role",
                                                                                            "value": "Nobody"}})
    assert bad.status_code == 400 and "commentLevel" in bad.json()["errors"]


def test_comment_update_needs_the_author_and_counts_notifications(cloud):
    made = post(cloud.url, "/rest/api/2/issue/CSI-34/comment", {"body": "v1"}).json()
    before = cloud.notifications
    quiet = put(cloud.url, f"/rest/api/2/issue/CSI-34/comment/{made['id']}", {"body": "v2"}, {"notifyUsers": "false"})
    assert quiet.status_code == 200 and quiet.json()["body"] == "v2" and cloud.notifications == before
    put(cloud.url, f"/rest/api/2/issue/CSI-34/comment/{made['id']}", {"body": "v3"})
    assert cloud.notifications == before + 1
    wrong_issue = put(cloud.url, f"/rest/api/2/issue/CSI-35/comment/{made['id']}", {"body": "v4"})
    assert wrong_issue.status_code == 404
    human = next(c for n in range(1, 151)
                 for c in get(cloud.url, f"/rest/api/2/issue/CSI-{n}/comment").json()["comments"]
                 if c["author"]["displayName"] != "CSI Coach")
    issue_id = human["self"].split("/issue/")[1].split("/")[0]
    refused = put(cloud.url, f"/rest/api/2/issue/{issue_id}/comment/{human['id']}", {"body": "mine now"})
    assert refused.status_code == 403 and refused.json()["errorMessages"]


def test_comment_property_endpoints(cloud):
    cid = post(cloud.url, "/rest/api/2/issue/CSI-36/comment", {"body": "p"}).json()["id"]
    base = f"/rest/api/2/comment/{cid}/properties"
    assert put(cloud.url, f"{base}/csi-coach", {"v": 1}).status_code == 201
    assert put(cloud.url, f"{base}/csi-coach", {"v": 2}).status_code == 200
    assert get(cloud.url, base).json()["keys"][0]["key"] == "csi-coach"
    assert get(cloud.url, f"{base}/csi-coach").json()["value"] == {"v": 2}
    assert requests.delete(cloud.url + f"{base}/csi-coach", auth=BASIC, timeout=10).status_code == 204
    assert get(cloud.url, f"{base}/csi-coach").status_code == 404
    assert get(cloud.url, "/rest/api/2/comment/999999/properties").status_code == 404


def test_comment_list_pages_and_expands(cloud):
    ids = [int(post(cloud.url, "/rest/api/3/issue/CSI-37/comment", {"body": {
        "type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]}]},
        "properties": [{"key": "k", "value": t}]}).json()["id"]) for t in ("a", "b", "c")]
    first = post(cloud.url, "/rest/api/3/comment/list", {"ids": ids + [999999]},
                 {"expand": "properties", "maxResults": 2}).json()
    assert first["total"] == 3 and first["isLast"] is False and "nextPage" in first
    assert [c["properties"][0]["value"] for c in first["values"]] == ["a", "b"]
    rest = post(cloud.url, "/rest/api/3/comment/list", {"ids": ids}, {"startAt": 2, "maxResults": 2}).json()
    assert rest["isLast"] is True and [c["id"] for c in rest["values"]] == [str(ids[2])]
    assert "properties" not in rest["values"][0]
    assert post(cloud.url, "/rest/api/3/comment/list", {"ids": list(range(1001))}).status_code == 400


def test_requests_must_be_json(cloud):
    resp = requests.post(cloud.url + "/rest/api/2/issue/CSI-1/comment", data="body=x", auth=BASIC, timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415


def test_basic_header_that_is_not_base64_is_a_401(cloud):
    resp = requests.get(cloud.url + "/rest/api/2/myself", timeout=10, headers={"Authorization": "Basic %%%"})
    assert resp.status_code == 401
    token = base64.b64encode(b"csi-coach@example.com:sandbox-jira-token").decode()
    assert requests.get(cloud.url + "/rest/api/2/myself", timeout=10,
                        headers={"Authorization": f"Basic {token}"}).status_code == 200


def test_cached_search_results_follow_every_change(cloud):
    """Searches are cached per query and patched with changed rows; they must equal a fresh run."""
    from csi_coach.sandbox.jira.jql import parse, position

    site = cloud.site
    query = parse("project = CSI AND labels = csi ORDER BY updated DESC, key ASC", site.catalog("CSI Coach"))
    site.search(query)  # cached now
    post(cloud.url, "/rest/api/2/issue/CSI-40/comment", {"body": "bump"})
    put(cloud.url, "/rest/api/2/issue/CSI-41", {"update": {"labels": [{"remove": "csi"}]}})
    put(cloud.url, "/rest/api/2/issue/CSI-42", {"update": {"labels": [{"add": "csi"}]}})
    fresh = sorted(((position(query, r, r.index), r) for r in site.rows if query.matches(r)), key=lambda h: h[0])
    patched = site.search(query)
    assert [r.key for _, r in patched] == [r.key for _, r in fresh]
    assert patched[0][1].key == "CSI-42" and "CSI-41" not in {r.key for _, r in patched}


def test_requests_during_startup_wait_then_answer_503_with_retry_after():
    import threading

    site = JiraSandbox(records=5, seed=1)
    gate, build = threading.Event(), site.site._build
    site.site._build = lambda: (gate.wait(10), build())  # hold the record build back
    site.site.startup_wait = 0.2
    with site.start():
        assert get(site.url, "/rest/api/2/serverInfo").status_code == 200  # the socket answers at once
        starting = get(site.url, "/rest/api/2/search/jql", {"jql": "project = CSI"})
        assert starting.status_code == 503 and starting.headers["Retry-After"] == "5"
        assert site.wait_ready(0.05) is False
        gate.set()
        assert site.wait_ready(10) is True
        assert len(get(site.url, "/rest/api/2/search/jql", {"jql": "project = CSI"}).json()["issues"]) == 5
