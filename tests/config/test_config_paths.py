"""state.path and logging.file: unusable paths are config errors naming the key, not tracebacks.

load_config refuses what is certain from a stat (the path is a folder; a file stands
where a folder must be created); check-config also asks the file system whether this
user can create the files, and fails (exit 2) when it cannot.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from csi_coach.config import load_config
from csi_coach.errors import ConfigError
from support.paths import ROOT
from support.rules import with_small_rules

SNOW = """\
[sources.snow]
type = "servicenow"
url = "http://127.0.0.1:9"
timeout_seconds = 2

[sources.snow.auth]
method = "basic"
username_env = "CSI_PATHS_USER"
password_env = "CSI_PATHS_PASSWORD"
"""


def write_config(tmp_path: Path, state: str | None = None, log: str | None = None) -> Path:
    text = ""
    if state is not None:
        text += f"[state]\npath = {state!r}\n"
    if log is not None:
        text += f"[logging]\nfile = {log!r}\n"
    path = tmp_path / "config.toml"
    path.write_text(with_small_rules(text + SNOW, tmp_path), encoding="utf-8")  # the paths are the subject
    return path


def a_file(tmp_path: Path) -> Path:
    f = tmp_path / "plain-file"
    f.write_text("not a folder\n", encoding="utf-8")
    return f


def unusable_paths(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (path value, words the error must contain)."""
    f = a_file(tmp_path)
    return {
        "an existing folder": (str(tmp_path), "is a folder"),
        "an absolute folder like /tmp": ("/tmp", "is a folder"),
        "a relative folder": (".", "is a folder"),
        "parent is a file": (str(f / "x.sqlite"), "is a file"),
        "an ancestor is a file": (str(f / "deeper" / "x.sqlite"), "is a file"),
    }


CASES = ["an existing folder", "an absolute folder like /tmp", "a relative folder", "parent is a file",
         "an ancestor is a file"]


@pytest.mark.parametrize("key", ["state.path", "logging.file"])
@pytest.mark.parametrize("case", CASES)
def test_load_config_refuses_unusable_file_paths(tmp_path, key, case):
    value, words = unusable_paths(tmp_path)[case]
    path = write_config(tmp_path, **({"state": value} if key == "state.path" else {"log": value}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.key == key and err.file == str(path) and err.line is not None
    assert words in str(err) and repr(value) in str(err)


def test_usable_paths_still_load(tmp_path):
    cfg = load_config(write_config(tmp_path, state="new/folder/s.sqlite", log="logs/bot.log"))
    assert cfg.state.path == "new/folder/s.sqlite" and cfg.logging.file == "logs/bot.log"
    assert not (tmp_path / "new").exists() and not (tmp_path / "logs").exists()  # loading creates nothing


def scan(config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CSI_PATHS_USER": "u", "CSI_PATHS_PASSWORD": "p"}
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, cwd=config.parent, env=env)


@pytest.mark.parametrize("key, value", [
    ("logging.file", "/tmp"),
    ("state.path", "/tmp"),
    ("state.path", "PLAIN/x.sqlite"),
])
def test_scan_exits_2_naming_the_key(tmp_path, key, value):
    value = value.replace("PLAIN", str(a_file(tmp_path)))
    config = write_config(tmp_path, **({"state": value} if key == "state.path" else {"log": value}))
    proc = scan(config)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"[{key}]" in proc.stderr and str(config) in proc.stderr


def check_config(config: Path) -> subprocess.CompletedProcess:
    from csi_coach import bot

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = bot.main(["check-config", "--config", str(config)])
    return subprocess.CompletedProcess([], code, out.getvalue(), err.getvalue())


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this user cannot create files in (root ignores mode bits: use /sys)."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("key", ["state.path", "logging.file"])
@pytest.mark.parametrize("where", ["in the folder", "in a folder to create"])
def test_check_config_fails_when_the_file_cannot_be_created(tmp_path, key, where):
    folder = unwritable_folder(tmp_path)
    value = str(folder / "csi-coach-test.file") if where == "in the folder" else str(folder / "csi-coach-new" / "f")
    res = check_config(write_config(tmp_path, **({"state": value} if key == "state.path" else {"log": value})))
    assert res.returncode == 2, res.stdout + res.stderr
    fail_lines = [line for line in res.stdout.splitlines() if "FAIL" in line]
    assert any(f"[{key}]" in line and str(folder) in line for line in fail_lines), res.stdout
    assert "All good" not in res.stdout and "Not ready" in res.stdout


def test_check_config_reports_writable_paths_ok_and_creates_nothing(tmp_path):
    config = write_config(tmp_path, state="state/s.sqlite", log="logs/bot.log")
    before = sorted(p.name for p in tmp_path.iterdir())
    res = check_config(config)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "state file" in res.stdout and "writable" in res.stdout and "FAIL" not in res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_check_config_fails_on_a_state_file_it_cannot_append_to(tmp_path):
    # An existing file that cannot be opened for writing (root: a sysfs file without a write handler).
    target = Path("/sys/kernel/uevent_seqnum") if os.geteuid() == 0 else tmp_path / "ro.sqlite"
    if target.parent == tmp_path:
        target.write_text("")
        target.chmod(0o444)
    res = check_config(write_config(tmp_path, state=str(target)))
    assert res.returncode == 2, res.stdout
    assert any("[state.path]" in line and "not writable" in line for line in res.stdout.splitlines() if "FAIL" in line)
