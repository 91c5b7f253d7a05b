"""Owners' pushback over several scans: a reply is read once, acknowledged once, and a rule
that fires after the dispute is coached (without the disputed rules)."""

from __future__ import annotations

from collections import Counter

from csi_coach.scan import disputes as dispute_book
from csi_coach.scan.state import StateStore
from tests.support.scan_fake import GOALS, FakeConnector, make_config, make_records, scan


def _no_marker_twice(fake):
    posted = Counter((key, marker) for op, key, marker in fake.ops if op == "post")
    assert all(n == 1 for n in posted.values()), posted
    for key in fake.comments:
        shown = fake.markers(key)
        assert len(shown) == len(set(shown)), (key, shown)


def test_an_old_reply_is_not_read_again_when_a_new_rule_fires(tmp_path):
    config = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(config, {"snow": fake})
    assert fake.markers("k0") and len(fake.comments["k0"]) == 1  # coached on process-only

    fake.reply("k0", "csi-coach: not applicable - an audit finding")
    second = scan(config, {"snow": fake})
    assert second.sources[0].written == 1
    assert "noted: not_applicable on process-only" in fake.comments["k0"][-1].body

    fake.set_goal("k0", "lower MTTR and incidents")  # another rule fires now
    scan(config, {"snow": fake})
    scan(config, {"snow": fake})  # and once more: nothing new to say

    _no_marker_twice(fake)
    bodies = [c.body for c in fake.comments["k0"]]
    assert len(bodies) == 3, bodies  # the coaching, the one acknowledgement, the new finding coached
    assert sum("noted:" in b for b in bodies) == 1
    with StateStore(tmp_path / "state" / "s.sqlite") as store:
        rows = dispute_book.disputes(store, "snow")
    assert [(d.record_key, d.rule, d.kind) for d in rows] == [("k0", "process-only", "not_applicable")]


def test_a_new_reply_after_a_dispute_is_read_and_acknowledged_once(tmp_path):
    config = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(config, {"snow": fake})
    fake.reply("k0", "csi-coach: not applicable")
    scan(config, {"snow": fake})
    fake.set_goal("k0", "lower MTTR and incidents")
    scan(config, {"snow": fake})  # coaches fewer-incidents
    fake.reply("k0", "csi-coach: wrong - incidents are what members feel")
    scan(config, {"snow": fake})
    scan(config, {"snow": fake})

    _no_marker_twice(fake)
    acks = [c.body for c in fake.comments["k0"] if "noted:" in c.body]
    assert len(acks) == 2 and "wrong on fewer-incidents" in acks[1], acks
    with StateStore(tmp_path / "state" / "s.sqlite") as store:
        rows = dispute_book.disputes(store, "snow")
    assert [(d.rule, d.kind) for d in rows] == [("process-only", "not_applicable"), ("fewer-incidents", "wrong")]
    assert len({d.reply_id for d in rows}) == 2
