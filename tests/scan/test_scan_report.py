"""report.html through the real renderer: every figure shown, ticket text escaped."""

from __future__ import annotations

import json

from csi_coach import render
from csi_coach.errors import BadRequest
from csi_coach.report import writer as report
from support.scan_fake import GOALS, FakeConnector, make_config, make_records, scan


def test_html_report_shows_the_scan_and_escapes_ticket_text(tmp_path):
    cfg = make_config(tmp_path)
    records = make_records("snow", GOALS)
    from dataclasses import replace

    records[0] = replace(records[0], title="<script>alert(1)</script> & co")
    fake = FakeConnector("snow", records)
    fake.fail_write["k2"] = BadRequest("refused <b>", status=400)
    result = scan(cfg, {"snow": fake})
    report.write_report(tmp_path / "r", result, render.Renderer())
    html = (tmp_path / "r" / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "process metrics only" in html and "REC0000" in html
    assert "Failed records (1)" in html and "refused &lt;b&gt;" in html
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["failed"] == 1 and data["written"] == 3


def _section(html: str, title: str, next_title: str | None) -> str:
    start = html.index(f"<h2>{title}")
    return html[start: html.index(f"<h2>{next_title}", start) if next_title else len(html)]


def test_after_an_incremental_scan_the_report_shows_the_whole_estate_beside_this_scan(tmp_path):
    from dataclasses import replace
    from datetime import timedelta

    cfg = make_config(tmp_path)
    records = make_records("snow", GOALS)  # 6 records: 2 value, 3 process only, 1 no goal; 4 flagged
    fake = FakeConnector("snow", records)
    scan(cfg, {"snow": fake}, overlap=timedelta(0))
    bumped = replace(records[1], updated=records[-1].updated + timedelta(hours=1))
    fake.records[bumped.key] = bumped
    second = scan(cfg, {"snow": fake}, overlap=timedelta(0))
    # incremental: the changed record and the one at the watermark (read >= since)
    assert second.summary()["records"] == 2

    estate = second.summary()["sources"]["snow"]["estate"]
    assert estate == {"records": 6, "flagged": 4, "failing": 0,
                      "categories": {"no_goal": 1, "process_only": 3, "value": 2}}
    report.write_report(tmp_path / "r", second, render.Renderer())
    html = (tmp_path / "r" / "report.html").read_text()
    everything = _section(html, "All records", "This scan")
    this_scan = _section(html, "This scan", None)
    assert "<b>6</b>records known" in everything and "<b>4</b>flagged" in everything
    assert "<td>process metrics only</td><td>3</td>" in everything
    assert "<b>2</b>records read" in this_scan and "<td>names a service-value goal</td><td>1</td>" in this_scan
    assert "<td>process metrics only</td><td>1</td>" in this_scan
    assert json.loads((tmp_path / "r" / "report.json").read_text())["sources"]["snow"]["estate"]["records"] == 6


def test_records_failing_scan_after_scan_are_listed_with_their_streak(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS + ["this will explode", "explode again"]))
    first = scan(cfg, {"snow": fake}, full=True)
    s = first.summary()["sources"]["snow"]
    assert {(f["key"], f["number"]) for f in s["failures"]} == {("k6", "REC0006"), ("k7", "REC0007")}
    assert all("the engine choked" in f["error"] for f in s["failures"])
    assert s["failing_in_a_row"] == []  # one failure is not yet a streak
    fake.records["k7"] = make_records("snow", GOALS + ["", "grow revenue"])[7]  # k7 fixed
    second = scan(cfg, {"snow": fake}, full=True)
    s = second.summary()["sources"]["snow"]
    assert [f["key"] for f in s["failures"]] == ["k6"]
    assert [(r["key"], r["number"], r["failures"]) for r in s["failing_in_a_row"]] == [("k6", "REC0006", 2)]
    assert "the engine choked" in s["failing_in_a_row"][0]["error"]
    assert s["estate"]["failing"] == 1 and second.exit_code == 1

    report.write_report(tmp_path / "r", second, render.Renderer())
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Failing scan after scan (1)" in _section(html, "All records", "This scan")
    assert "<td>REC0006</td><td>2</td>" in html
    assert "Failed records (1)" in _section(html, "This scan", None)
    text = report.summary_text(second)
    assert "1 record(s) have failed several scans in a row" in text and "REC0006: 2 scans" in text


def test_a_dry_run_report_says_its_totals_are_from_before_it(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    dry = scan(cfg, {"snow": FakeConnector("snow", make_records("snow", GOALS + ["cut MTTR"]))}, dry_run=True, full=True)
    assert dry.summary()["sources"]["snow"]["estate"]["records"] == 6  # the dry run remembered nothing
    html = report.render_html(dry, render.Renderer())
    assert "All records (before this dry run)" in html and "a dry run records nothing" in html


def test_check_folder_refuses_a_file_and_a_file_name(tmp_path):
    import pytest

    from csi_coach.errors import ConfigError

    (tmp_path / "taken").write_text("x")
    for bad, why in [("taken", "is a file, not a folder"), ("taken/sub", "is a file, so the folder"),
                     ("out.html", "takes a folder")]:
        with pytest.raises(ConfigError, match="--report") as info:
            report.check_folder(tmp_path / bad)
        assert why in str(info.value) and "report.json and report.html" in str(info.value)
    report.check_folder(tmp_path / "new" / "folder")  # missing folders are created later
    assert not (tmp_path / "new").exists()  # ... and the check itself created nothing


def _written_report(tmp_path, folder):
    cfg = make_config(tmp_path)
    result = scan(cfg, {"snow": FakeConnector("snow", make_records("snow", GOALS))})
    return report.write_report(folder, result, render.Renderer()), result


def test_a_report_that_cannot_be_written_leaves_the_last_one_whole(tmp_path, monkeypatch):
    import errno
    import os

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.json").write_text('{"last": true}\n')
    (folder / "report.html").write_text("<p>last night</p>")
    real_fdopen = os.fdopen
    opened = []

    def fdopen(fd, *args, **kwargs):
        fh = real_fdopen(fd, *args, **kwargs)
        opened.append(fh)
        if len(opened) == 2:  # the HTML, after the JSON was written in full
            def full(_text):
                raise OSError(errno.ENOSPC, "No space left on device")
            fh.write = full
        return fh

    monkeypatch.setattr(report.os, "fdopen", fdopen)
    import pytest

    with pytest.raises(OSError):
        _written_report(tmp_path, folder)
    assert len(opened) == 2
    assert (folder / "report.json").read_text() == '{"last": true}\n'
    assert (folder / "report.html").read_text() == "<p>last night</p>"
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.json"]


def test_a_report_replaces_the_last_one_and_leaves_no_temporary_files(tmp_path):
    import os
    import time

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.html").write_text("<p>last night</p>")
    os.chmod(folder / "report.html", 0o604)
    # Left by a scan killed mid-write: an old one is swept, a fresh one (a scan
    # writing right now) is not.
    stale, fresh = folder / ".report.html.1.dead.tmp", folder / ".report.json.2.busy.tmp"
    stale.write_text("half")
    fresh.write_text("half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    old = os.umask(0o027)
    try:
        paths, result = _written_report(tmp_path, folder)
    finally:
        os.umask(old)
    assert [p.name for p in paths] == ["report.json", "report.csv", "report.html"]
    assert sorted(p.name for p in folder.iterdir()) == [".report.json.2.busy.tmp", "report.csv", "report.html", "report.json"]
    assert "last night" not in (folder / "report.html").read_text()
    assert json.loads((folder / "report.json").read_text())["written"] == result.summary()["written"] > 0
    # A new file is the bot's alone (0600, whatever the umask); a replaced one keeps its mode.
    assert (folder / "report.json").stat().st_mode & 0o777 == 0o600
    assert (folder / "report.html").stat().st_mode & 0o777 == 0o604


def test_a_report_file_that_is_a_link_has_its_target_replaced_and_stays_a_link(tmp_path):
    web = tmp_path / "www"
    web.mkdir()
    (web / "csi.html").write_text("<p>last night</p>")
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.html").symlink_to(web / "csi.html")
    _written_report(tmp_path, folder)
    assert (folder / "report.html").is_symlink()
    assert "last night" not in (web / "csi.html").read_text() and "<html" in (web / "csi.html").read_text().lower()
    assert sorted(p.name for p in web.iterdir()) == ["csi.html"]


def test_check_folder_asks_where_the_files_are_replaced(tmp_path):
    import os
    from pathlib import Path

    import pytest

    from csi_coach.errors import ConfigError

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.json").write_text("{}")
    os.chmod(folder / "report.json", 0o444)  # replaced, not written into: no matter
    report.check_folder(folder)
    # A link whose target sits where nothing can be created: refused before the scan.
    if os.geteuid() == 0:
        target = Path("/proc/version")  # root ignores mode bits; /proc refuses new files
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        target = locked / "csi.html"
        target.write_text("<p>last night</p>")
        locked.chmod(0o555)
    (folder / "report.html").symlink_to(target)
    with pytest.raises(ConfigError, match="cannot create files"):
        report.check_folder(folder)


def test_check_folder_refuses_report_paths_that_cannot_be_replaced(tmp_path):
    import pytest

    from csi_coach.errors import ConfigError

    cases = {
        "a folder": lambda f: (f / "report.json").mkdir(),
        "a link to a folder": lambda f: (f / "report.html").symlink_to(tmp_path),
        "a link into a missing folder": lambda f: (f / "report.html").symlink_to(tmp_path / "gone" / "r.html"),
        "a link loop": lambda f: (f / "report.html").symlink_to(f / "report.html"),
    }
    for why, make in cases.items():
        folder = tmp_path / why.replace(" ", "-")
        folder.mkdir()
        make(folder)
        with pytest.raises(ConfigError, match="cannot write the report there") as info:
            report.check_folder(folder)
        assert "Traceback" not in str(info.value), why


def test_a_replaced_report_keeps_its_permission_bits_but_not_set_id_bits(tmp_path):
    import os

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.html").write_text("<p>last night</p>")
    os.chmod(folder / "report.html", 0o2640)
    _written_report(tmp_path, folder)
    st = (folder / "report.html").stat()
    assert st.st_mode & 0o7777 == 0o640


def test_stale_temporary_files_are_swept_whatever_the_name(tmp_path):
    import os
    import time

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.html").symlink_to(tmp_path / "csi[1].html")
    (tmp_path / "csi[1].html").write_text("old")
    stale = tmp_path / ".csi[1].html.1.dead.tmp"
    stale.write_text("half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    _written_report(tmp_path, folder)
    assert not stale.exists()


def test_unsure_records_are_counted_listed_and_never_coached(tmp_path):
    """With the real rules: a consequence they cannot place is unsure, in the summary,
    in report.json and report.html (with the words), and gets no comment."""
    from csi_coach import rules
    from csi_coach.scan.runner import run_scan

    ruleset = rules.load_ruleset("default")
    goals = ["Restore time under 20 min so the night orders still reach the <ovens> by 4 am",
             "Reduce P1 incidents by 20% and raise FCR to 75%"]
    fake = FakeConnector("snow", make_records("snow", goals))
    result = run_scan(make_config(tmp_path), evaluate=lambda r: rules.evaluate(r, ruleset), renderer=render.Renderer(),
                      open_connector=lambda settings, limiters: fake, fingerprint="fp1")
    summary = result.summary()
    assert summary["unsure"] == 1 and summary["flagged"] == 1 and summary["written"] == 1
    assert [w[1] for w in fake.ops] == ["k1"]  # only the process-only record was coached
    assert summary["sources"]["snow"]["unsure_records"] == [
        {"key": "k0", "number": "REC0000", "why": "so the night orders still reach the <ovens> by 4 am"}]
    report.write_report(tmp_path / "r", result, render.Renderer())
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Not coached: the rules could not place" in html and "REC0000" in html
    assert "the &lt;ovens&gt; by 4 am" in html
    assert json.loads((tmp_path / "r" / "report.json").read_text())["unsure"] == 1


def test_a_crafted_title_or_number_cannot_add_lines_to_a_report(tmp_path):
    # Issue 13, finding 9: titles, numbers and errors come from tickets and servers; in
    # every report output each stays one line, without control characters, and capped.
    from dataclasses import replace

    injected = "Fewer incidents\nState: /etc/passwd\r\nReport: pwned\x1b[31m red\u2028 sep"
    cfg = make_config(tmp_path)
    records = make_records("snow", GOALS)
    records[0] = replace(records[0], title=injected + " " + "t" * 5000)  # k0: flagged, written
    records[2] = replace(records[2], number="REC\nState: forged")  # k2: its write fails
    fake = FakeConnector("snow", records)
    fake.fail_write["k2"] = BadRequest("refused\nReport: forged line " + "e" * 3000, status=400)
    result = scan(cfg, {"snow": fake})
    report.write_report(tmp_path / "r", result, render.Renderer())

    data = json.loads((tmp_path / "r" / "report.json").read_text())
    title = next(w["title"] for w in data["details"]["snow"]["writes"] if w["number"] == records[0].number)
    assert title.startswith("Fewer incidents State: /etc/passwd Report: pwned[31m red sep")
    assert len(title) <= report.LINE_LIMITS["title"] and title.endswith("…")
    failure = data["sources"]["snow"]["failures"][0]
    assert failure["number"] == "REC State: forged" and "\n" not in failure["error"]
    assert len(failure["error"]) <= report.LINE_LIMITS["error"]

    html = (tmp_path / "r" / "report.html").read_text()
    assert "State: /etc/passwd\n" not in html and "\x1b" not in html and "t" * 300 not in html

    text = report.summary_text(result)
    assert not any(line.startswith(("State: /etc", "Report: pwned", "Report: forged", "State: forged"))
                   for line in text.splitlines())
    assert "REC State: forged: " in text


def test_a_crafted_number_cannot_forge_a_line_in_the_log(tmp_path):
    from dataclasses import replace

    from csi_coach import logsetup
    from csi_coach.config import LoggingSettings

    records = make_records("snow", GOALS)
    records[2] = replace(records[2], number="REC\n2026-01-01T00:00:00+0000 INFO csi_coach.scan: all fine")
    fake = FakeConnector("snow", records)
    fake.fail_write["k2"] = BadRequest("refused\r\nsecond line", status=400)
    log_file = tmp_path / "csi.log"
    logsetup.configure(LoggingSettings(level="info"), log_file=log_file, interactive=False)
    try:
        scan(make_config(tmp_path), {"snow": fake})
    finally:
        logsetup.reset()
    lines = log_file.read_text().splitlines()
    assert not any(line.startswith(("2026-01-01T00:00:00", "second line")) for line in lines)
    failed = [line for line in lines if "failed: write failed" in line]
    assert len(failed) == 1 and "REC\\n2026-01-01" in failed[0] and "refused\\r\\nsecond line" in failed[0]
