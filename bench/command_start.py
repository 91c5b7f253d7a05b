"""How long a command takes before it does its work: loading the rules, and check-config.

    .venv/bin/python bench/command_start.py [--rounds R] [--config PATH]

Every command loads and checks the rule set before it reads a ticket, and the tests
start the command hundreds of times. Prints, best of R rounds:

  load    rules.load_ruleset("default") in a new process (the rule file read, every
          rule built and its examples located, the vocabulary compiled; a new
          process each time, since the regex module caches what it compiled);
  check   `python -m csi_coach check-config --config PATH` as a new process, start to
          exit (the example config by default: it renders the comment templates
          against a hostile record and runs every rule example).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


_LOAD = ("import time; from csi_coach import rules; start = time.perf_counter(); "
         "rules.load_ruleset('default'); print(time.perf_counter() - start)")


def time_load() -> float:
    done = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(done.stdout.strip())


def time_check(config: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSI_")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "csi_coach", "check-config", "--config", str(config)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"check-config exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--config", type=Path, default=ROOT / "config.example.toml")
    args = parser.parse_args(argv)
    load = min(time_load() for _ in range(args.rounds))
    check = min(time_check(args.config) for _ in range(args.rounds))
    print(f"load   {load * 1000:8.0f} ms   rules.load_ruleset('default'), best of {args.rounds}")
    print(f"check  {check * 1000:8.0f} ms   check-config --config {args.config.name}, a new process, best of {args.rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
