"""``python -m csi_coach.commands.health``: is ``csi-coach run`` still getting its scans done?

The container's HEALTHCHECK (deploy/Dockerfile) runs it beside ``csi-coach run``. The
process being up says little: the scheduler keeps it up when every scan fails, and a hung
scan keeps it up for ever. What the scheduler is there for is one good scan a period, so
this asks the state file what the scheduler asks at start-up (``last_good_scan_start``: the
newest scan that ended ``ok`` or ``partial``) and says healthy when that scan started no
longer ago than

    one period of [schedule] cron + misfire_grace_seconds + what one scan may take
    (every source's read_budget_seconds, added up, and settle_after_seconds)

or ``--max-age SECONDS`` when given (writes are not bounded by a budget: a scan that
writes for longer needs it). Before the first good scan it is unhealthy: with ``catch_up``
(the default) ``run`` scans at once at start, and the image's start period covers it.

Exit 0 healthy, 1 not, with one line saying why. Docker reads 0 and 1 only (2 is reserved),
so a config or state file that cannot be read, or a bad option, is 1 too.
It is a module, not a ``csi-coach`` command, so that bot.py did not change for it.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from csi_coach import redact
from csi_coach.config import Config, default_config_path, load_config
from csi_coach.errors import CoachError
from csi_coach.scan.runner import state_path
from csi_coach.scan.scheduler import last_good_scan_start, make_trigger, period

EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str


def allowed_age(config: Config, now: datetime) -> timedelta:
    """How old the last good scan may be: one period, the misfire grace, one scan's time."""
    trigger = make_trigger(config.schedule, file=str(config.path))
    one_scan = sum(s.read_budget_seconds for s in config.sources) + config.comments.settle_after_seconds
    return period(trigger, now) + timedelta(seconds=config.schedule.misfire_grace_seconds + one_scan)


def check(config: Config, now: datetime, max_age: timedelta | None = None) -> Health:
    limit = allowed_age(config, now) if max_age is None else max_age
    last = last_good_scan_start(config)
    if last is None:
        return Health(False, f"no successful scan yet in {state_path(config)}")
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    age = now - last
    said = f"the last successful scan started {_span(age)} ago ({last.isoformat(timespec='seconds')})"
    if age > limit:
        return Health(False, f"{said}, more than the {_span(limit)} allowed")
    return Health(True, f"{said}; {_span(limit)} allowed")


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_UNHEALTHY, f"unhealthy: {self.prog}: {message}\n")


def _seconds(text: str) -> timedelta:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return timedelta(seconds=value)


def main(argv: Sequence[str] | None = None, *, now: datetime | None = None) -> int:
    parser = _Parser(prog="python -m csi_coach.commands.health",
                     description="Exit 0 when the last good scan is recent enough, else 1.")
    parser.add_argument("--config", metavar="PATH", default=None,
                        help="config file (default: $CSI_COACH_CONFIG or ./config.toml)")
    parser.add_argument("--max-age", metavar="SECONDS", type=_seconds, default=None,
                        help="the oldest a good scan may be (default: from the schedule and budgets)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config or default_config_path())
        health = check(config, now or datetime.now(UTC), args.max_age)
    except (CoachError, sqlite3.Error, OSError) as exc:
        print(f"unhealthy: {redact.scrub(str(exc))}")
        return EXIT_UNHEALTHY
    print(f"{'healthy' if health.healthy else 'unhealthy'}: {health.reason}")
    return EXIT_HEALTHY if health.healthy else EXIT_UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
