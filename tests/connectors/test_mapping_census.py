"""The field census (connectors/field_census.py) without a server: which mapped fields a page
carries, the config error for a goal field none carries (file, line, key, got, the fields
there are closest first), and the warnings for a missing field or an always-empty goal."""

from __future__ import annotations

from dataclasses import replace

from csi_coach.config import JIRA_FIELDS, SERVICENOW_FIELDS
from csi_coach.connectors.field_census import FieldCensus, absent_goal_error, census_warnings, closest, mapped_fields


def census(rows, names=("benefit", "state")):
    return FieldCensus.of(rows, names, fields_of=lambda r: r if isinstance(r, dict) else None,
                          has_value=lambda v: bool(str(v or "").strip()))


def test_carried_and_filled_are_counted_per_field_and_non_records_are_left_out():
    page = census([{"benefit": "shops sell more", "state": "1"}, {"benefit": "", "state": "2"}, {"state": "3"},
                   "not a record"])
    assert page.records == 3
    assert page.carried == {"benefit": 2, "state": 3} and page.filled == {"benefit": 1, "state": 3}
    assert not page.absent("benefit") and not page.empty("benefit")
    assert page.share_filled("benefit") == "1 of 3 (33%)"


def test_absent_and_empty_are_told_apart_and_an_empty_page_proves_nothing():
    missing = census([{"state": "1"}, {"state": "2"}])
    assert missing.absent("benefit") and not missing.empty("benefit")
    blank = census([{"benefit": "", "state": "1"}, {"benefit": None, "state": "2"}])
    assert blank.empty("benefit") and not blank.absent("benefit")
    nothing = census([])
    assert not nothing.absent("benefit") and not nothing.empty("benefit")


def test_pages_add_up():
    total = census([{"benefit": "", "state": "1"}]) + census([{"benefit": "x", "state": "2"}, {"state": "3"}])
    assert (total.records, total.carried["benefit"], total.filled["benefit"]) == (3, 2, 1)
    assert not total.empty("benefit")


def test_closest_names_come_first():
    site = ["summary", "description", "labels", "customfield_10050 (Value goal)", "customfield_10051 (Owner team)",
            "status", "updated"]
    assert closest("customfield_10500", site)[0] == "customfield_10050 (Value goal)"
    assert closest("benfit", ["active", "benefit", "business_service", "number"])[0] == "benefit"
    assert closest("BENEFIT", ["number", "benefit"])[0] == "benefit"  # case does not matter
    assert len(closest("x", [f"f{i}" for i in range(30)])) == 8


def test_the_goal_error_names_file_line_key_what_was_got_and_the_fields_there(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[sources.jira]\ntype = "jira"\n\n[sources.jira.fields]\ngoal = "customfield_10500"\n')
    page = census([{"summary": "a"}] * 4, names=("customfield_10500",))
    error = absent_goal_error("customfield_10500", page, source="jira", config_file=str(config),
                              available=["summary", "customfield_10050 (Value goal)", "status"], vendor="Jira")
    assert (error.file, error.line, error.key, error.got) == (str(config), 5, "sources.jira.fields.goal",
                                                              "customfield_10500")
    text = str(error)
    assert text.startswith(f"{config}:5 [sources.jira.fields.goal]: the goal field 'customfield_10500' is on none "
                           "of the 4 record(s)")
    assert "every owner be coached" in text
    assert text.endswith("expected a field the source has, closest first: customfield_10050 (Value goal), "
                         "status, summary")


def test_the_goal_error_points_at_the_source_when_the_goal_is_the_default(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('rules = "default"\n\n[sources.snow]\ntype = "servicenow"\n')
    error = absent_goal_error("benefit", census([{"state": "1"}]), source="snow", config_file=str(config),
                              available=[], vendor="ServiceNow table x")
    assert error.line == 3 and "expected a field of the ServiceNow table x records in scope" in str(error)


def test_warnings_for_a_missing_field_and_an_always_empty_goal_but_not_for_a_missing_goal():
    fields = replace(SERVICENOW_FIELDS, labels="u_lables")
    names = [n for _, n in mapped_fields(fields)]
    rows = [{n: ("" if n == "benefit" else "v") for n in names if n != "u_lables"} for _ in range(3)]
    warnings = census_warnings(census(rows, names), fields, source="snow")
    assert warnings == [
        "[sources.snow.fields.goal] 'benefit' is empty on all 3 record(s) read: no record has a goal there, so each "
        "is judged without one; check that it is the field owners write the goal in",
        "[sources.snow.fields.labels] 'u_lables' is on none of the 3 record(s) read (an unknown field is left out of "
        "the answer): every record's labels reads as empty; check the field name",
    ]
    goal_missing = [{n: "v" for n in names if n not in ("benefit", "u_lables")}]
    assert all("benefit" not in w for w in census_warnings(census(goal_missing, names), fields, source="snow"))


def test_jira_key_is_not_a_field():
    roles = mapped_fields(replace(JIRA_FIELDS, goal=("customfield_10050", "customfield_10051")), skip=("key",))
    assert ("number", "key") not in roles
    assert [n for r, n in roles if r == "goal"] == ["customfield_10050", "customfield_10051"]
