"""An acknowledgement that could not be written when the reply was read says, when it is
written later, what the owner said (the stored dispute), not a default."""

from __future__ import annotations

from csi_coach.errors import TransientError
from tests.support.scan_fake import GOALS, FakeConnector, make_config, make_records, scan


def test_a_delayed_acknowledgement_tells_the_owner_the_kind_they_replied(tmp_path):
    config = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(config, {"snow": fake})
    fake.reply("k0", "csi-coach: not applicable - an audit finding")
    fake.fail_write["k0"] = TransientError("service unavailable", status=503)
    failed = scan(config, {"snow": fake})
    assert failed.sources[0].written == 0 and len(fake.comments["k0"]) == 1  # kept, not acknowledged yet
    del fake.fail_write["k0"]

    scan(config, {"snow": fake})

    acks = [c.body.splitlines()[0] for c in fake.comments["k0"] if "noted:" in c.body]
    assert acks == ["[servicenow] noted: not_applicable on process-only for REC0000"]


def test_a_second_dispute_is_acknowledged_for_its_own_rules_and_kind(tmp_path):
    config = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(config, {"snow": fake})
    fake.reply("k0", "csi-coach: wrong")
    scan(config, {"snow": fake})
    fake.set_goal("k0", "lower MTTR and incidents")
    scan(config, {"snow": fake})
    fake.reply("k0", "csi-coach: not applicable")
    fake.fail_write["k0"] = TransientError("service unavailable", status=503)
    scan(config, {"snow": fake})
    del fake.fail_write["k0"]
    scan(config, {"snow": fake})

    acks = [c.body.splitlines()[0] for c in fake.comments["k0"] if "noted:" in c.body]
    assert acks == ["[servicenow] noted: wrong on process-only for REC0000",
                    "[servicenow] noted: not_applicable on fewer-incidents for REC0000"]
