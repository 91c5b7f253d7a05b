"""bench/judgment.py: the scoring functions on hand-made sets, and the labelled records it reads."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import pytest

from support.paths import ROOT

RECORDS = sorted((ROOT / "bench" / "records").glob("*.jsonl"))


def _load_judgment():
    spec = importlib.util.spec_from_file_location("bench_judgment", ROOT / "bench" / "judgment.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_judgment"] = module
    spec.loader.exec_module(module)
    return module


J = _load_judgment()


# ---------------------------------------------------------------- flag scores


def test_flag_scores_counts_and_rates():
    # (label_flagged, predicted_flagged): 3 tp, 1 fp, 2 fn, 4 tn
    pairs = [(True, True)] * 3 + [(False, True)] + [(True, False)] * 2 + [(False, False)] * 4
    s = J.flag_scores(pairs)
    assert (s.tp, s.fp, s.fn, s.tn) == (3, 1, 2, 4)
    assert s.precision == pytest.approx(3 / 4)
    assert s.recall == pytest.approx(3 / 5)
    assert s.f1 == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))


def test_flag_scores_perfect():
    s = J.flag_scores([(True, True), (False, False)])
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)


def test_flag_scores_nothing_predicted_flagged_leaves_precision_undefined():
    s = J.flag_scores([(True, False), (False, False)])
    assert s.precision is None
    assert s.recall == 0.0
    assert s.f1 is None


def test_flag_scores_nothing_labelled_flagged_leaves_recall_undefined():
    s = J.flag_scores([(False, True), (False, False)])
    assert s.precision == 0.0
    assert s.recall is None
    assert s.f1 is None


def test_flag_scores_all_wrong_gives_zero_f1_not_a_division_error():
    s = J.flag_scores([(True, False), (False, True)])
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)


def test_flag_scores_empty():
    s = J.flag_scores([])
    assert (s.tp, s.fp, s.fn, s.tn) == (0, 0, 0, 0)
    assert (s.precision, s.recall, s.f1) == (None, None, None)


def test_is_flag_follows_value_goal():
    assert [J.is_flag(c) for c in J.CATEGORIES] == [False, False, True, True]


# ---------------------------------------------------------------- accuracy and confusion


def test_accuracy():
    assert J.accuracy([("a", "a"), ("a", "b"), (True, True), (False, True)]) == pytest.approx(0.5)
    assert J.accuracy([]) is None


def test_confusion_rows_are_labels_columns_predictions():
    pairs = [("value", "linked"), ("value", "value"), ("no_goal", "process_only"), ("value", "linked")]
    m = J.confusion(pairs)
    assert list(m) == list(J.CATEGORIES)
    assert all(list(row) == list(J.CATEGORIES) for row in m.values())
    assert m["value"]["linked"] == 2
    assert m["value"]["value"] == 1
    assert m["no_goal"]["process_only"] == 1
    assert m["process_only"]["no_goal"] == 0  # not transposed
    assert sum(sum(row.values()) for row in m.values()) == len(pairs)


def test_confusion_keeps_unknown_categories():
    m = J.confusion([("value", "mystery")])
    assert m["value"]["mystery"] == 1
    assert "mystery" in m and sum(m["mystery"].values()) == 0


def _outcome(id, label, predicted, lm=True, pm=True):
    return J.Outcome(id=id, label=label, predicted=predicted, label_measurable=lm, predicted_measurable=pm)


def test_score_and_error_ordering():
    outs = [
        _outcome("a", "value", "linked"),  # category error only
        _outcome("b", "process_only", "value", pm=False),  # flag error (missed), measurable wrong
        _outcome("c", "no_goal", "no_goal", lm=False, pm=False),
        _outcome("d", "linked", "process_only"),  # flag error (false alarm)
    ]
    s = J.score(outs)
    assert s.records == 4
    assert s.labels == {"value": 1, "linked": 1, "process_only": 1, "no_goal": 1}
    assert s.predicted == {"value": 1, "linked": 1, "process_only": 1, "no_goal": 1}
    assert (s.flag.tp, s.flag.fp, s.flag.fn, s.flag.tn) == (1, 1, 1, 1)
    assert s.category_accuracy == pytest.approx(0.25)
    assert s.measurable_accuracy == pytest.approx(0.75)
    assert s.confusion["linked"]["process_only"] == 1
    assert s.measurable_errors == {"process_only": {"over": 0, "under": 1}}
    assert [o.id for o in J.errors_first(outs)] == ["b", "d", "a"]
    json.dumps(s.to_dict())  # the --json output must serialise
    text = J.format_scores("t", s)
    assert "precision 0.500" in text and "recall 0.500" in text


def test_format_scores_shows_na_for_undefined_rates():
    s = J.score([_outcome("a", "value", "value")])
    assert "precision n/a" in J.format_scores("t", s)


# ---------------------------------------------------------------- split


def test_split_is_deterministic_and_balanced():
    ids = [f"D-{i:03d}" for i in range(400)]
    halves = [J.split_of(i) for i in ids]
    assert halves == [J.split_of(i) for i in ids]
    assert set(halves) == {"tune", "holdout"}
    assert 150 < halves.count("tune") < 250
    assert all(J.in_split(i, "all") for i in ids)
    assert all(J.in_split(i, "tune") != J.in_split(i, "holdout") for i in ids)


# ---------------------------------------------------------------- reading input


def test_read_labelled_skips_bad_lines_with_warnings(tmp_path):
    f = tmp_path / "x.jsonl"
    good = {"id": "A", "category": "value", "measurable": True}
    f.write_text("\n".join([
        json.dumps(good), "", "{not json", "[1]",
        json.dumps({"id": "B", "measurable": False}),
        json.dumps({"id": "C", "category": "great", "measurable": False}),
    ]))
    records, warnings = J.read_labelled(f)
    assert [r["id"] for r in records] == ["A"]
    assert len(warnings) == 4
    assert any("missing category" in w for w in warnings)
    assert any("'great'" in w for w in warnings)


def test_main_runs_on_a_small_file(tmp_path, capsys):
    f = tmp_path / "x.jsonl"
    rows = [
        {"id": "T-1", "source": "jira", "number": "T-1", "title": "Reduce P1 incidents", "description": "",
         "goal": "Reduce P1 incidents by 20% and raise FCR to 75%.", "service": "", "category": "process_only",
         "value_goal": False, "measurable": True},
        {"id": "T-2", "source": "servicenow", "number": "CIM0000001", "title": "Review the change process",
         "description": "", "goal": "", "service": "", "category": "no_goal", "value_goal": False, "measurable": False},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert J.main([str(f), "--json", "--show-errors", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "all"
    assert out["total"]["records"] == 2
    assert sum(sum(r.values()) for r in out["total"]["confusion"].values()) == 2
    assert J.main([str(f), "--split", "holdout"]) == 0
    assert "split: holdout" in capsys.readouterr().out


def test_main_missing_file_exits_2(tmp_path, capsys):
    assert J.main([str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


# ---------------------------------------------------------------- the labelled records

NUMBER = {"servicenow": re.compile(r"^CIM\d{7}$"), "jira": re.compile(r"^[A-Z][A-Z0-9]+-\d+$")}


def test_there_are_labelled_record_files():
    assert RECORDS, "bench/records/*.jsonl missing"


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_labelled_records_are_well_formed(path):
    ids = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 100  # a set big enough to measure with
    for n, line in enumerate(lines, 1):
        where = f"{path.name}:{n}"
        rec = json.loads(line)
        assert isinstance(rec, dict), where
        missing = [k for k in J.REQUIRED_KEYS if k not in rec]
        assert not missing, f"{where}: missing {missing}"
        for key in ("id", "source", "number", "title", "description", "goal", "service"):
            assert isinstance(rec[key], str), f"{where}: {key} must be a string"
        assert rec["category"] in J.CATEGORIES, where
        assert rec["value_goal"] is (rec["category"] in ("value", "linked")), f"{where}: value_goal vs category"
        assert isinstance(rec["measurable"], bool), where
        if rec["category"] == "no_goal":
            assert rec["measurable"] is False, f"{where}: a record with no goal has nothing to measure"
        assert isinstance(rec.get("note"), str) and len(rec["note"]) > 10, f"{where}: note says why"
        assert rec["source"] in NUMBER, where
        assert NUMBER[rec["source"]].match(rec["number"]), f"{where}: number {rec['number']!r}"
        assert rec["title"].strip(), where
        assert rec["id"] not in ids, f"{where}: duplicate id {rec['id']}"
        ids.add(rec["id"])


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_labelled_records_cover_every_category(path):
    recs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    counts = {c: sum(r["category"] == c for r in recs) for c in J.CATEGORIES}
    assert all(n >= len(recs) // 10 for n in counts.values()), counts
