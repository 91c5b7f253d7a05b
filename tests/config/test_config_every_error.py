"""Every error of a config or rules file at once (issue 14, item 3): each with its file, line,
key, what was got and what was expected; a single error reads exactly as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from csi_coach.config import load_config
from csi_coach.errors import ConfigError, ConfigErrors
from csi_coach.rules import load_ruleset
from support.config import SNOW


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def test_three_errors_in_three_sections_are_all_listed_in_file_order(tmp_path):
    text = ('[schedule]\ntimezone = "UTC"\ncron = "0 2 * *"\n'  # line 3: four cron fields
            '[comments]\ncooldown_days = "seven"\n'  # line 5
            + SNOW.replace('url = "https://example.service-now.com"', 'url = "https://example.service-now.com"\npage_size = 0'))
    err = load_error(tmp_path, text)
    assert isinstance(err, ConfigErrors)
    lines = str(err).splitlines()
    assert len(lines) == 3 and len(err.errors) == 3
    assert lines[0].startswith(f"{tmp_path / 'config.toml'}:3 [schedule.cron]: not a valid cron expression")
    assert lines[1] == (f"{tmp_path / 'config.toml'}:5 [comments.cooldown_days]: 'cooldown_days' must be a whole number "
                        "(got 'seven'); expected an integer from 0 to 3650")
    assert lines[2].startswith(f"{tmp_path / 'config.toml'}:9 [sources.snow.page_size]: 'page_size' is out of range (got 0)")
    # The first error's fields are the error's own: callers that read .key/.line still work.
    assert (err.key, err.line) == ("schedule.cron", 3)


def test_two_errors_in_one_table_and_a_broken_source_do_not_hide_each_other(tmp_path):
    text = ('[logging]\nlevel = "loud"\nformat = "xml"\n'
            '[sources.bad]\ntype = "gitlab"\n' + SNOW)
    err = load_error(tmp_path, text)
    keys = [e.key for e in err.errors]
    assert keys == ["logging.level", "logging.format", "sources.bad.type"]


def test_one_error_is_the_same_error_as_before(tmp_path):
    err = load_error(tmp_path, '[comments]\ncooldown_days = -1\n')
    assert type(err) is ConfigError and err.errors == (err,)
    assert str(err) == (f"{tmp_path / 'config.toml'}:2 [comments.cooldown_days]: 'cooldown_days' is out of range "
                        "(got -1); expected an integer from 0 to 3650")


@pytest.mark.parametrize("typed,meant", [
    ("Europe/Berln", "Europe/Berlin"),
    ("europe/berlin", "Europe/Berlin"),
    ("America/New York", "America/New_York"),
    ("Berlin", "Europe/Berlin"),
])
def test_a_time_zone_typo_gets_a_suggestion(tmp_path, typed, meant):
    err = load_error(tmp_path, f'[schedule]\ntimezone = "{typed}"\n')
    assert str(err) == (f"{tmp_path / 'config.toml'}:2 [schedule.timezone]: unknown time zone (got {typed!r}); "
                        f"did you mean {meant!r}? expected an IANA time zone name such as \"UTC\" or \"Europe/Berlin\"")


def test_a_time_zone_nothing_like_a_real_one_gets_no_guess(tmp_path):
    err = load_error(tmp_path, '[schedule]\ntimezone = "Nowhere/Qqqqq"\n')
    assert "did you mean" not in str(err) and "; expected an IANA time zone name" in str(err)


def test_a_bad_time_zone_still_lets_the_cron_be_checked(tmp_path):
    err = load_error(tmp_path, '[schedule]\ntimezone = "Mars/Base"\ncron = "every night"\n')
    assert [e.key for e in err.errors] == ["schedule.timezone", "schedule.cron"]


def test_did_you_mean_comes_before_expected_one_of_never_after_it(tmp_path):
    err = load_error(tmp_path, '[comments]\ncooldown_dayz = 3\non_change = "edt"\n')
    text = str(err)
    assert "[comments.cooldown_dayz]: unknown key 'cooldown_dayz'; did you mean 'cooldown_days'? expected one of: on_change" in text
    assert "[comments.on_change]: not a valid on_change (got 'edt'); did you mean 'edit'? expected one of: edit, new, none" in text
    assert "expected did you mean" not in text


def test_a_rules_file_lists_every_error_and_none_that_only_follows_from_another(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'extends = "default"\n'
        '\n'
        '[rule.value-gaol]\n'            # 3: unknown id
        'severity = "info"\n'
        '\n'
        '[rule.measurable]\n'
        'severity = "loud"\n'            # 7: bad value
        '\n'
        '[rule.my-rule]\n'               # a rule whose vocabulary could not be read
        'kind = "vocab"\n'
        'vocab = "my_words"\n'
        '\n'
        '[vocab.my_words]\n'
        'terms = "footfall"\n',          # 14: not a list
        encoding="utf-8")
    with pytest.raises(ConfigErrors) as info:
        load_ruleset(rules)
    lines = str(info.value).splitlines()
    assert [e.key for e in info.value.errors] == ["rule.value-gaol", "rule.measurable.severity", "vocab.my_words.terms"]
    assert lines[0].startswith(f"{rules}:3 [rule.value-gaol]: unknown rule id 'value-gaol' (a new rule needs a kind); "
                               "did you mean 'value-goal'? expected one of: ")
    assert lines[1] == f"{rules}:7 [rule.measurable.severity]: bad value for 'severity' (got 'loud'); expected one of \"error\", \"warning\", \"info\", \"off\""
    assert lines[2].startswith(f"{rules}:14 [vocab.my_words.terms]: bad list of terms (got 'footfall')")
    assert "no vocabulary named" not in str(info.value)  # my-rule's vocabulary has its own error already
