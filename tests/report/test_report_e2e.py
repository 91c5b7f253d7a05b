"""End to end: real scans (`csi-coach scan` as a subprocess) on the sandboxes, owners naming value
goals between them (a PATCH of the ServiceNow record, as a person's edit), then the report shows
the coaching effect, from history rows written only when something changed."""

from __future__ import annotations

import csv
import json
import sqlite3
import time

import requests

from support.sandbox_scan import scan_json, start, write_config

VALUE_GOAL = "Raise customer satisfaction with payroll from 3.2 to 4.0 by June, and cut the cost of payroll errors by 50,000 USD a year."


def _history(state) -> list[tuple]:
    db = sqlite3.connect(state)
    try:
        return db.execute("SELECT source, record_key, event, category FROM history ORDER BY id").fetchall()
    finally:
        db.close()


def test_owners_fixing_coached_goals_show_as_coaching_effect(tmp_path):
    pair = start(30, 5)
    try:
        info = pair.info()
        config = write_config(tmp_path, info)
        state = tmp_path / "state.sqlite"
        code, first, err = scan_json(config, info, "--report", str(tmp_path / "r1"))
        assert code == 0, err
        history = _history(state)
        coached = sorted({k for s, k, ev, _ in history if s == "servicenow" and ev == "coached"})
        assert first["written"] > 0 and len(coached) >= 2, history
        judged = {(s, k) for s, k, ev, _ in history if ev == "verdict"}
        assert len(judged) == first["records"]  # one verdict row per record judged

        # nothing changed: a second scan adds no history row
        code, second, err = scan_json(config, info)
        assert code == 0, err
        assert _history(state) == history

        # two owners name a value goal; the sandbox stamps the edit with its clock
        snow = info["servicenow"]
        fixed = coached[:2]
        time.sleep(1.1)
        for key in fixed:
            resp = requests.patch(f"{snow['url']}/api/now/table/sn_cim_register/{key}", json={"benefit": VALUE_GOAL},
                                  auth=(snow["username"], snow["password"]), timeout=30)
            assert resp.status_code == 200, resp.text
        code, third, err = scan_json(config, info, "--report", str(tmp_path / "r3"))
        assert code == 0, err
        added = _history(state)[len(history):]
        assert {(k, ev, c) for _, k, ev, c in added if ev == "verdict"} == {(k, "verdict", "value") for k in fixed}
        assert all(k in fixed for _, k, _, _ in added)  # only the edited records gained rows
    finally:
        pair.stop()

    data = json.loads((tmp_path / "r3" / "report.json").read_text())["coaching"]
    coached_cohort = data["overall"]["coached"]
    assert coached_cohort["records"] == len({k for _, k, ev, _ in history if ev == "coached"})
    assert coached_cohort["fixed"] == 2 and coached_cohort["median_days_to_fix"] is not None  # seconds apart here: rounds to 0.0 days
    week = coached_cohort["windows"][0]
    assert week["days"] == 7 and week["fixed"] == 2 and week["share"] > 0
    snow_slice = next(s for s in data["by_source"] if s["name"] == "servicenow")
    assert snow_slice["effect"]["coached"]["fixed"] == 2
    assert any(s["effect"]["coached"]["fixed"] for s in data["by_rule"])
    assert len(data["trend"]) == 3 * 2  # a point per scan per source
    last_snow = [p for p in data["trend"] if p["source"] == "servicenow"]
    assert last_snow[-1]["value_goal"] == last_snow[0]["value_goal"] + 2
    before = json.loads((tmp_path / "r1" / "report.json").read_text())["coaching"]
    assert before["overall"]["coached"]["fixed"] == 0

    with open(tmp_path / "r3" / "report.csv", newline="", encoding="utf-8") as fh:
        rows = {(r["source"], r["key"]): r for r in csv.DictReader(fh)}
    assert len(rows) == third["sources"]["servicenow"]["estate"]["records"] + third["sources"]["jira"]["estate"]["records"]
    for key in fixed:
        row = rows[("servicenow", key)]
        assert row["coached"] == "yes" and row["value_goal"] == "yes" and row["fixed_at"] > row["first_coached"]
    html = (tmp_path / "r3" / "report.html").read_text()
    assert "Does coaching work?" in html and "By rule" in html and "Over time" in html
