"""End to end: the ServiceNow connector over real HTTP against the loopback sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest

from csi_coach.errors import AuthError
from csi_coach.model import BrokenRecord, Record
from csi_coach.sandbox.faults import Faults
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from support.servicenow_sandbox import AUTH, open_for, stats


@pytest.mark.parametrize("method", list(AUTH))
def test_full_scan_pages_with_every_auth_method(env, method):
    with ServiceNowSandbox(records=120, seed=3) as snow:
        with open_for(snow, method, page_size=50) as c:
            got = list(c.fetch(None))
        records = [r for r in got if isinstance(r, Record)]
        assert len(got) == 120 and len(records) == 120
        assert len({r.key for r in records}) == 120
        assert [r.updated for r in records] == sorted(r.updated for r in records)
        assert all(r.url.startswith(snow.url + "/nav_to.do?uri=sn_cim_register.do?sys_id=") for r in records)
        assert all(r.updated.tzinfo is not None for r in records)
        counts = stats(snow)
        assert counts.get("GET /api/now/table/{table}") == 3  # 50 + 50 + 20: pages only
        assert sum(n for k, n in counts.items() if k.startswith(("PATCH", "PUT"))) == 0


def test_incremental_scan_and_comment_round_trip(env):
    with ServiceNowSandbox(records=60, seed=5) as snow:
        with open_for(snow, page_size=25) as c:
            records = [r for r in c.fetch(None) if isinstance(r, Record)]
            newest = max(r.updated for r in records)
            later = [r for r in c.fetch(newest - timedelta(seconds=0)) if isinstance(r, Record)]
            assert later and all(r.updated >= newest for r in later)

            target = records[0]
            marker = "csi-coach:0123456789abcdef"
            assert c.bot_comments(target) == []
            ref = c.post(target, f"Please name a value goal.\n\n{marker}", marker)
            assert ref.record_key == target.key
            found = c.bot_comments(target)
            assert [b.marker for b in found] == [marker]
            assert found[0].ref.comment_id  # the journal row's sys_id

            # the write bumped sys_updated_on: the record comes back in the next incremental scan
            again = [r.key for r in c.fetch(newest) if isinstance(r, Record)]
            assert target.key in again


def test_faults_are_retried_and_throttles_waited_out(env):
    faults = Faults(error_rate=0.15, throttle_rate=0.1, reset_rate=0.1, seed=11, retry_after=0)
    with ServiceNowSandbox(records=90, seed=2, faults=faults) as snow:
        with open_for(snow, page_size=20) as c:
            got = list(c.fetch(None))
        assert len([r for r in got if isinstance(r, Record)]) == 90
        assert not [r for r in got if isinstance(r, BrokenRecord)]


def test_wrong_password_is_an_auth_error(monkeypatch, env):
    monkeypatch.setenv("E2E_SN_PASSWORD", "wrong")
    with ServiceNowSandbox(records=5, seed=1) as snow:
        with open_for(snow) as c:
            with pytest.raises(AuthError) as exc:
                list(c.fetch(None))
    assert "$E2E_SN_PASSWORD" in str(exc.value)
    assert "wrong" not in str(exc.value)
