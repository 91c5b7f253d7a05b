"""A dry run on a state file of the release before disputes (schema 3): read as it is, never
migrated, and an owner's pushback in it is reported, not a failure."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

from csi_coach.model import Category, Record
from csi_coach.scan.state import StateStore
from tests.support.scan_fake import FakeConnector, make_config, scan

FIXTURE = Path(__file__).parents[1] / "report" / "fixtures" / "state-schema3.sqlite"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_dry_run_reads_a_reply_on_a_state_file_without_the_dispute_tables(tmp_path):
    state = tmp_path / "state" / "s.sqlite"
    state.parent.mkdir()
    shutil.copyfile(FIXTURE, state)
    before = _digest(state)
    with StateStore.open_readonly_or_empty(state) as old:
        assert not old._query("SELECT 1 FROM sqlite_master WHERE name IN ('disputes', 'coached_rules')")  # noqa: SLF001
    # k0 was coached (a posted ledger row) in that release; its owner has replied since.
    record = Record(source="snow", key="k0", number="CIM0", url="http://x/0", title="record 0", goal="lower MTTR",
                    state="Open", updated=datetime(2024, 3, 5, tzinfo=UTC))
    fake = FakeConnector("snow", [record])
    fake.reply("k0", "csi-coach: wrong - the payout time is the outcome")
    written = []

    result = scan(make_config(tmp_path), {"snow": fake}, dry_run=True, fingerprint="fp", on_dry_write=written.append)

    assert (result.problem, result.error) == ("", "")  # it was a state_error: no table disputes
    source = result.sources[0]
    assert source.failed == 0 and source.categories[Category.PROCESS_ONLY.value] == 1
    assert [t.action.kind.value for t in written] == ["acknowledge_dispute"]
    assert fake.ops == [] and _digest(state) == before  # nothing written anywhere
