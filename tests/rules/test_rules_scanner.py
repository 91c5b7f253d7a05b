"""Vocabulary matching: word boundaries, inflections, longest match, negation scope."""

from __future__ import annotations

from csi_coach.rules.scanner import Scanner


def scan(vocabs, text, **kw):
    return [(t.text, sorted(t.vocabs), t.negated) for t in Scanner(vocabs, **kw).scan(text)]


def test_inflections_match_both_ways():
    s = {"cost": ["reduce cost"]}
    assert scan(s, "This reduces costs for stores") == [("reduces costs", ["cost"], False)]
    assert scan({"cost": ["reduces costs"]}, "we reduce cost") == [("reduce cost", ["cost"], False)]
    assert scan(s, "Reduced costing") == [("Reduced costing", ["cost"], False)]


def test_word_boundaries_and_stem_check_reject_lookalikes():
    s = {"cost": ["cost"], "role": ["user"]}
    assert scan(s, "costume party for users") == [("users", ["role"], False)]
    assert scan(s, "accost the superuser") == []


def test_case_and_separators():
    s = {"p": ["self-service", "mttr"]}  # lower-case terms match any case
    got = scan(s, "Self service and SELF-SERVICE; mttr down")
    assert [g[0] for g in got] == ["Self service", "SELF-SERVICE", "mttr"]


def test_longest_term_wins():
    s = {"role": ["customer"], "process": ["customer tickets"]}
    assert scan(s, "fewer customer tickets for customers") == [
        ("customer tickets", ["process"], False),
        ("customers", ["role"], False),
    ]


def test_longer_candidate_that_fails_falls_back_to_shorter_term():
    s = {"role": ["customer"], "x": ["customer experience"]}
    assert scan(s, "customers experiential") == [("customers", ["role"], False)]


def test_negation_scope_is_bounded_by_window_and_clause():
    s = {"neg": ["not aimed at"], "cost": ["cost savings"]}
    kw = {"negation_vocab": "neg", "negation_window": 4}
    assert scan(s, "Not aimed at cost savings", **kw)[1] == ("cost savings", ["cost"], True)
    # A clause break ends the scope.
    assert scan(s, "Not aimed at speed. Cost savings matter", **kw)[1][2] is False
    # So does distance.
    assert scan(s, "not aimed at one two three four five cost savings", **kw)[1][2] is False


def test_apostrophes_straight_and_curly():
    s = {"neg": ["won't notice"]}
    assert [t[0] for t in scan(s, "users won't notice; users won\u2019t notice")] == ["won't notice", "won\u2019t notice"]


def test_offsets_point_into_the_text():
    text = "Patients wait less"
    (tok,) = Scanner({"role": ["patient"]}).scan(text)
    assert text[tok.start : tok.end] == "Patients"


def test_word_ending_terms_yield_to_listed_words():
    s = {"agent": ["*ers", "*ants"], "not_person": ["servers"], "process": ["incidents"]}
    got = scan(s, "Enumerators and litigants; servers, incidents, teachers")
    assert got == [("litigants", ["agent"], False), ("servers", ["not_person"], False),
                   ("incidents", ["process"], False), ("teachers", ["agent"], False)]


def test_shorter_word_with_same_stem_is_not_the_term():
    # Snowball stems "supporter" and "support" alike; the role must not match the verb.
    s = {"role": ["supporter"]}
    assert scan(s, "support the supporters") == [("supporters", ["role"], False)]


def test_cache_does_not_change_results():
    sc = Scanner({"cost": ["reduce cost"], "role": ["customer"]})
    text = "Reduces costs for Customers, reduce cost."
    first = sc.scan(text)
    assert sc.scan(text) == first and sc.scan(text.upper())[0].text == "REDUCES COSTS"


def test_capitalised_terms_match_only_in_capitals():
    s = {"provider": ["IT", "IT team"], "role": ["staff"]}
    got = scan(s, "It helps staff; the IT team and IT")
    assert got == [("staff", ["role"], False), ("IT team", ["provider"], False), ("IT", ["provider"], False)]


def test_only_capitalised_words_of_a_term_are_case_sensitive():
    s = {"p": ["dispatch SLA"]}
    assert [t[0] for t in scan(s, "Dispatch SLA met; dispatch sla missed")] == ["Dispatch SLA"]


def test_text_whose_lower_casing_changes_length_is_scanned_ignoring_case():
    # "İ".lower() is two characters: the lower-cased text's offsets would be wrong, so
    # such a field is matched by the case-folding pattern (compiled when first needed).
    s = {"role": ["customer"], "process": ["customer tickets"]}
    text = "İstanbul Customers wait; CUSTOMER tickets rose"
    assert scan(s, text) == [("Customers", ["role"], False), ("CUSTOMER tickets", ["process"], False)]
    tokens = Scanner(s).scan(text)
    assert [text[t.start:t.end] for t in tokens] == ["Customers", "CUSTOMER tickets"]
