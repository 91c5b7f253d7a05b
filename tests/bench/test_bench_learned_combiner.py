"""bench/learned_combiner.py: the experiment's learner and scores, on rows small enough to reason about."""

from __future__ import annotations

import importlib.util
import sys

from support.paths import ROOT


def _load():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_learned_combiner", ROOT / "bench" / "learned_combiner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


L = _load()


def test_the_learner_weighs_an_answer_that_goes_with_coaching_above_one_that_does_not():
    # Answer 0 holds on every record that needs coaching, answer 1 on every one that does
    # not, answer 2 on all of them: only the first two say anything.
    rows = [([0, 2], True, True)] * 30 + [([1, 2], False, False)] * 30
    w = L.train(rows, width=3, iterations=300)
    assert w[0] > 1.0 > -1.0 > w[1]
    assert L.probability(w, [0, 2]) > 0.9 > 0.1 > L.probability(w, [1, 2])


def test_a_mixed_answer_learns_the_share_it_goes_with_coaching():
    # Answer 0 goes with coaching on 3 records of 4: the learned probability is about 0.75.
    rows = [([0], True, True)] * 30 + [([0], False, True)] * 10
    w = L.train(rows, width=1, iterations=2000, l2=0.0)
    assert abs(L.probability(w, [0]) - 0.75) < 0.02


def test_scores_count_flags_against_labels():
    pairs = [(True, True), (True, False), (False, True), (False, False), (True, True)]
    assert L.scores(pairs) == "precision 0.667  recall 0.667  [tp 2  fp 1  fn 1]"
