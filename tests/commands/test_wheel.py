"""The wheel: one import name (csi_coach) with its data files, and, installed into a
venv of its own with no checkout in sight, a working `csi-coach demo`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from csi_coach import __version__
from support.paths import ROOT

# What a copy of the checkout leaves out: environments, build leftovers, caches, git.
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the checkout: a build writes build/ and the
    egg-info next to the sources, and the checkout is not the test's to write into."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCE, symlinks=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(tmp / "dist"), str(src)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = (tmp / "dist").glob("csi_coach-*.whl")
    return built


def test_the_wheel_holds_one_import_name_and_the_data_files(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert zf.read(top_level).decode().split() == ["csi_coach"]
    assert all(n.startswith(("csi_coach/", "csi_coach-")) for n in names), sorted(names)
    assert not [n for n in names if n.startswith(("csi_coach/tests/", "csi_coach/bench/"))]
    # Every template file of the checkout (not the package's own __init__.py) is shipped.
    templates = {f"csi_coach/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "templates").rglob("*")
                 if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert any(t.endswith(".j2") for t in templates)
    needed = {"csi_coach/config.example.toml", "csi_coach/rules/default.toml"} | templates
    assert needed <= names, sorted(needed - names)


def test_the_installed_wheel_runs_the_demo_without_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    # No pip in the new venv (ensurepip alone takes seconds): this environment's pip
    # installs into it (--python), from the wheel file only.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           "-q", str(wheel)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The dependencies come from this environment's site-packages. PYTHONPATH does not
    # run .pth files, so the checkout's editable-install finder stays out of it.
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    work = tmp_path / "work"  # the current folder: nothing of the checkout in it
    work.mkdir()

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), cwd=work, env=env, capture_output=True, text=True, timeout=120)

    where = run(str(python), "-c", "import csi_coach.bot; print(csi_coach.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve()), where.stdout

    version = run(str(python), "-m", "csi_coach", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"csi-coach {__version__}"

    state = tmp_path / "state"
    demo = run(str(bin_dir / "csi-coach"), "demo", "--records", "10", "--state-dir", str(state))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "servicenow: 10 records read" in demo.stdout and "jira: 10 records read" in demo.stdout
    assert "exactly as they now read on the tickets" in demo.stdout
    assert (state / "report" / "report.json").exists() and (state / "report" / "report.html").exists()
