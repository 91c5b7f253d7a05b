"""Per-source write budgets (issue 14, item 7): each source's max_writes_per_run within the
global one, so the source scanned first cannot use up what the next one needs."""

from __future__ import annotations

import re
import threading

from csi_coach.scan.budget import SourceBudget, source_budgets
from csi_coach.scan.result import WriteBudget
from support.rules import small_rules
from support.sandbox_scan import bot_comments, scan_json, start, write_config

SNOW_CAP = "# max_writes_per_run = 100        # this source's write budget"
JIRA_CAP = "# max_writes_per_run = 100        # as for ServiceNow"


def test_a_write_takes_from_its_source_and_the_total_or_from_neither():
    budgets = source_budgets([("a", 3), ("b", None), ("c", 5)], total=6)
    a, b, c = budgets["a"], budgets["b"], budgets["c"]
    assert [a.take() for _ in range(5)] == [True, True, True, False, False]
    assert a.exhausted and not b.exhausted
    # a's refusals took nothing from the total: b (no cap of its own) gets the other 3
    assert [b.take() for _ in range(4)] == [True, True, True, False]
    assert b.exhausted and c.exhausted and not c.take()  # c's own 5 are there, the total is not
    assert (a.used, b.used, c.used) == (3, 3, 0)


def test_a_source_budget_is_exact_under_many_writer_threads():
    shared = WriteBudget(1000)
    budget = SourceBudget("snow", 50, shared)
    taken: list[bool] = []
    lock = threading.Lock()

    def writer():
        for _ in range(100):
            ok = budget.take()
            with lock:
                taken.append(ok)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == 50 and shared.used == 50


def test_the_first_source_no_longer_starves_the_second(tmp_path):
    pair = start(30, seed=11)
    try:
        info = pair.info()
        config = write_config(tmp_path, info, max_writes_per_run=10, rules=str(small_rules(tmp_path)))
        # The global budget alone: servicenow, scanned first, spends all of it (a dry run
        # takes from the budget like a scan, and writes nothing).
        code, alone, err = scan_json(config, info, "--dry-run")
        assert code == 0, err
        assert alone["sources"]["servicenow"]["written"] == 10 and alone["sources"]["jira"]["written"] == 0
        assert alone["sources"]["jira"]["deferred"] > 0

        text = config.read_text(encoding="utf-8")
        assert text.count(SNOW_CAP) == 1 and text.count(JIRA_CAP) == 1
        config.write_text(text.replace(SNOW_CAP, "max_writes_per_run = 3 # ").replace(JIRA_CAP, "max_writes_per_run = 4 # "),
                          encoding="utf-8")
        code, capped, err = scan_json(config, info)
        assert code == 0, err
        snow, jira = capped["sources"]["servicenow"], capped["sources"]["jira"]
        assert (snow["written"], jira["written"]) == (3, 4)
        assert snow["deferred"] > 0 and jira["deferred"] > 0 and capped["written"] == 7
        on_tickets = bot_comments(info)
        assert sum(1 for source, _ in on_tickets if source == "servicenow") == 3
        assert sum(1 for source, _ in on_tickets if source == "jira") == 4
        assert "its own max_writes_per_run (3) is used up" in err and "its own max_writes_per_run (4) is used up" in err

        # The global budget still caps the total: 3 + 4 asked for, 5 allowed.
        text, n = re.subn(r"(?m)^max_writes_per_run = 10\b", "max_writes_per_run = 5", config.read_text(encoding="utf-8"))
        assert n == 1
        config.write_text(text, encoding="utf-8")
        code, total, err = scan_json(config, info, "--dry-run")
        assert code == 0, err
        assert total["sources"]["servicenow"]["written"] == 3 and total["sources"]["jira"]["written"] == 2
        assert "the scan's [comments] max_writes_per_run (5) is used up" in err
        assert "add up to 7, more than [comments] max_writes_per_run = 5" in err
    finally:
        pair.stop()
