"""A server that pages for ever cannot keep a scan (issue 13, finding 2).

Real HTTP servers on 127.0.0.1 (``support.hostile_paging``) reproduce each loop the
review found: ServiceNow's same page with ``Link: rel="next"``, Jira Cloud's
``nextPageToken`` alternating A/B, Data Center's ``total: 10**9`` with ``startAt``
creeping by one, endless journal and comment listings. Each listing must end within
seconds with an ``EndlessListing`` saying what the server did; a stop request must end
a listing between pages even when no record comes through; a scan must report the
source failed and go on with the others.
"""

from __future__ import annotations

import threading
import time

import pytest

from csi_coach.config import JIRA_FIELDS, AuthSettings, CommentPolicy, Config, JiraSettings, ServiceNowSettings, StateSettings
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.servicenow.connector import ServiceNowConnector
from csi_coach.connectors.transport import Limiters, RetryPolicy
from csi_coach.errors import EndlessListing, TransientError
from csi_coach.model import Record
from csi_coach.scan.runner import run_scan
from support.hostile_paging import (
    HostileServer,
    jira_cloud_tokens,
    jira_dc_creeping,
    servicenow_hidden_pages,
    servicenow_new_rows,
    servicenow_same_page,
)

FAST = RetryPolicy(attempts=2, backoff_base=0.01, backoff_cap=0.05)
QUICK = 5.0  # seconds: "ends within a few seconds"


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    for name, value in {"HOSTILE_SN_USER": "csi-coach", "HOSTILE_SN_PASSWORD": "pw-hostile-1",
                        "HOSTILE_JIRA_EMAIL": "csi-coach@example.com", "HOSTILE_JIRA_TOKEN": "tok-hostile-2"}.items():
        monkeypatch.setenv(name, value)


def snow_settings(url: str, **changes) -> ServiceNowSettings:
    auth = AuthSettings(method="basic", username_env="HOSTILE_SN_USER", password_env="HOSTILE_SN_PASSWORD")
    values = dict(name="snow", url=url, auth=auth, page_size=2, timeout_seconds=5)
    return ServiceNowSettings(**(values | changes))


def jira_settings(url: str, flavor: str, **changes) -> JiraSettings:
    auth = AuthSettings(method="basic", username_env="HOSTILE_JIRA_EMAIL", token_env="HOSTILE_JIRA_TOKEN")
    values = dict(name="jira", url=url, auth=auth, flavor=flavor, jql="project = CSI", page_size=2,
                  timeout_seconds=5, fields=JIRA_FIELDS)
    return JiraSettings(**(values | changes))


def open_snow(url: str, stop: threading.Event | None = None, **changes) -> ServiceNowConnector:
    return ServiceNowConnector.open(snow_settings(url, **changes), limiters=Limiters(stop=stop), policy=FAST)


def open_jira(url: str, flavor: str, stop: threading.Event | None = None, **changes) -> JiraConnector:
    return JiraConnector.open(jira_settings(url, flavor, **changes), limiters=Limiters(stop=stop), policy=FAST)


def ends(read) -> tuple[BaseException, float]:
    """Run ``read()``; return what it raised and how long it took (it must raise)."""
    started = time.monotonic()
    with pytest.raises((EndlessListing, TransientError)) as caught:
        read()
    return caught.value, time.monotonic() - started


RECORD = Record(source="snow", key="1" * 32, number="CIM0000001", url="", title="")


# --------------------------------------------------------------------------- ServiceNow


def test_servicenow_serving_the_same_page_with_rel_next_ends_at_the_second_page():
    with HostileServer(servicenow_same_page()) as server, open_snow(server.url) as c:
        error, took = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, EndlessListing) and took < QUICK
    assert "read sn_cim_register" in str(error) and "page 2" in str(error)
    assert server.count("/sn_cim_register") == 2


def test_servicenow_rows_never_seen_before_end_at_max_pages():
    with HostileServer(servicenow_new_rows()) as server, open_snow(server.url, max_pages=25) as c:
        error, took = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, EndlessListing) and took < QUICK
    assert "after 25 pages" in str(error) and "max_pages = 25" in str(error)
    assert server.count("/sn_cim_register") == 25


def test_servicenow_pages_past_what_its_own_count_needs_end_early():
    # X-Total-Count says 3 rows while pages of new rows keep coming: 2 x 1 page + 10 of slack
    with HostileServer(servicenow_new_rows(total=3)) as server, open_snow(server.url) as c:
        error, _ = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, EndlessListing) and "the server counted 1 more row(s)" in str(error)
    assert server.count("/sn_cim_register") == 13


def test_servicenow_journal_listings_end_too():
    with HostileServer(servicenow_same_page(journal_loops=True)) as server, open_snow(server.url) as c:
        error, took = ends(lambda: c.bot_comments(RECORD))
        assert isinstance(error, EndlessListing) and took < QUICK and "sys_journal_field" in str(error)
        error, took = ends(lambda: c.marked_keys(None))
        assert isinstance(error, EndlessListing) and took < QUICK
    assert server.count("/sys_journal_field") == 4  # two pages each


def test_servicenow_stop_ends_a_listing_between_pages_when_no_record_comes_through():
    stop = threading.Event()
    with HostileServer(servicenow_hidden_pages(), delay=0.02) as server, open_snow(server.url, stop) as c:
        threading.Timer(0.5, stop.set).start()
        error, took = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, TransientError) and "stopped on request between pages" in str(error)
    assert 0.5 <= took < 0.5 + 1.0
    assert server.count("/sn_cim_register") >= 5  # it was paging (no record), then stopped


# --------------------------------------------------------------------------- Jira


def test_jira_cloud_next_page_token_alternating_a_b_ends_when_a_comes_back():
    with HostileServer(jira_cloud_tokens(new_issues=True)) as server, open_jira(server.url, "cloud") as c:
        error, took = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, EndlessListing) and took < QUICK
    assert "nextPageToken 'A'" in str(error)
    assert server.count("/search/jql") == 3


def test_jira_cloud_the_same_issues_again_end_at_the_second_page():
    with HostileServer(jira_cloud_tokens(new_issues=False)) as server, open_jira(server.url, "cloud") as c:
        error, _ = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, EndlessListing) and "only records already read" in str(error)
    assert server.count("/search/jql") == 2


def test_jira_data_center_total_of_a_billion_with_the_same_issue_ends_at_the_second_page():
    with HostileServer(jira_dc_creeping(new_issues=False)) as server, open_jira(server.url, "server") as c:
        error, took = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, EndlessListing) and took < QUICK
    assert server.count("/search") == 2


def test_jira_data_center_a_new_issue_each_page_ends_at_max_pages():
    with HostileServer(jira_dc_creeping(new_issues=True)) as server, \
            open_jira(server.url, "server", max_pages=30) as c:
        error, took = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, EndlessListing) and took < QUICK and "after 30 pages" in str(error)
    assert server.count("/search") == 30


def test_jira_comment_listing_with_a_billion_comments_ends():
    issue = Record(source="jira", key="CSI-1", number="CSI-1", url="", title="")
    with HostileServer(jira_dc_creeping(new_issues=False)) as server, open_jira(server.url, "server") as c:
        error, took = ends(lambda: c.bot_comments(issue))
    assert isinstance(error, EndlessListing) and took < QUICK and "comments of CSI-1" in str(error)
    assert server.count("/comment") == 2


def test_jira_stop_ends_a_listing_between_pages():
    stop = threading.Event()
    with HostileServer(jira_dc_creeping(new_issues=True), delay=0.02) as server, \
            open_jira(server.url, "server", stop) as c:
        threading.Timer(0.5, stop.set).start()
        error, took = ends(lambda: list(c.fetch(None)))
    assert isinstance(error, TransientError) and "stopped on request between pages" in str(error)
    assert 0.5 <= took < 1.5


# --------------------------------------------------------------------------- a whole scan


def scan_config(tmp_path, *sources) -> Config:
    return Config(path=tmp_path / "config.toml", state=StateSettings(path="state/s.sqlite"),
                  comments=CommentPolicy(workers=1), sources=sources)


def test_a_scan_fails_each_endless_source_clearly_and_reads_the_others(tmp_path):
    from csi_coach.sandbox.jira.server import JiraSandbox

    with HostileServer(servicenow_same_page()) as snow, \
            HostileServer(jira_cloud_tokens(new_issues=True)) as cloud, \
            JiraSandbox(flavor="cloud", records=5, seed=2, token="tok-hostile-2").start() as good:
        assert good.wait_ready(60)
        healthy = jira_settings(good.url, "cloud", name="jira-ok", auth=AuthSettings(
            method="basic", username_env="HOSTILE_JIRA_EMAIL", token_env="HOSTILE_JIRA_TOKEN"))
        config = scan_config(tmp_path, snow_settings(snow.url), jira_settings(cloud.url, "cloud"), healthy)
        started = time.monotonic()
        result = run_scan(config)
        took = time.monotonic() - started
    by_name = {s.name: s for s in result.sources}
    assert took < 3 * QUICK
    assert by_name["snow"].status == "failed" and "paging would never end" in by_name["snow"].error
    assert by_name["jira"].status == "failed" and "nextPageToken" in by_name["jira"].error
    assert by_name["jira-ok"].status == "ok" and by_name["jira-ok"].records == 5
    assert result.status == "failed" and result.exit_code == 1


def test_a_stop_request_ends_a_scan_paging_a_server_that_yields_no_record(tmp_path):
    stop = threading.Event()
    results: list = []
    with HostileServer(servicenow_hidden_pages(), delay=0.02) as snow:
        config = scan_config(tmp_path, snow_settings(snow.url))
        scan = threading.Thread(target=lambda: results.append(run_scan(config, stop=stop)))
        scan.start()
        deadline = time.monotonic() + 60
        while snow.count("/sn_cim_register") < 5 and time.monotonic() < deadline:
            time.sleep(0.01)  # pages go by with no record at all: only the guard can stop it
        stop.set()
        asked = time.monotonic()
        scan.join(10)
        took = time.monotonic() - asked
    assert not scan.is_alive() and took < 1.0
    result = results[0]
    assert result.status == "interrupted" and result.sources[0].records == 0
