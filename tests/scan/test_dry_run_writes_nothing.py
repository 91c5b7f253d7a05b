"""A dry run writes what the README says and nothing else (issue 14, item 8): its output,
and a report only to a --report DIR on its command line. No comment, no state file, no
lock file, no folder, never the [report] dir. `--summary` leaves the comment bodies out.

The real `csi-coach scan` against both sandboxes over 127.0.0.1; every file under the
test's folder is compared byte for byte (and mode) before and after."""

from __future__ import annotations

import json

from csi_coach.model import MARKER_RE
from csi_coach.scan.state import StateStore
from support.rules import small_rules
from support.sandbox_scan import bot, bot_comments, scan_json, start, tree, write_config


def test_a_first_dry_run_creates_no_file_or_folder_and_writes_no_comment(tmp_path):
    pair = start(30, seed=21)
    try:
        info = pair.info()
        config = write_config(tmp_path, info, dir="reports", path="state/deep/csi.sqlite",
                              rules=str(small_rules(tmp_path)))
        before = tree(tmp_path)
        full = bot(config, info, "scan", "--dry-run")
        assert full.returncode == 0, full.stderr
        assert tree(tmp_path) == before  # no state folder, state file, lock file or report folder
        assert bot_comments(info) == {}
        assert "not written to" in full.stdout and "[report] dir" in full.stdout

        short = bot(config, info, "scan", "--dry-run", "--summary")
        assert short.returncode == 0, short.stderr
        assert tree(tmp_path) == before and bot_comments(info) == {}
    finally:
        pair.stop()
    # Without --summary every comment is printed whole, with its marker; with it, none is.
    would = [line for line in full.stdout.splitlines() if line.startswith("would ")]
    assert len(would) >= 10 and len(MARKER_RE.findall(full.stdout)) >= len(would)
    assert MARKER_RE.search(short.stdout) is None and not any(line.startswith("would ") for line in short.stdout.splitlines())
    assert len(short.stdout.splitlines()) < 40 < len(full.stdout.splitlines())
    # the same scan, told in the same figures
    counts = [line for line in full.stdout.splitlines() if "would write" in line]
    assert counts and counts == [line for line in short.stdout.splitlines() if "would write" in line]


def test_after_real_scans_a_dry_run_leaves_every_byte_and_writes_only_a_report_asked_for(tmp_path):
    pair = start(30, seed=22)
    try:
        info = pair.info()
        config = write_config(tmp_path, info, dir="reports", rules=str(small_rules(tmp_path)))
        code, first, err = scan_json(config, info)
        assert code == 0 and first["written"] > 0, err
        assert (tmp_path / "reports" / "report.json").exists()  # a real scan writes [report] dir
        comments = bot_comments(info)
        before = tree(tmp_path)

        code, dry, err = scan_json(config, info, "--dry-run", "--full")
        assert code == 0 and dry["dry_run"] is True and dry["records"] == first["records"], err
        assert tree(tmp_path) == before and bot_comments(info) == comments
        assert "report" not in dry  # nothing written, so nothing to say about a report

        # Asked for on its command line, the report is the one thing a dry run writes.
        code, dry, err = scan_json(config, info, "--dry-run", "--report", str(tmp_path / "preview"))
        assert code == 0, err
        after = tree(tmp_path)
        added = {path for path in after if path not in before}
        assert added == {"preview", "preview/report.json", "preview/report.html", "preview/report.csv"}
        assert {path: after[path] for path in before} == before
        assert json.loads((tmp_path / "preview" / "report.json").read_text())["dry_run"] is True
        assert "(dry run)" in (tmp_path / "preview" / "report.html").read_text()
        assert bot_comments(info) == comments
    finally:
        pair.stop()


def test_a_dry_run_beside_an_open_state_file_changes_neither_it_nor_its_wal(tmp_path):
    """While another process has the state file open (its -wal beside it), a dry run reads
    it through SQLite's read-only mode: the database and its -wal keep every byte. (The
    -shm, SQLite's shared memory, gets its read marks: the README says so.)"""
    pair = start(30, seed=23)
    try:
        info = pair.info()
        config = write_config(tmp_path, info, rules=str(small_rules(tmp_path)))
        code, first, err = scan_json(config, info)
        assert code == 0, err
        with StateStore(tmp_path / "state.sqlite") as store:
            store.scans()  # a connection of its own: the -wal and -shm stand beside the file
            assert (tmp_path / "state.sqlite-wal").exists()
            before = tree(tmp_path)
            code, dry, err = scan_json(config, info, "--dry-run", "--full")
            assert code == 0 and dry["records"] == first["records"], err
            after = tree(tmp_path)
        assert set(after) == set(before)
        assert {p: v for p, v in after.items() if not p.endswith("-shm")} == {
            p: v for p, v in before.items() if not p.endswith("-shm")}
    finally:
        pair.stop()
