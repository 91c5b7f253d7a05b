"""[sources.NAME] read_budget_seconds: the total time a source's reads may take in one scan."""

from __future__ import annotations

import pytest

from csi_coach.config import load_config
from csi_coach.errors import ConfigError
from support.paths import ROOT

SOURCE = """
[sources.snow]
type = "servicenow"
url = "https://acme.service-now.com"
{budget}
[sources.snow.auth]
method = "basic"
username_env = "SNOW_USER"
password_env = "SNOW_PASSWORD"
"""


def load(tmp_path, budget: str):
    path = tmp_path / "config.toml"
    path.write_text(SOURCE.format(budget=budget), encoding="utf-8")
    return load_config(path)


def test_the_example_config_has_the_default():
    assert load_config(ROOT / "config.example.toml").source("servicenow").read_budget_seconds == 900


def test_a_set_budget_is_read(tmp_path):
    assert load(tmp_path, "read_budget_seconds = 120").source("snow").read_budget_seconds == 120


@pytest.mark.parametrize("value", ["0", "5", "100000", '"ten minutes"'])
def test_a_budget_out_of_range_names_the_key(tmp_path, value):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"read_budget_seconds = {value}")
    assert "sources.snow.read_budget_seconds" in str(info.value)
