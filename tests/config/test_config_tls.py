"""[sources.NAME] verify_tls and ca_bundle: a private CA's PEM file, checked when the config
is read, every mistake a located error (file, line, key, what was got, what is valid)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from csi_coach.config import load_config
from csi_coach.errors import ConfigError
from support.config import SNOW
from support.paths import BOT, ROOT

JIRA = """\
[sources.jira]
type = "jira"
url = "https://jira.example.com"
flavor = "server"
{extra}
[sources.jira.auth]
method = "pat"
token_env = "JIRA_PAT"
"""


def snow_with(extra: str) -> str:
    """The minimal ServiceNow source with ``extra`` lines in its table (before [.auth])."""
    head, auth = SNOW.split("\n[sources.snow.auth]\n")
    return f"{head}{extra}\n\n[sources.snow.auth]\n{auth}"


@pytest.fixture
def ca_pem(tmp_path: Path) -> Path:
    path = tmp_path / "certs" / "private-ca.pem"
    path.parent.mkdir()
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_is_the_systems_cas(tmp_path):
    (snow,) = load_config(write(tmp_path, SNOW)).sources
    assert snow.verify_tls is True and snow.ca_bundle == ""
    (snow,) = load_config(write(tmp_path, snow_with('ca_bundle = ""'))).sources
    assert snow.ca_bundle == ""


def test_a_relative_ca_bundle_is_taken_from_the_config_files_folder(tmp_path, ca_pem, monkeypatch):
    monkeypatch.chdir(ca_pem.parent)  # not the config's folder: the path must not depend on it
    (snow,) = load_config(write(tmp_path, snow_with('ca_bundle = "certs/private-ca.pem"'))).sources
    assert snow.ca_bundle == str(ca_pem) and Path(snow.ca_bundle).is_absolute()


def test_jira_takes_a_ca_bundle_too(tmp_path, ca_pem):
    (jira,) = load_config(write(tmp_path, JIRA.format(extra=f'ca_bundle = "{ca_pem}"'))).sources
    assert jira.ca_bundle == str(ca_pem) and jira.verify_tls


@pytest.mark.parametrize("value,says", [
    ("certs/nope.pem", "does not exist"),
    ("certs", "is not a file"),
])
def test_a_missing_bundle_or_a_folder_is_a_located_error(tmp_path, ca_pem, value, says):
    path = write(tmp_path, snow_with(f'ca_bundle = "{value}"'))
    err = load_error(path)
    assert says in err.message and str(tmp_path / value) in err.message
    assert err.file == str(path) and err.key == "sources.snow.ca_bundle"
    assert err.line == path.read_text().splitlines().index(f'ca_bundle = "{value}"') + 1
    assert err.has_got and err.got == value
    assert "PEM file" in (err.expected or "")


@pytest.mark.parametrize("content", [b"", b"not a certificate\n", b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"],
                         ids=["empty", "text", "a-key"])
def test_a_file_without_certificates_is_refused(tmp_path, content):
    (tmp_path / "ca.pem").write_bytes(content)
    err = load_error(write(tmp_path, snow_with('ca_bundle = "ca.pem"')))
    assert "holds no certificate" in err.message and err.key == "sources.snow.ca_bundle"
    assert "BEGIN CERTIFICATE" in (err.expected or "")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_an_unreadable_bundle_is_refused(tmp_path):
    # /proc/self/mem is a file no one can read from its start, root included (chmod 000 is no
    # test under root, which the CI machines run as).
    err = load_error(write(tmp_path, snow_with('ca_bundle = "/proc/self/mem"')))
    assert "cannot be read" in err.message and err.key == "sources.snow.ca_bundle"


def test_ca_bundle_with_verify_tls_false_is_a_contradiction(tmp_path, ca_pem):
    path = write(tmp_path, JIRA.format(extra=f'verify_tls = false\nca_bundle = "{ca_pem}"'))
    err = load_error(path)
    assert err.key == "sources.jira.ca_bundle" and "verify_tls = false" in err.message
    assert err.line == path.read_text().splitlines().index(f'ca_bundle = "{ca_pem}"') + 1


def test_ca_bundle_must_be_a_string(tmp_path):
    err = load_error(write(tmp_path, snow_with("ca_bundle = true")))
    assert err.key == "sources.snow.ca_bundle" and "must be a string" in err.message


def test_the_example_names_ca_bundle_for_each_source_and_loads():
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    assert text.count('\nca_bundle = ""') == 2
    assert all(s.ca_bundle == "" for s in load_config(ROOT / "config.example.toml").sources)


def test_check_config_exits_2_naming_the_missing_bundle_without_a_traceback(tmp_path):
    path = write(tmp_path, snow_with('ca_bundle = "/nowhere/ca.pem"'))
    proc = subprocess.run([sys.executable, str(BOT), "check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    said = proc.stdout + proc.stderr
    assert "sources.snow.ca_bundle" in said and "/nowhere/ca.pem does not exist" in said
    assert "Traceback" not in said
