"""The ServiceNow sandbox over real HTTP on 127.0.0.1: Table API, journal, auth, rate limit, stats."""

from __future__ import annotations

import pytest
import requests

from csi_coach.sandbox.servicenow.server import ServiceNowSandbox

AUTH = ("csi-coach", "sandbox-snow-password")
TABLE = "/api/now/table/sn_cim_register"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def snow():
    with ServiceNowSandbox(records=120, seed=3) as server:
        yield server


def get(snow, path, **params):
    return requests.get(snow.url + path, params=params, auth=AUTH, headers=JSON, timeout=10)


def first_record(snow, query="active=true^ORDERBYnumber"):
    return get(snow, TABLE, sysparm_query=query, sysparm_limit=1).json()["result"][0]


# ---- listing, paging -----------------------------------------------------------------


def test_paging_follows_link_next_through_every_record(snow):
    url, params = snow.url + TABLE, {"sysparm_limit": 50, "sysparm_query": "ORDERBYnumber", "sysparm_fields": "number"}
    seen, pages = [], []
    while url:
        resp = requests.get(url, params=params, auth=AUTH, timeout=10)
        assert resp.status_code == 200
        assert resp.headers["X-Total-Count"] == "120"
        pages.append(resp.links)
        seen += [r["number"] for r in resp.json()["result"]]
        url, params = resp.links.get("next", {}).get("url"), None
    assert len(pages) == 3
    assert seen == sorted(seen) and len(set(seen)) == 120
    assert set(pages[0]) == {"first", "next", "last"}           # no prev on the first page
    assert set(pages[1]) == {"first", "prev", "next", "last"}
    assert set(pages[2]) == {"first", "prev", "last"}            # no next on the last page
    assert "sysparm_offset=100" in pages[0]["last"]["url"]
    assert "sysparm_offset=50" in pages[2]["prev"]["url"]
    assert "sysparm_offset=0" in pages[1]["first"]["url"]


def test_offset_and_limit(snow):
    everything = [r["number"] for r in get(snow, TABLE, sysparm_query="ORDERBYnumber", sysparm_fields="number").json()["result"]]
    page = get(snow, TABLE, sysparm_query="ORDERBYnumber", sysparm_fields="number", sysparm_limit=7, sysparm_offset=30)
    assert [r["number"] for r in page.json()["result"]] == everything[30:37]


def test_no_count_and_suppressed_pagination_header(snow):
    resp = get(snow, TABLE, sysparm_limit=5, sysparm_no_count="true")
    assert "X-Total-Count" not in resp.headers
    assert "next" in resp.links and "last" not in resp.links
    resp = get(snow, TABLE, sysparm_limit=5, sysparm_suppress_pagination_header="true")
    assert "Link" not in resp.headers and resp.headers["X-Total-Count"] == "120"


def test_query_filters_and_orders_over_http(snow):
    resp = get(snow, TABLE, sysparm_query="stateIN1,2^ORDERBYDESCsys_updated_on",
               sysparm_fields="state,sys_updated_on")
    rows = resp.json()["result"]
    assert rows and {r["state"] for r in rows} <= {"1", "2"}
    stamps = [r["sys_updated_on"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    everything = get(snow, TABLE, sysparm_fields="state").json()["result"]
    assert int(resp.headers["X-Total-Count"]) == sum(r["state"] in ("1", "2") for r in everything)


def test_query_date_generate_and_dot_walk(snow):
    rows = get(snow, TABLE, sysparm_fields="sys_updated_on", sysparm_query="ORDERBYsys_updated_on").json()["result"]
    middle = rows[60]["sys_updated_on"]
    day, clock = middle.split(" ")
    resp = get(snow, TABLE, sysparm_query=f"sys_updated_on>=javascript:gs.dateGenerate('{day}','{clock}')")
    assert resp.headers["X-Total-Count"] == str(sum(r["sys_updated_on"] >= middle for r in rows))
    walked = get(snow, TABLE, sysparm_query="business_service.nameSTARTSWITHpayroll",
                 sysparm_fields="business_service.name", sysparm_display_value="true").json()["result"]
    assert walked and all(r["business_service.name"] == "Payroll" for r in walked)


def test_sysparm_fields(snow):
    row = get(snow, TABLE, sysparm_limit=1, sysparm_fields="number,benefit").json()["result"][0]
    assert set(row) == {"number", "benefit"}


# ---- display values and references ---------------------------------------------------------


def test_display_value_false_true_all(snow):
    q = {"sysparm_query": "ORDERBYnumber", "sysparm_limit": 1, "sysparm_fields": "state,assigned_to,number"}
    raw = get(snow, TABLE, **q).json()["result"][0]
    shown = get(snow, TABLE, sysparm_display_value="true", **q).json()["result"][0]
    both = get(snow, TABLE, sysparm_display_value="all", **q).json()["result"][0]
    assert raw["state"].isdigit() and not shown["state"].isdigit()
    assert both["state"] == {"value": raw["state"], "display_value": shown["state"]}
    sys_id = raw["assigned_to"]["value"]
    assert len(sys_id) == 32
    assert raw["assigned_to"]["link"] == f"{snow.url}/api/now/table/sys_user/{sys_id}"
    assert set(shown["assigned_to"]) == {"display_value", "link"} and " " in shown["assigned_to"]["display_value"]
    assert both["assigned_to"] == {"value": sys_id, "display_value": shown["assigned_to"]["display_value"],
                                   "link": raw["assigned_to"]["link"]}
    user = requests.get(raw["assigned_to"]["link"], auth=AUTH, timeout=10).json()["result"]
    assert user["name"] == shown["assigned_to"]["display_value"]


def test_exclude_reference_link(snow):
    q = {"sysparm_limit": 1, "sysparm_fields": "business_service", "sysparm_exclude_reference_link": "true"}
    assert isinstance(get(snow, TABLE, **q).json()["result"][0]["business_service"], str)
    assert get(snow, TABLE, sysparm_display_value="all", **q).json()["result"][0]["business_service"].keys() == {
        "display_value", "value"}


# ---- single records ---------------------------------------------------------------------------


def test_get_one_and_errors(snow):
    rec = first_record(snow)
    one = get(snow, f"{TABLE}/{rec['sys_id']}").json()["result"]
    assert one["number"] == rec["number"]
    missing = get(snow, f"{TABLE}/{'0' * 32}")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "No Record found",
                                        "detail": "Record doesn't exist or ACL restricts the record retrieval"},
                              "status": "failure"}
    bad = get(snow, "/api/now/table/no_such_table")
    assert bad.status_code == 400 and bad.json()["status"] == "failure" and "no_such_table" in bad.json()["error"]["message"]
    assert get(snow, f"/api/now/v2/table/sn_cim_register/{rec['sys_id']}").status_code == 200


# ---- writes and the journal ---------------------------------------------------------------------


def journal_rows(snow, sys_id):
    return get(snow, "/api/now/table/sys_journal_field", sysparm_query=f"element_id={sys_id}^ORDERBYsys_created_on").json()["result"]


def test_patch_work_notes_appends_a_journal_row_and_bumps_updated(snow):
    rec = first_record(snow, "active=true^ORDERBYDESCnumber")
    before = rec["sys_updated_on"]
    resp = requests.patch(f"{snow.url}{TABLE}/{rec['sys_id']}", json={"work_notes": "Coaching note csi-coach:00aa"},
                          auth=AUTH, headers=JSON, timeout=10)
    assert resp.status_code == 200
    after = resp.json()["result"]
    assert after["sys_updated_on"] > before
    assert after["sys_updated_by"] == "csi-coach"
    assert after["work_notes"] == ""  # journal fields read back empty; the entries live in sys_journal_field
    rows = journal_rows(snow, rec["sys_id"])
    assert len(rows) == 1
    row = rows[0]
    assert (row["element_id"], row["element"], row["name"], row["value"], row["sys_created_by"]) == (
        rec["sys_id"], "work_notes", "sn_cim_register", "Coaching note csi-coach:00aa", "csi-coach")
    assert row["sys_created_on"] == after["sys_updated_on"] and len(row["sys_id"]) == 32
    found = get(snow, "/api/now/table/sys_journal_field", sysparm_query="valueLIKEcsi-coach:00aa").json()["result"]
    assert [r["sys_id"] for r in found] == [row["sys_id"]]
    shown = get(snow, f"{TABLE}/{rec['sys_id']}", sysparm_display_value="true", sysparm_fields="work_notes").json()
    assert "Coaching note csi-coach:00aa" in shown["result"]["work_notes"]


def test_put_comments_and_plain_fields(snow):
    rec = first_record(snow, "active=true^ORDERBYDESCnumber^NQnumber=CIM0010002")
    resp = requests.put(f"{snow.url}{TABLE}/{rec['sys_id']}", json={"comments": "Visible note", "benefit": "New goal",
                                                                      "number": "HACKED"},
                        auth=AUTH, headers=JSON, timeout=10)
    assert resp.status_code == 200
    result = resp.json()["result"]
    assert result["benefit"] == "New goal" and result["number"] == rec["number"]  # read-only fields are ignored
    assert [(r["element"], r["value"]) for r in journal_rows(snow, rec["sys_id"])][-1] == ("comments", "Visible note")


def test_patch_needs_json_headers(snow):
    rec = first_record(snow)
    url = f"{snow.url}{TABLE}/{rec['sys_id']}"
    no_type = requests.patch(url, data=b'{"work_notes": "x"}', auth=AUTH, headers=JSON, timeout=10)
    assert no_type.status_code == 400 and no_type.json()["status"] == "failure"
    html_only = requests.patch(url, json={"work_notes": "x"}, auth=AUTH, headers={"Accept": "text/html"}, timeout=10)
    assert html_only.status_code == 400
    assert journal_rows(snow, rec["sys_id"]) == []  # neither wrote anything


def test_journal_rows_cannot_be_edited(snow):
    rec = first_record(snow, "active=true^ORDERBYDESCnumber")
    requests.patch(f"{snow.url}{TABLE}/{rec['sys_id']}", json={"work_notes": "edit me"}, auth=AUTH, headers=JSON, timeout=10)
    row = journal_rows(snow, rec["sys_id"])[-1]
    resp = requests.patch(f"{snow.url}/api/now/table/sys_journal_field/{row['sys_id']}", json={"value": "changed"},
                          auth=AUTH, headers=JSON, timeout=10)
    assert resp.status_code == 403
    assert journal_rows(snow, rec["sys_id"])[-1]["value"] == "edit me"


def test_patch_unknown_record_is_404(snow):
    resp = requests.patch(f"{snow.url}{TABLE}/{'f' * 32}", json={"work_notes": "x"}, auth=AUTH, headers=JSON, timeout=10)
    assert resp.status_code == 404


# ---- authentication ---------------------------------------------------------------------------------


def test_401_without_or_with_wrong_credentials(snow):
    for auth in (None, ("csi-coach", "wrong"), ("someone", "sandbox-snow-password")):
        resp = requests.get(snow.url + TABLE, auth=auth, timeout=10)
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="Service-now"'
        assert resp.json() == {"error": {"message": "User Not Authenticated",
                                         "detail": "Required to provide Auth information"}, "status": "failure"}


def test_api_key(snow):
    ok = requests.get(snow.url + TABLE, params={"sysparm_limit": 1}, headers={"x-sn-apikey": "sandbox-snow-api-key"}, timeout=10)
    assert ok.status_code == 200
    bad = requests.get(snow.url + TABLE, headers={"x-sn-apikey": "nope"}, timeout=10)
    assert bad.status_code == 401


def token(snow, **form):
    return requests.post(snow.url + "/oauth_token.do", data=form, timeout=10)


CLIENT = {"client_id": "csi-coach-client", "client_secret": "sandbox-snow-client-secret"}


def test_oauth_password_grant_and_refresh(snow):
    resp = token(snow, grant_type="password", username=AUTH[0], password=AUTH[1], **CLIENT)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["refresh_token"]
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert requests.get(snow.url + TABLE, params={"sysparm_limit": 1}, headers=bearer, timeout=10).status_code == 200
    again = token(snow, grant_type="refresh_token", refresh_token=body["refresh_token"], **CLIENT).json()
    assert again["access_token"] != body["access_token"]
    wrong = token(snow, grant_type="password", username=AUTH[0], password="nope", **CLIENT)
    assert wrong.status_code == 401


def test_oauth_client_credentials_grant(snow):
    resp = token(snow, grant_type="client_credentials", **CLIENT)
    assert resp.status_code == 200 and "refresh_token" not in resp.json()
    bearer = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    rec = first_record(snow)
    patched = requests.patch(f"{snow.url}{TABLE}/{rec['sys_id']}", json={"description": rec["description"]},
                             headers={**bearer, **JSON}, timeout=10)
    assert patched.status_code == 200
    # client credentials may also come as HTTP basic auth on the token request
    basic = requests.post(snow.url + "/oauth_token.do", data={"grant_type": "client_credentials"},
                          auth=(CLIENT["client_id"], CLIENT["client_secret"]), timeout=10)
    assert basic.status_code == 200
    assert token(snow, grant_type="client_credentials", client_id="csi-coach-client", client_secret="x").status_code == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    assert requests.get(snow.url + TABLE, headers=bogus, timeout=10).status_code == 401


def test_expired_token_is_refused():
    with ServiceNowSandbox(records=3, seed=1, token_ttl=0) as short:
        access = token(short, grant_type="client_credentials", **CLIENT).json()["access_token"]
        resp = requests.get(short.url + TABLE, headers={"Authorization": f"Bearer {access}"}, timeout=10)
        assert resp.status_code == 401


# ---- rate limit ---------------------------------------------------------------------------------------


def test_hourly_rate_limit():
    with ServiceNowSandbox(records=3, seed=1, rate_limit=3) as limited:
        answers = [requests.get(limited.url + TABLE, auth=AUTH, timeout=10) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        for r in answers:
            assert r.headers["X-RateLimit-Limit"] == "3"
            assert int(r.headers["X-RateLimit-Reset"]) % 3600 == 0
            assert r.headers["X-RateLimit-Rule"]
        last = answers[-1]
        assert 1 <= int(last.headers["Retry-After"]) <= 3600
        assert last.json()["status"] == "failure" and last.json()["error"]["message"] == "Rate limit exceeded"
        # the stats endpoint is neither authenticated nor rate limited
        assert requests.get(limited.url + "/_sandbox/stats", timeout=10).status_code == 200


# ---- stats ----------------------------------------------------------------------------------------------


def test_stats_count_requests_by_template():
    with ServiceNowSandbox(records=5, seed=2) as fresh:
        rec = requests.get(fresh.url + TABLE, params={"sysparm_limit": 1}, auth=AUTH, timeout=10).json()["result"][0]
        requests.get(f"{fresh.url}{TABLE}/{rec['sys_id']}", auth=AUTH, timeout=10)
        requests.patch(f"{fresh.url}{TABLE}/{rec['sys_id']}", json={"work_notes": "n"}, auth=AUTH, headers=JSON, timeout=10)
        requests.get(fresh.url + "/api/now/table/sys_journal_field", auth=AUTH, timeout=10)
        requests.get(fresh.url + TABLE, timeout=10)  # a 401 still counts: it reached the server
        stats = requests.get(fresh.url + "/_sandbox/stats", timeout=10).json()
        assert stats == {"requests": {"GET /api/now/table/{table}": 3,
                                      "GET /api/now/table/{table}/{sys_id}": 1,
                                      "PATCH /api/now/table/{table}/{sys_id}": 1}, "total": 5}
