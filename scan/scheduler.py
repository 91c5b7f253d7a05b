"""The scheduling behind ``csi-coach run`` (the command: ``commands/run.py``): scan on the
``[schedule]`` cron.

APScheduler 3.x ``BlockingScheduler`` with a ``CronTrigger`` built from the crontab
line and time zone in the config; ``max_instances=1`` and ``coalesce=True`` so a
slow scan never overlaps the next and missed runs collapse into one;
``misfire_grace_time`` so a run a little late (host asleep, restart) still happens.

Catch-up: at start-up, when the last successful scan in the state file is older
than one period of the schedule (or there is none), a scan runs at once.

Each run takes the state lock, waiting for a manual ``csi-coach scan`` to finish
rather than overlapping it (and saying so in the log). ``between_scans`` runs a
task (the config reload on SIGHUP) when no scan is in hand, and ``apply`` takes a
reloaded config: a changed ``[schedule]`` reschedules the cron job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from csi_coach.config import Config, ScheduleSettings
from csi_coach.errors import ConfigError
from csi_coach.scan.state import StateStore

log = logging.getLogger("csi_coach.scheduler")

BETWEEN_WAIT_SECONDS = 30.0  # a scan due while a task runs between scans waits this long for it


def make_trigger(schedule: ScheduleSettings, *, file: str | None = None) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(schedule.cron, timezone=ZoneInfo(schedule.timezone))
    except (ValueError, KeyError) as exc:
        raise ConfigError(
            f"not a valid schedule: {exc}", file=file, key="schedule.cron", got=schedule.cron, has_got=True,
            expected='five crontab fields, e.g. "0 2 * * *"',
        ) from None


def period(trigger: CronTrigger, now: datetime) -> timedelta:
    """The time between the next two runs: one period of the schedule."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    if first is None or second is None:
        return timedelta(days=1)
    return second - first


def needs_catch_up(last_started: datetime | None, trigger: CronTrigger, now: datetime) -> bool:
    if last_started is None:
        return True
    if last_started.tzinfo is None:
        last_started = last_started.replace(tzinfo=UTC)
    return now - last_started > period(trigger, now)


def last_good_scan_start(config: Config) -> datetime | None:
    from csi_coach.scan.runner import state_path

    path = state_path(config)
    if not path.exists():
        return None
    with StateStore.open_readonly_or_empty(path) as store:
        row = store.last_successful_scan()
    return row.started if row else None


class CoachScheduler:
    def __init__(
        self,
        config: Config,
        job: Callable[[], None],
        *,
        stop: threading.Event | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.trigger = make_trigger(config.schedule, file=str(config.path))
        self.scheduler = BlockingScheduler(timezone=ZoneInfo(config.schedule.timezone))
        self._job = job
        self._busy = threading.Lock()
        self._between = threading.Event()  # a task waits for the scan in hand to end (see between_scans)
        self._now = now
        self.runs = 0

    def _run_once(self) -> None:
        # The cron job and a catch-up job are two APScheduler jobs: never let them overlap.
        # A task run between scans holds the lock for a moment only: wait for it.
        if not (self._busy.acquire(blocking=False)
                or (self._between.is_set() and self._busy.acquire(timeout=BETWEEN_WAIT_SECONDS))):
            log.info("a scan is already running in this process; this run is skipped")
            return
        try:
            if self.stop.is_set():
                return
            self.runs += 1
            self._job()
        except Exception:  # keep the scheduler alive whatever one run does
            log.exception("scheduled scan crashed")
        finally:
            self._busy.release()

    def start(self) -> None:
        """Blocks until ``shutdown()`` (``commands/run.py`` calls it on SIGTERM / SIGINT)."""
        grace = self.config.schedule.misfire_grace_seconds
        self.scheduler.add_job(
            self._run_once, self.trigger, id="scan", name="csi-coach scan",
            max_instances=1, coalesce=True, misfire_grace_time=grace,
        )
        if self.config.schedule.catch_up:
            last = last_good_scan_start(self.config)
            if needs_catch_up(last, self.trigger, self._now()):
                when = "never" if last is None else last.isoformat(timespec="minutes")
                log.info("last successful scan: %s; more than one period ago, scanning now", when)
                self.scheduler.add_job(
                    self._run_once, "date", run_date=self._now(), id="catch-up",
                    name="csi-coach catch-up scan", misfire_grace_time=grace,
                )
        self.scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        if self.stop.is_set():
            return
        try:
            self.scheduler.start()
        except JobLookupError:
            # A shutdown that lands while APScheduler retires a finished one-off job
            # (the catch-up) clears the job store under it; stopping was asked for.
            if not self.stop.is_set():
                raise

    def _on_started(self, event: Any) -> None:
        # Fired inside start() once the scheduler runs: a stop that came before this
        # point would otherwise be lost and leave the process waiting forever.
        if self.stop.is_set():
            self.scheduler.shutdown(wait=False)
            return
        next_run = self.trigger.get_next_fire_time(None, self._now())
        log.info(
            "scheduler started: cron %r (%s); next scan at %s",
            self.config.schedule.cron, self.config.schedule.timezone,
            next_run.isoformat() if next_run else "never",
        )

    def shutdown(self) -> None:
        """Stop scheduling; a scan in progress finishes its record in hand first."""
        self.stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def wait_idle(self) -> None:
        with self._busy:
            pass

    def between_scans(self, task: Callable[[], None]) -> threading.Thread:
        """Run ``task`` in a thread of its own once no scan is in hand (at once when idle).
        Signal handlers call this: it never blocks the caller."""

        def work() -> None:
            self._between.set()
            try:
                with self._busy:
                    if not self.stop.is_set():
                        task()
            except Exception:  # keep the scheduler alive whatever the task does
                log.exception("a task between scans failed")
            finally:
                self._between.clear()

        if self._busy.locked():
            log.info("a scan is in hand: waiting for it to end first")
        thread = threading.Thread(target=work, name="csi-coach-between-scans", daemon=True)
        thread.start()
        return thread

    def apply(self, config: Config) -> None:
        """Use a reloaded config from now on; a changed ``[schedule]`` reschedules the scans."""
        old, self.config = self.config.schedule, config
        if config.schedule == old:
            return
        self.trigger = make_trigger(config.schedule, file=str(config.path))
        if self.scheduler.get_job("scan") is not None:
            self.scheduler.reschedule_job("scan", trigger=self.trigger)
        next_run = self.trigger.get_next_fire_time(None, self._now())
        log.info("schedule changed: cron %r (%s); next scan at %s", config.schedule.cron, config.schedule.timezone,
                 next_run.isoformat() if next_run else "never")
