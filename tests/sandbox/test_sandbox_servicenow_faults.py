"""Injected faults: deterministic under the seed, shaped like the real failures, stats exempt."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from csi_coach.sandbox.faults import ERROR_STATUSES, Faults, RequestStats
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox

AUTH = ("csi-coach", "sandbox-snow-password")
TABLE = "/api/now/table/sn_cim_register"


def outcomes(seed: int, n: int = 40) -> list[str]:
    """What a one-request-at-a-time client sees, request by request."""
    faults = Faults(error_rate=0.25, throttle_rate=0.15, reset_rate=0.15, seed=seed, retry_after=2)
    seen = []
    with ServiceNowSandbox(records=20, seed=1, faults=faults) as snow:
        for _ in range(n):
            try:
                resp = requests.get(snow.url + TABLE, params={"sysparm_limit": 5}, auth=AUTH, timeout=10)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                seen.append("reset")  # cut mid-body (ChunkedEncodingError) or before the status line
                continue
            if resp.status_code == 429:
                assert resp.headers["Retry-After"] == "2"
                assert resp.json()["status"] == "failure"
            elif resp.status_code >= 500:
                assert resp.status_code in ERROR_STATUSES
                assert set(resp.json()) == {"error", "status"} and set(resp.json()["error"]) == {"message", "detail"}
            else:
                assert len(resp.json()["result"]) == 5
            seen.append(str(resp.status_code))
    return seen


def test_faults_are_deterministic_under_the_seed():
    first, again, other = outcomes(5), outcomes(5), outcomes(6)
    assert first == again
    assert first != other
    kinds = Counter(first)
    assert kinds["200"] and kinds["429"] and kinds["reset"] and sum(kinds[str(s)] for s in ERROR_STATUSES)


def test_pick_is_a_pure_function_of_seed_and_sequence():
    a = Faults(error_rate=0.1, throttle_rate=0.05, reset_rate=0.02, seed=11)
    b = Faults(error_rate=0.1, throttle_rate=0.05, reset_rate=0.02, seed=11)
    picks = [a.pick() for _ in range(500)]
    assert picks == [b.pick_for(i) for i in range(500)]
    share = Counter(p.kind if p else "ok" for p in picks)
    assert 25 <= share["error"] <= 80 and 10 <= share["throttle"] <= 45 and 1 <= share["reset"] <= 25


def test_rates_are_validated():
    with pytest.raises(ValueError):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError):
        Faults(error_rate=0.6, throttle_rate=0.6)
    assert not Faults().active and Faults(latency_ms=5).active


def test_a_reset_write_still_takes_effect():
    """A reset cuts the answer, not the work: the client cannot know whether its write landed."""
    with ServiceNowSandbox(records=5, seed=1, faults=Faults(reset_rate=1.0, seed=1)) as snow:
        store = snow.store
        table = store.table("sn_cim_register")
        sys_id = table.rows[0]["sys_id"]
        with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            requests.patch(f"{snow.url}{TABLE}/{sys_id}", json={"work_notes": "half-heard"}, auth=AUTH,
                           headers={"Accept": "application/json"}, timeout=10)
        journal = store.table("sys_journal_field").rows
        assert [(r["element_id"], r["value"]) for r in journal] == [(sys_id, "half-heard")]


def test_stats_are_exempt_from_faults_and_count_faulted_requests():
    with ServiceNowSandbox(records=5, seed=1, faults=Faults(error_rate=1.0, seed=1)) as snow:
        for _ in range(3):
            assert requests.get(snow.url + TABLE, auth=AUTH, timeout=10).status_code in ERROR_STATUSES
        stats = requests.get(snow.url + "/_sandbox/stats", timeout=10)
        assert stats.status_code == 200
        assert stats.json() == {"requests": {"GET /api/now/table/{table}": 3}, "total": 3}


def test_faults_can_be_switched_off_on_a_running_server():
    with ServiceNowSandbox(records=5, seed=1, faults=Faults(error_rate=1.0, seed=1)) as snow:
        assert requests.get(snow.url + TABLE, auth=AUTH, timeout=10).status_code >= 500
        snow.faults = None
        assert requests.get(snow.url + TABLE, auth=AUTH, timeout=10).status_code == 200


def test_request_stats_is_thread_safe():
    import threading

    stats = RequestStats()

    def hammer():
        for _ in range(2000):
            stats.count("GET", "/x")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.snapshot() == {"requests": {"GET /x": 16000}, "total": 16000}
