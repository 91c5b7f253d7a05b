"""Shipped templates say what a coaching comment must say; admin templates are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from csi_coach import render
from csi_coach.errors import ConfigError
from csi_coach.model import MARKER_RE, Category, Evidence, Finding, Record, Severity, Verdict, marker_for

GOAL = "Reduce P1 incidents by 20% and raise FCR to 75% by June."


def sample(category: Category = Category.PROCESS_ONLY, *, measurable: bool = True, service: str = "Payroll Portal"):
    record = Record(source="snow", key="abc", number="CIM0010023", url="", title="Incident reduction",
                    goal=GOAL, service=service, owner="Ada Owner")
    i = GOAL.index("P1 incidents")
    findings = (Finding("process-without-value", Severity.ERROR, "names process measures but no consumer effect",
                        (Evidence("goal", "P1 incidents", i, i + 12),)),)
    verdict = Verdict(category, measurable, findings if category != Category.NO_GOAL else ())
    return record, verdict, marker_for(verdict.digest())


@pytest.mark.parametrize("target", ["servicenow", "jira"])
def test_process_only_comment_quotes_the_sentence_names_the_kind_and_offers_opt_out(target):
    record, verdict, marker = sample()
    body = render.Renderer(opt_out_label="no-coaching").comment(target, record, verdict, marker)
    shown = body.replace("\\", "")
    assert shown.startswith("Hi Ada, a note on the goal for Payroll Portal:")
    assert "measures the process (incident and failure counts)" in shown
    assert f'"{GOAL}"' in shown  # the whole sentence, once
    assert shown.count("P1 incidents") == 1
    assert "Counting incidents or failures says how often things break" in shown  # the kind's line from coaching.toml
    assert "<" not in shown and "this service" not in shown  # no generic placeholders
    assert 'label "no-coaching"' in shown
    # the owner may push back: the shipped keywords, as typed (invisible breaks aside)
    assert 'Reply "csi-coach: wrong" or "csi-coach: not applicable"' in shown.replace(render.ZWSP, "")
    last = body.splitlines()[-1]
    assert last.endswith(marker + ("{color}" if target == "jira" else ")"))
    assert MARKER_RE.search(last)
    assert len(render_words(shown)) <= 90


def render_words(text: str) -> list[str]:
    import re

    return re.findall(r"[A-Za-z0-9][\w'.%-]*", MARKER_RE.sub("", text))


@pytest.mark.parametrize("target", ["servicenow", "jira"])
def test_no_goal_comment_says_what_is_missing_without_placeholders(target):
    record = Record(source="snow", key="abc", number="CIM0010024", url="", title="Yard Wi-Fi",
                    description="Straddle carrier drivers keep reporting Wi-Fi dropouts in the back rows. Need to look into it.")
    finding = Finding("no-goal", Severity.WARNING, "an activity", (Evidence("description", record.description, 0,
                                                                             len(record.description)),))
    verdict = Verdict(Category.NO_GOAL, False, (finding,))
    body = render.Renderer().comment(target, record, verdict, marker_for(verdict.digest()))
    shown = body.replace("\\", "")
    assert "not what should change, or for whom" in shown
    assert "no goal" not in shown.lower()
    assert "Straddle carrier drivers keep reporting Wi-Fi dropouts in the back rows." in shown
    assert 'A goal could read: ' in shown and "Straddle carrier drivers no longer report Wi-Fi dropouts in the back rows." in shown
    assert not shown.startswith(("Hi", "Hello"))  # no owner: no greeting
    assert "<" not in shown and "this service" not in shown


@pytest.mark.parametrize("target", ["servicenow", "jira"])
def test_acknowledgement_thanks_and_carries_marker(target):
    record, verdict, marker = sample(Category.VALUE)
    body = render.Renderer().acknowledgement(target, record, verdict, marker)
    assert body.startswith("Thank you") and marker in body


def test_opt_out_without_label_points_to_admin():
    record, verdict, marker = sample()
    body = render.Renderer(opt_out_label="").comment("servicenow", record, verdict, marker)
    assert "admin" in body and 'label ""' not in body


def test_bad_marker_or_target_is_a_programming_error():
    record, verdict, marker = sample()
    with pytest.raises(ValueError):
        render.Renderer().comment("servicenow", record, verdict, "not-a-marker")
    with pytest.raises(ValueError):
        render.Renderer().comment("confluence", record, verdict, marker)


def test_shipped_templates_pass_check():
    assert render.Renderer().check() == []


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_admin_template_overrides_shipped_one_and_is_still_escaped(tmp_path):
    write(tmp_path, "jira/comment.j2", "Custom note on {{ record.number }}: {{ record.goal }}\n{{ marker }}\n")
    record, verdict, marker = sample()
    record = Record(**{**record.__dict__, "goal": "[~admin] {{ 7*7 }}"})
    body = render.Renderer(tmp_path).comment("jira", record, verdict, marker)
    assert body.startswith("Custom note on CIM0010023")
    assert "[~admin]" not in body and "49" not in body.replace(marker, "")
    # Other targets and kinds still come from the shipped folder.
    assert "measures the process" in render.Renderer(tmp_path).comment("servicenow", record, verdict, marker)


def test_syntax_error_in_admin_template_is_reported_with_file_and_line(tmp_path):
    path = write(tmp_path, "servicenow/comment.j2", "line one\nline two\n{% if record.number %}\nno endif\n{{ marker }}\n")
    errors = render.Renderer(tmp_path).check()
    assert len(errors) == 1
    err = errors[0]
    assert err.file == str(path) and err.line is not None and err.line >= 3
    assert "syntax" in str(err)


def test_undefined_variable_in_admin_template_is_reported_with_line(tmp_path):
    path = write(tmp_path, "jira/acknowledgement.j2", "Thanks\n\n{{ record.nmuber }}\n{{ marker }}\n")
    errors = render.Renderer(tmp_path).check()
    assert [e.file for e in errors] == [str(path)]
    assert errors[0].line == 3 and "nmuber" in str(errors[0])


def test_sandbox_blocks_internals_in_admin_template(tmp_path):
    write(tmp_path, "servicenow/comment.j2", "{{ record.__class__.__mro__[1].__subclasses__() }}\n{{ marker }}\n")
    errors = render.Renderer(tmp_path).check()
    assert len(errors) == 1 and "servicenow/comment.j2" in errors[0].file


def test_admin_template_without_marker_is_reported_but_marker_still_written(tmp_path):
    write(tmp_path, "servicenow/comment.j2", "Please add a value goal.\n")
    renderer = render.Renderer(tmp_path)
    errors = renderer.check()
    assert len(errors) == 1 and "marker" in str(errors[0])
    record, verdict, marker = sample()
    assert renderer.comment("servicenow", record, verdict, marker).endswith(marker)


def test_broken_template_at_render_time_raises_config_error(tmp_path):
    write(tmp_path, "servicenow/comment.j2", "{{ verdict.nope }}{{ marker }}")
    record, verdict, marker = sample()
    with pytest.raises(ConfigError) as info:
        render.Renderer(tmp_path).comment("servicenow", record, verdict, marker)
    assert "comment.j2" in str(info.value)


def test_misnamed_admin_template_is_reported(tmp_path):
    write(tmp_path, "jira/coment.j2", "{{ marker }}")
    write(tmp_path, "jira/_footer.j2", "partial, fine")
    errors = render.Renderer(tmp_path).check()
    assert len(errors) == 1 and "coment.j2" in str(errors[0]) and "comment.j2" in str(errors[0])


def test_missing_templates_dir_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        render.Renderer(tmp_path / "nope")


def test_report_is_autoescaped_html(tmp_path):
    write(tmp_path, "report/t.html", "<p>{{ title }}</p><p>{{ n }}</p>")
    html = render.Renderer(tmp_path).report("t.html", {"title": "<script>x</script>\ud800", "n": 3})
    assert "<script>" not in html and "&lt;script&gt;" in html and "<p>3</p>" in html
    html.encode("utf-8")


def test_report_template_syntax_error_is_reported(tmp_path):
    path = write(tmp_path, "report/bad.html", "<p>{% for x in y %}</p>")
    errors = render.Renderer(tmp_path).check()
    assert [e.file for e in errors] == [str(path)]
