"""``csi-coach run``: stay up and scan on the ``[schedule]`` cron (scan/scheduler.py), doing
after each scan what ``csi-coach scan`` does: the report into ``[report] dir``, the
summary in the log.

The config is read again before every scan, so edits to rules, comments and sources
apply without a restart; SIGHUP reads it at once (once the scan in hand, if any, has
ended), and a changed ``[schedule]`` reschedules the scans. A config or rules file that
fails to load, or rules whose examples fail (unless ``--allow-failing-examples``), keep
the config and rules loaded before in use, and the log says why (file, line, key); at
start they stop ``run`` with exit 2, as for ``scan``.

A scan due while a manual ``csi-coach scan`` holds the state lock waits for it, and the
log says so (scan/runner.py). SIGTERM / SIGINT: the scan in hand finishes its current
record, records its state, and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csi_coach.commands.config_gate import examples_gate, load_config_listing_rules
from csi_coach.commands.scan import check_report, write_report
from csi_coach.config import Config
from csi_coach.errors import CoachError, ConfigError
from csi_coach.scan.runner import load_ruleset, run_scan, setup_logging
from csi_coach.scan.scheduler import CoachScheduler

log = logging.getLogger("csi_coach.scheduler")


@dataclass
class ScheduledScan:
    """What one scheduled run does; the config it holds is the one the next scan uses."""

    config_path: str
    config: Config
    stop: threading.Event
    on_config: Callable[[Config], None] = field(default=lambda config: None)
    ruleset: Any = None  # the rules the scans use: kept with the config, replaced only by a good one
    allow_failing_examples: bool = False

    def reload(self, why: str) -> bool:
        """Read the config and rules files again; on an error (or a failing rule example,
        unless allowed) keep the config and rules loaded before."""
        try:
            config = load_config_listing_rules(self.config_path, load_ruleset)
            ruleset = load_ruleset(config)
            examples_gate(ruleset, allow=self.allow_failing_examples, warn=log.warning)
        except ConfigError as exc:
            log.error("%s: the config has an error, so the config loaded before stays in use "
                      "(and the rules loaded with it): %s",
                      why, "; ".join(str(e) for e in exc.errors))
            return False
        config.register_secrets()
        self.config = config
        self.ruleset = ruleset
        setup_logging(config, interactive=False)
        self.on_config(config)
        return True

    def __call__(self) -> None:
        self.reload("before the scan")
        config = self.config
        folder = config.report_folder()
        if folder is not None:
            try:
                check_report(folder, config)
            except ConfigError as exc:
                log.error("the report cannot be written ([report] dir): %s; scanning without it", exc)
                folder = None
        try:
            result = run_scan(config, wait=True, stop=self.stop, ruleset=self.ruleset)
        except CoachError as exc:
            log.error("scheduled scan failed: %s", exc)
            return
        if result.scan_id is None and not result.sources:
            return  # stopped while waiting for the lock: no scan happened, and the last report stands
        if folder is not None:
            write_report(folder, result, config)
        s = result.summary()
        log.info(
            "scheduled scan %s: %d records, %d flagged, %d written, %d deferred, %d failed",
            s["status"], s["records"], s["flagged"], s["written"], s["deferred"], s["failed"],
        )


def cli(args: Any) -> int:
    config = load_config_listing_rules(args.config, load_ruleset)
    config.register_secrets()
    setup_logging(config, interactive=False)
    allow = bool(getattr(args, "allow_failing_examples", False))
    ruleset = load_ruleset(config)
    examples_gate(ruleset, allow=allow, warn=log.warning)  # refused at start: exit 2, as scan
    stop = threading.Event()
    job = ScheduledScan(args.config, config, stop, ruleset=ruleset, allow_failing_examples=allow)
    sched = CoachScheduler(config, job, stop=stop)
    job.on_config = sched.apply

    def on_stop(signum: int, frame: Any) -> None:
        log.info("received %s: stopping after the record in hand", signal.Signals(signum).name)
        # Not in the handler itself: it runs between two steps of the main thread, which
        # may be inside the scheduler's wake-up event holding that event's lock (a plain
        # lock), and shutting down sets the event: the main thread would wait for itself
        # for ever. A thread of its own takes the locks as any other thread does.
        threading.Thread(target=sched.shutdown, name="csi-coach-stop", daemon=True).start()

    def reload() -> None:
        if job.reload("reloading on SIGHUP"):
            log.info("config reloaded from %s", args.config)

    def on_reload(signum: int, frame: Any) -> None:
        log.info("received SIGHUP: reading the config %s again", args.config)
        sched.between_scans(reload)

    handlers = {signal.SIGTERM: on_stop, signal.SIGINT: on_stop, signal.SIGHUP: on_reload}
    old = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        sched.start()
        sched.wait_idle()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    log.info("scheduler stopped")
    return 0
