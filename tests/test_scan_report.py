"""report.html through the real renderer: every figure shown, ticket text escaped."""

from __future__ import annotations

import json

import render
import report
from scan_fake import FakeConnector, FakeRenderer, fake_evaluate, make_records
from test_scan_pipeline import GOALS, make_config, scan


def test_html_report_shows_the_scan_and_escapes_ticket_text(tmp_path):
    cfg = make_config(tmp_path)
    records = make_records("snow", GOALS)
    from dataclasses import replace

    records[0] = replace(records[0], title="<script>alert(1)</script> & co")
    fake = FakeConnector("snow", records)
    fake.fail_write["k2"] = __import__("errors").BadRequest("refused <b>", status=400)
    result = scan(cfg, {"snow": fake})
    report.write_report(tmp_path / "r", result, render.Renderer())
    html = (tmp_path / "r" / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "process metrics only" in html and "REC0000" in html
    assert "Failed records (1)" in html and "refused &lt;b&gt;" in html
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["failed"] == 1 and data["written"] == 3
