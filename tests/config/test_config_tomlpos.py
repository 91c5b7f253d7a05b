"""Lines of TOML key paths, for located errors (tomlpos)."""

from __future__ import annotations

import pytest

from csi_coach.tomlpos import find_line

TEXT = """\
title = "x"
[sources.prod]
url = "https://example.invalid"
auth.method = "basic"
"odd key" = 1
'lit key' = 2

[[rule.mine]]
pattern = 'a'
[[rule.mine]]
pattern = 'b'
[ report . dir ]
path = "out"
[broken
url = "hidden"
[settings]
url = "settings'"
"""


@pytest.mark.parametrize("path, line", [
    ("title", 1),
    ("sources.prod", 2),
    ("sources.prod.url", 3),
    ("sources.prod.auth.method", 4),  # a dotted key
    ("sources.prod.odd key", 5),  # quoted keys
    ("sources.prod.lit key", 6),
    ("rule.mine.0.pattern", 9),  # an array index is not in the text: the first one
    ("rule.mine", 8),
    ("report.dir.path", 13),  # spaces inside a header
    ("settings.url", 17),  # not the "url" under a header that cannot be read
    ("sources.prod.nope", None),  # a missing key (callers fall back to its table)
    ("sources.prod.auth.method.extra", None),
    ("nope", None),
    ("", None),
])
def test_find_line(path, line):
    assert find_line(TEXT, path) == line


def test_find_line_takes_a_list_of_parts_and_reads_each_text_on_its_own():
    assert find_line(TEXT, ["sources", "prod", "url"]) == 3
    assert find_line("[a]\nurl = 1\n", ["a", "url"]) == 2
    assert find_line(TEXT, ["a", "url"]) is None
