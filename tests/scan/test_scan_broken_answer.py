"""A failing record is forgotten only on an answer that positively says it is gone; a broken
answer to its look-up by key (a TransientError from the connector) keeps it tracked (issue 10)."""

from __future__ import annotations

from datetime import timedelta

from csi_coach.errors import BadRequest, TransientError
from csi_coach.scan.state import StateStore
from support.scan_fake import GOALS, FakeConnector, make_config, make_records, scan


class BrokenLookUps(FakeConnector):
    def get(self, key):
        self.gets.append(key)
        raise TransientError("ServiceNow answered read k2 with an empty body (HTTP 200)")


def test_a_broken_answer_to_the_look_up_keeps_the_failing_record_tracked(tmp_path):
    cfg = make_config(tmp_path)
    fake = BrokenLookUps("snow", make_records("snow", GOALS))
    fake.fail_write["k2"] = BadRequest("field is read-only", status=400)
    scan(cfg, {"snow": fake})
    result = scan(cfg, {"snow": fake}, overlap=timedelta(0))  # k2 is older than the watermark: read by key
    assert fake.gets == ["k2"]
    assert result.exit_code == 1 and [f["key"] for f in result.sources[0].failures] == ["k2"]
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert [r.key for r in s.failing_records("snow")] == ["k2"]  # still tracked, read again next scan
