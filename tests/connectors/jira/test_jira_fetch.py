"""Jira fetch: Cloud token paging, Data Center startAt paging and the 10,000 split, flavors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses

from csi_coach.connectors.jira import connector as connector_module
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.model import BrokenRecord, Record
from support.jira import CLOUD, DC, load, path, query, set_secrets, settings

ORDER = "ORDER BY updated ASC, key ASC"
FIRST_BERLIN = '(project = CSI) AND updated < "2026-12-01 13:01" ' + ORDER  # a full listing, user in Berlin
CLOUD_FIELDS = "summary,description,customfield_10050,components,assignee,status,updated,labels"


@pytest.fixture
def rsps():
    """Loose here (the shared one in conftest.py is strict): some tests register
    answers that a retry path may not need."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


@pytest.fixture(autouse=True)
def listing_starts_at_noon(monkeypatch):
    """Every listing starts at 2026-12-01 12:00 UTC: its upper bound is the next minute boundary,
    in the user's zone (Berlin 13:01, New York 07:01, UTC 12:01)."""
    monkeypatch.setattr(connector_module, "wall_clock", lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC))


def single_server_page():
    return {**load("search_page3.json"), "startAt": 0, "total": 1}


def add_myself(rsps, base=CLOUD, fixture="myself_cloud.json"):
    rsps.get(f"{base}/rest/api/2/myself", json=load(fixture))


def with_updated(page, when):
    """A fixture page whose issues were all updated at ``when`` (parseable ones only)."""
    issues = [{**i, "fields": {**i["fields"], "updated": when}} if "T" in i["fields"]["updated"] else i
              for i in page["issues"]]
    return {**page, "issues": issues}


def add_cloud_pages(rsps):
    """Three pages, each within one minute, so the token is followed (a restart would re-read the page)."""
    for n in (1, 2, 3):
        token = {} if n == 1 else {"nextPageToken": f"CAEaAggD-page{n}"}
        page = with_updated(load(f"search_jql_page{n}.json"), "2026-11-20T08:15:30.000+0000")
        rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=page,
                 match=[responses.matchers.query_param_matcher(token, strict_match=False)])


def test_cloud_pages_follow_next_page_token_within_a_minute_until_is_last(rsps):
    add_myself(rsps)
    add_cloud_pages(rsps)
    with JiraConnector(settings("cloud"), None) as jira:
        items = list(jira.fetch(None))
    assert [i.key for i in items] == ["CSI-1", "CSI-2", "CSI-3", "CSI-4", "CSI-5", "CSI-6"]
    assert isinstance(items[-1], BrokenRecord) and all(isinstance(i, Record) for i in items[:-1])
    searches = [c for c in rsps.calls if path(c) == "/rest/api/2/search/jql"]
    assert [query(c).get("nextPageToken") for c in searches] == [None, "CAEaAggD-page2", "CAEaAggD-page3"]
    for c in searches:
        q = query(c)
        assert q["jql"] == FIRST_BERLIN
        assert q["fields"] == CLOUD_FIELDS
        assert q["maxResults"] == "2"
    # minimal: myself once + one request per page
    assert [path(c) for c in rsps.calls] == ["/rest/api/2/myself"] + ["/rest/api/2/search/jql"] * 3


def test_cloud_pages_restart_at_the_last_minute_read_instead_of_the_token(rsps):
    add_myself(rsps)  # Europe/Berlin, UTC+1 in November
    first = load("search_jql_page1.json")  # CSI-1 08:15:30Z, CSI-2 08:00Z: two minutes, the last 09:00 Berlin
    later = load("search_jql_page2.json")["issues"]
    restart = '(project = CSI) AND updated >= "2026-11-20 09:00" AND updated < "2026-12-01 13:01" ' + ORDER
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=first,
             match=[responses.matchers.query_param_matcher({"jql": FIRST_BERLIN},
                                                           strict_match=False)])
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json={"issues": [first["issues"][1], *later], "isLast": True},
             match=[responses.matchers.query_param_matcher({"jql": restart}, strict_match=False)])
    with JiraConnector(settings("cloud"), None) as jira:
        keys = [r.key for r in jira.fetch(None)]
    assert keys == ["CSI-1", "CSI-2", "CSI-3", "CSI-4"]  # CSI-2 re-read at the restart, yielded once
    searches = [c for c in rsps.calls if path(c) == "/rest/api/2/search/jql"]
    assert [query(c)["jql"] for c in searches] == [FIRST_BERLIN, restart]
    assert "nextPageToken" not in query(searches[1])
    assert len(rsps.calls) == 3  # myself + one request per page


def test_cloud_page_without_next_token_ends_even_if_is_last_missing(rsps):
    add_myself(rsps)
    page = load("search_jql_page1.json")
    del page["nextPageToken"], page["isLast"]
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=page)
    with JiraConnector(settings("cloud"), None) as jira:
        assert [r.key for r in jira.fetch(None)] == ["CSI-1", "CSI-2"]
    assert len(rsps.calls) == 2


def test_fetch_streams_page_by_page(rsps):
    add_myself(rsps)
    add_cloud_pages(rsps)
    with JiraConnector(settings("cloud"), None) as jira:
        stream = jira.fetch(None)
        first = next(stream)
        assert first.key == "CSI-1"
        assert len(rsps.calls) == 2  # myself + page 1 only
        next(stream), next(stream)
        assert len(rsps.calls) == 3  # page 2 fetched when page 1 ran out


def test_incremental_jql_uses_watermark_in_the_users_zone(rsps):
    add_myself(rsps)  # timeZone Europe/Berlin (UTC+1 in November)
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=load("search_jql_page3.json"))
    since = datetime(2026, 11, 20, 7, 5, 59, 500000, tzinfo=UTC)
    with JiraConnector(settings("cloud", jql="project = CSI AND issuetype = Improvement"), None) as jira:
        list(jira.fetch(since))
    assert query(rsps.calls[1])["jql"] == (
        '(project = CSI AND issuetype = Improvement) AND updated >= "2026-11-20 08:05" '
        'AND updated < "2026-12-01 13:01" ORDER BY updated ASC, key ASC')


def server_body(issues, start, total):
    return {"expand": "schema,names", "startAt": start, "maxResults": 2, "total": total, "issues": issues}


def test_server_pages_restart_at_the_last_minute_seen_and_skip_keys_already_yielded(rsps):
    add_myself(rsps, DC, "myself_datacenter.json")  # America/New_York, UTC-5 in November
    ops = {i["key"]: i for n in (1, 2, 3) for i in load(f"search_page{n}.json")["issues"]}
    base = '(project = CSI) AND updated >= "{}" AND updated < "2026-12-01 07:01" ORDER BY updated ASC, key ASC'
    # OPS-1 and OPS-2 share 08:15 UTC; OPS-3, OPS-4, OPS-5 a day apart each
    pages = [
        (base.format("2026-11-20 03:00"), 0, ["OPS-1", "OPS-2"], 5),  # the watermark query
        (base.format("2026-11-20 03:00"), 2, ["OPS-3", "OPS-4"], 5),  # page 1 in one minute: step by startAt
        (base.format("2026-11-22 05:00"), 0, ["OPS-4", "OPS-5"], 2),  # restart at OPS-4's minute
    ]
    for jql, start, keys, total in pages:
        rsps.get(f"{DC}/rest/api/2/search", json=server_body([ops[k] for k in keys], start, total),
                 match=[responses.matchers.query_param_matcher({"jql": jql, "startAt": str(start)},
                                                               strict_match=False)])
    with JiraConnector(settings("server", method="pat"), None) as jira:
        keys = [r.key for r in jira.fetch(datetime(2026, 11, 20, 8, 0, 59, tzinfo=UTC))]
    assert keys == ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"]  # each once: re-read keys skipped
    searches = [c for c in rsps.calls if path(c) == "/rest/api/2/search"]
    assert [(query(c)["jql"], int(query(c)["startAt"])) for c in searches] == [(j, s) for j, s, _, _ in pages]
    assert {query(c)["maxResults"] for c in searches} == {"2"}
    assert len(rsps.calls) == 1 + len(pages)  # myself + one request per page


def test_server_yields_an_issue_again_when_its_updated_changed(rsps):
    rsps.get(f"{DC}/rest/api/2/myself", json={**load("myself_datacenter.json"), "timeZone": "UTC"})
    ops = {i["key"]: i for n in (1, 2) for i in load(f"search_page{n}.json")["issues"]}
    bumped = {**ops["OPS-2"], "fields": {**ops["OPS-2"]["fields"], "updated": "2026-11-21T09:00:30.000+0000"}}
    rsps.get(f"{DC}/rest/api/2/search", json=server_body([ops["OPS-2"], ops["OPS-3"]], 0, 3),
             match=[responses.matchers.query_param_matcher(
                 {"jql": '(project = CSI) AND updated < "2026-12-01 12:01" ' + ORDER, "startAt": "0"},
                 strict_match=False)])
    rsps.get(f"{DC}/rest/api/2/search", json=server_body([ops["OPS-3"], bumped], 0, 2),
             match=[responses.matchers.query_param_matcher(
                 {"jql": '(project = CSI) AND updated >= "2026-11-21 09:00" AND updated < "2026-12-01 12:01" ' + ORDER,
                  "startAt": "0"}, strict_match=False)])
    with JiraConnector(settings("server", method="pat"), None) as jira:
        keys = [r.key for r in jira.fetch(None)]
    assert keys == ["OPS-2", "OPS-3", "OPS-2"]  # OPS-3 read twice, yielded once; OPS-2 changed meanwhile
    assert len(rsps.calls) == 3


class FakeDataCenterSearch:
    """A /rest/api/2/search that honours ``updated >=`` and ``updated <`` (UTC), startAt and the window;
    comments bump ``updated``; ``after_page`` runs after each page is served (owners' edits)."""

    def __init__(self, n: int, window: int = 10_000, per_minute: int = 3) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        self.issues = {f"OPS-{i + 1}": start + timedelta(minutes=i // per_minute, milliseconds=i % per_minute)
                       for i in range(n)}
        self.window = window
        self.now = datetime(2026, 6, 1, tzinfo=UTC)
        self.queries: list[tuple[str, int]] = []
        self.after_page = None

    def ordered(self) -> list[tuple[str, datetime]]:
        return sorted(self.issues.items(), key=lambda item: (item[1], int(item[0].split("-")[1])))

    def search(self, request):
        from urllib.parse import parse_qs, urlsplit

        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        start_at, size = int(q["startAt"]), int(q["maxResults"])
        self.queries.append((q["jql"], start_at))
        if start_at + size > self.window:
            return 400, {}, json.dumps({"errorMessages": ["Result window is too large"], "errors": {}})
        floor = None
        if 'updated >= "' in q["jql"]:
            literal = q["jql"].split('updated >= "')[1].split('"')[0]
            floor = datetime.strptime(literal, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        ceiling = None
        if 'updated < "' in q["jql"]:
            literal = q["jql"].split('updated < "')[1].split('"')[0]
            ceiling = datetime.strptime(literal, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        matching = [i for i in self.ordered()
                    if (floor is None or i[1] >= floor) and (ceiling is None or i[1] < ceiling)]
        page = matching[start_at:start_at + size]
        if self.after_page is not None:
            self.after_page([key for key, _ in page])
        issues = [{"id": key.split("-")[1], "key": key, "self": f"{DC}/rest/api/2/issue/{key}",
                   # the goal field unset: null, as Jira answers a requested field the site has
                   "fields": {"summary": key, "customfield_10050": None,
                              "updated": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"}}
                  for key, when in page]
        body = {"startAt": start_at, "maxResults": size, "total": len(matching), "issues": issues}
        return 200, {}, json.dumps(body)

    def comment(self, request):
        key = request.url.split("/issue/")[1].split("/")[0]
        self.now += timedelta(milliseconds=1)  # a comment counts as an update of the issue
        self.issues[key] = self.now
        return 201, {}, json.dumps({"id": str(len(self.queries)), "body": "x"})

    def serve(self, rsps, zone: str | None = "UTC") -> None:
        import re

        me = {k: v for k, v in load("myself_datacenter.json").items() if k != "timeZone"}
        rsps.get(f"{DC}/rest/api/2/myself", json={**me, "timeZone": zone} if zone else me)
        rsps.add_callback(responses.GET, f"{DC}/rest/api/2/search", callback=self.search)
        rsps.add_callback(responses.POST, re.compile(f"{DC}/rest/api/2/issue/[^/]+/comment"), callback=self.comment)


def test_server_pages_never_reach_the_10000_window(rsps):
    fake = FakeDataCenterSearch(12_500)
    fake.serve(rsps)
    with JiraConnector(settings("server", method="pat", page_size=1000), None) as jira:
        keys = [r.key for r in jira.fetch(None)]
    assert keys == [k for k, _ in fake.ordered()]  # each exactly once, in order
    assert all(start == 0 for _, start in fake.queries)
    # OPS-1000, the last of page 1, was updated in minute 333 (3 issues a minute)
    assert fake.queries[1] == (
        '(project = CSI) AND updated >= "2026-01-01 05:33" AND updated < "2026-12-01 12:01" ' + ORDER, 0)
    # each restart re-reads the issues of its first minute up to the last one seen: at most 2
    assert len(fake.queries) == 13


def test_server_steps_by_start_at_within_a_crowded_minute_and_backs_off_by_its_writes(rsps):
    fake = FakeDataCenterSearch(250, per_minute=250)  # one minute holds every issue
    fake.serve(rsps)
    seen: list[str] = []
    with JiraConnector(settings("server", method="pat", page_size=50), None) as jira:
        for record in jira.fetch(None):
            if record.key not in seen and len(seen) % 4 == 0:
                jira.post(record, "h4. Coaching", "csi-coach:0123456789abcdef")  # moves it to the end
            seen.append(record.key)
    assert set(seen) == set(fake.issues)  # none skipped although 63 moved out from under startAt
    assert len(seen) == 250 + 63  # the moved ones come round once more, at their new place
    searches = [s for _, s in fake.queries]
    # a restart at the crowded minute would read page 1 again, so startAt steps on, minus the 13
    # issues page 1's comments moved away; page 2 is all new and 12 of its issues get a comment
    assert searches[:3] == [0, 50 - 13, 100 - 13 - 12]


def test_server_within_a_crowded_minute_backs_off_by_the_issues_owners_moved_away(rsps):
    """Owners edit issues already read while the listing steps by startAt through one minute:
    each leaves the listing (updated after its upper bound) and the rest slide forward under
    the offset. The drop in ``total`` says how many left; only a back-off by it skips none."""
    fake = FakeDataCenterSearch(250, per_minute=250)  # one minute holds every issue
    moved: list[str] = []

    def owners_edit(page: list[str]) -> None:  # after each of the first pages, the two oldest issues
        oldest = [key for key, when in fake.ordered() if when.year == 2026 and when.month == 1][:2]
        for key in oldest if len(moved) < 10 else []:
            fake.issues[key] = datetime(2026, 12, 1, 12, 5, len(moved) % 60, tzinfo=UTC)  # after the bound
            moved.append(key)

    fake.after_page = owners_edit
    fake.serve(rsps)
    with JiraConnector(settings("server", method="pat", page_size=50), None) as jira:
        seen = [r.key for r in jira.fetch(None)]
    assert len(moved) == 10
    assert sorted(seen, key=lambda k: int(k[4:])) == [f"OPS-{n}" for n in range(1, 251)]  # each once, none skipped


def test_server_without_the_users_zone_steps_by_start_at_backing_off_by_its_writes(rsps):
    fake = FakeDataCenterSearch(250)  # spread over minutes, but restart literals would be widened by 14 h
    fake.serve(rsps, zone=None)
    seen: list[str] = []
    with JiraConnector(settings("server", method="pat", page_size=50), None) as jira:
        for record in jira.fetch(None):
            if record.key not in seen and len(seen) % 4 == 0:
                jira.post(record, "h4. Coaching", "csi-coach:0123456789abcdef")
            seen.append(record.key)
    assert set(seen) == set(fake.issues)
    assert {jql for jql, _ in fake.queries} == {"(project = CSI) ORDER BY updated ASC, key ASC"}
    assert [s for _, s in fake.queries][:2] == [0, 50 - 13]


def test_server_more_than_a_window_in_one_minute_is_an_error_naming_the_source(rsps):
    from csi_coach.errors import TransientError

    fake = FakeDataCenterSearch(10_001, per_minute=10_001)
    fake.serve(rsps)
    with JiraConnector(settings("server", method="pat", page_size=1000), None) as jira:
        with pytest.raises(TransientError) as info:
            for _ in jira.fetch(None):
                pass
    assert "share the updated minute" in str(info.value) and "jira-test" in str(info.value)
    assert all(start + 1000 <= 10_000 for _, start in fake.queries)


@pytest.mark.parametrize("deployment,expect", [("Cloud", "/rest/api/2/search/jql"), ("Server", "/rest/api/2/search"),
                                                ("DataCenter", "/rest/api/2/search")])
def test_auto_flavor_asks_server_info_once(rsps, deployment, expect):
    info = load("serverinfo_cloud.json" if deployment == "Cloud" else "serverinfo_datacenter.json")
    info["deploymentType"] = deployment
    base = CLOUD
    rsps.get(f"{base}/rest/api/2/serverInfo", json=info)
    add_myself(rsps)
    rsps.get(f"{base}/rest/api/2/search/jql", json=load("search_jql_page3.json"))
    rsps.get(f"{base}/rest/api/2/search", json=single_server_page())
    with JiraConnector(settings("auto", url=base), None) as jira:
        list(jira.fetch(None))
        list(jira.fetch(None))
        assert jira.flavor == ("cloud" if deployment == "Cloud" else "server")
    paths = [path(c) for c in rsps.calls]
    assert paths.count("/rest/api/2/serverInfo") == 1
    assert paths.count("/rest/api/2/myself") == 1
    assert paths.count(expect) == 2


def test_explicit_flavor_never_asks_server_info(rsps):
    add_myself(rsps)
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=load("search_jql_page3.json"))
    with JiraConnector(settings("cloud"), None) as jira:
        list(jira.fetch(None))
    assert "/rest/api/2/serverInfo" not in [path(c) for c in rsps.calls]


def test_basic_auth_on_cloud_and_bearer_pat_on_data_center(rsps, monkeypatch):
    import base64

    add_myself(rsps)
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=load("search_jql_page3.json"))
    with JiraConnector(settings("cloud"), None) as jira:
        list(jira.fetch(None))
    expected = "Basic " + base64.b64encode(b"csi-coach@example.com:tok-S3cr3t-value-9f8e7d").decode()
    assert {c.request.headers["Authorization"] for c in rsps.calls} == {expected}

    set_secrets(monkeypatch, method="pat")
    rsps.get(f"{DC}/rest/api/2/myself", json=load("myself_datacenter.json"))
    rsps.get(f"{DC}/rest/api/2/search", json=single_server_page())
    before = len(rsps.calls)
    with JiraConnector(settings("server", method="pat"), None) as jira:
        list(jira.fetch(None))
    assert {c.request.headers["Authorization"] for c in rsps.calls[before:]} == {"Bearer pat-NjQ3MjA5-S3cr3t-PAT"}
    assert len(rsps.calls) - before == 2


def test_empty_jql_is_a_config_error():
    from csi_coach.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        JiraConnector(settings("cloud", jql="  "), None)
    assert "sources.jira-test.jql" in str(info.value)


def test_missing_secret_is_a_config_error_naming_the_variable(monkeypatch):
    from csi_coach.errors import ConfigError

    monkeypatch.delenv("CSI_TEST_JIRA_TOKEN")
    with pytest.raises(ConfigError) as info:
        JiraConnector(settings("cloud"), None)
    assert "CSI_TEST_JIRA_TOKEN" in str(info.value) and "sources.jira-test.auth.token_env" in str(info.value)
