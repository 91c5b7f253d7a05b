"""`explain --ticket` tells the history (issue 14, item 5): records coached by a real scan
against both sandboxes, then edited on the sandboxes, then explained. What explain says
the next scan would do is then checked against what the next real scan does, read back
from the tickets."""

from __future__ import annotations

import json
import re

import requests

from csi_coach.model import MARKER_RE
from support.sandbox_scan import bot, bot_comments, scan_json, start, write_config

PROCESS = "Reduce P1 incidents by 20% and raise first-call resolution to 75% by June"
VALUE = "Branch staff open a new account in one visit instead of three by June"


def explain(config, info, ticket: str, *args: str) -> dict:
    proc = bot(config, info, "explain", "--ticket", ticket, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def edit_jira(info, key: str, body: dict) -> None:
    jira = info["jira"]
    resp = requests.put(f"{jira['url']}/rest/api/2/issue/{key}", json=body, auth=(jira["username"], jira["token"]),
                        timeout=30)
    assert resp.status_code == 204, resp.text


def edit_snow(info, sys_id: str, fields: dict) -> None:
    snow = info["servicenow"]
    resp = requests.patch(f"{snow['url']}/api/now/table/sn_cim_register/{sys_id}", json=fields,
                          auth=(snow["username"], snow["password"]), timeout=30)
    assert resp.status_code == 200, resp.text


def markers(bodies: list[str]) -> list[str]:
    return [m.group(0) for body in bodies for m in [MARKER_RE.search(body)] if m]


def test_coached_then_edited_then_explained_and_the_next_scan_does_what_explain_said(tmp_path):
    pair = start(30, seed=11)
    try:
        info = pair.info()
        config = write_config(tmp_path, info, acknowledge_fixed=True)
        code, first, err = scan_json(config, info)
        assert code == 0 and first["written"] > 0, err
        coached = bot_comments(info)
        jira = sorted(k for s, k in coached if s == "jira")
        snow = sorted(k for s, k in coached if s == "servicenow")
        j_edit, j_fix, j_opt = jira[:3]
        s_edit, s_close = snow[:2]

        # Before any edit: coached once, the same finding, nothing to write.
        quiet = explain(config, info, f"jira:{j_edit}")
        (past,) = quiet["history"]["comments"]
        assert past["kind"] == "post" and past["marker"] == markers(coached[("jira", j_edit)])[0]
        assert past["where"] == "in the state file and on the ticket" and past["same_finding_as_now"] is True
        assert past["comment_id"] and past["at"] and past["finding"]
        assert quiet["next_scan"] == {"action": "none", "does": "write nothing",
                                      "reason": "already coached on this finding", "edits": None}
        assert quiet["comment"] is None and quiet["history"]["last_judged"]["category"] == quiet["category"]

        edit_jira(info, j_edit, {"fields": {"customfield_10050": PROCESS}})
        edit_jira(info, j_fix, {"fields": {"customfield_10050": VALUE}})
        edit_jira(info, j_opt, {"update": {"labels": [{"add": "csi-coach-skip"}]}})
        edit_snow(info, s_edit, {"benefit": PROCESS})
        edit_snow(info, s_close, {"state": "8"})  # Closed

        changed = explain(config, info, f"jira:{j_edit}")
        assert changed["history"]["comments"][0]["same_finding_as_now"] is False
        assert changed["next_scan"]["action"] == "update" and changed["next_scan"]["edits"] == past["comment_id"]
        assert changed["reason"] == "finding changed; editing the earlier comment in place"
        assert changed["marker"] in changed["comment"] and changed["marker"] != past["marker"]

        fixed = explain(config, info, f"jira:{j_fix}")
        assert fixed["category"] in ("value", "linked") and fixed["next_scan"]["action"] == "acknowledge"
        assert fixed["marker"].endswith("-ack") and fixed["marker"] in fixed["comment"]

        opted = explain(config, info, f"jira:{j_opt}")
        # The shipped rules exempt that label too: both rules that apply are named.
        assert opted["next_scan"]["action"] == "skip"
        assert "opted out: the label 'csi-coach-skip' is in [comments] opt_out_labels" in opted["applies"]
        assert "exempt: the label 'csi-coach-skip' is in the rule set's [exempt] labels" in opted["applies"]
        shown = bot(config, info, "explain", "--ticket", f"jira:{j_opt}").stdout
        assert "Exempt      yes: the label 'csi-coach-skip' is in the rule set's [exempt] labels" in shown
        assert "Next scan   skip the record: " in shown

        cooled = explain(config, info, f"servicenow:{s_edit}")
        assert cooled["next_scan"]["action"] == "none" and "(cooldown)" in cooled["reason"]
        assert cooled["history"]["comments"][0]["same_finding_as_now"] is False

        closed = explain(config, info, f"servicenow:{s_close}")
        assert closed["next_scan"]["action"] == "skip" and closed["record"]["state"] == "Closed"
        assert "skipped: the state 'Closed' matches 'closed' in [comments] skip_states" in closed["applies"]

        text = bot(config, info, "explain", "--ticket", f"jira:{j_edit}")
        assert text.returncode == 0, text.stderr
        assert re.search(r"(?m)^History     state file .*state\.sqlite$", text.stdout)
        assert re.search(rf"(?m)^  \d{{4}}-\d\d-\d\d \d\d:\d\d UTC  coached with {past['marker']}, comment "
                         rf"{past['comment_id']}$", text.stdout)
        assert "a finding other than now's" in text.stdout
        assert ("Next scan   edit its earlier comment in place: finding changed; editing the earlier comment in place"
                in text.stdout)
        assert f"Comment the next scan would write (jira, replacing comment {past['comment_id']}):" in text.stdout

        # The next real scan does what explain said: one edit, one thank-you, nothing else.
        code, second, err = scan_json(config, info)
        assert code == 0, err
        assert second["written"] == 2 and second["sources"]["jira"]["updated"] == 1
        assert second["sources"]["jira"]["acknowledged"] == 1
        after = bot_comments(info)
        assert markers(after[("jira", j_edit)]) == [changed["marker"]]  # edited in place
        assert markers(after[("jira", j_fix)]) == markers(coached[("jira", j_fix)]) + [fixed["marker"]]
        for key in (("jira", j_opt), ("servicenow", s_edit), ("servicenow", s_close)):
            assert after[key] == coached[key]

        # After that scan: the post and its edit, one comment on the ticket.
        later = explain(config, info, f"jira:{j_edit}")
        kinds = [(c["kind"], c["marker"]) for c in later["history"]["comments"]]
        assert kinds == [("post", past["marker"]), ("update", changed["marker"])]
        assert later["history"]["comments"][0]["where"].startswith("in the state file; the comment on the ticket was edited")
        assert later["history"]["comments"][1]["where"] == "in the state file and on the ticket"
        assert later["next_scan"]["action"] == "none"

        # The state file lost: the ticket still tells the history, and the next scan writes nothing.
        for path in tmp_path.glob("state.sqlite*"):
            path.unlink()
        lost = explain(config, info, f"jira:{j_fix}")
        assert lost["history"]["state_file_exists"] is False
        assert [c["marker"] for c in lost["history"]["comments"]] == markers(after[("jira", j_fix)])
        assert all(c["where"].startswith("on the ticket only") for c in lost["history"]["comments"])
        assert lost["next_scan"]["action"] == "none"
    finally:
        pair.stop()


def test_an_unsure_record_says_what_the_rules_could_not_place_and_a_never_coached_one_says_so(tmp_path):
    pair = start(30, seed=11)
    try:
        info = pair.info()
        config = write_config(tmp_path, info)
        code, summary, err = scan_json(config, info, "--dry-run")  # the dry run lists them; nothing is written
        assert code == 0, err
        unsure = summary["sources"]["jira"]["unsure_records"]
        assert unsure, "the seeded data should hold a record the rules are unsure of"
        data = explain(config, info, f"jira:{unsure[0]['key']}")
        assert data["category"] == "unsure" and data["value_goal"] is None
        assert data["unsure_reason"].startswith("the rules cannot place '")
        assert any(a.startswith("not coached: the rules cannot place") for a in data["applies"])
        assert data["history"]["comments"] == [] and data["history"]["state_file_exists"] is False
        in_skip_state = any(a.startswith("skipped: the state") for a in data["applies"])
        assert data["next_scan"]["action"] == ("skip" if in_skip_state else "none")
        text = bot(config, info, "explain", "--ticket", f"jira:{unsure[0]['key']}")
        assert "Unsure      the rules cannot place '" in text.stdout
        assert "never coached: the state file knows no bot comment on it, nor the ticket" in text.stdout
        assert not (tmp_path / "state.sqlite").exists()  # explain writes nothing either
    finally:
        pair.stop()
