"""One scan of every configured source (or one): ``run_scan``.

This module wires the pieces together: the rule set and templates, the state lock
(waited for, with a log line, when the caller asks to wait: ``run``'s ticks), the
connectors, the write budgets (each source's own within the one they share), and the
pieces the commands use around a scan (logging, signals, the progress line). The work on one source
lives in ``pipeline.SourceScan``; the ``scan`` command is ``commands.scan``.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from csi_coach import logsetup
from csi_coach.config import Config, SourceSettings
from csi_coach.errors import CoachError, ConfigError, LockBusy, StateError
from csi_coach.scan.budget import source_budgets
from csi_coach.scan.disputes import rate_by_rule
from csi_coach.scan.locking import ScanLock
from csi_coach.scan.pipeline import SourceResult, SourceScan, WriteTask
from csi_coach.scan.progress import ScanProgress
from csi_coach.scan.result import ScanResult, source_totals
from csi_coach.scan.state import StateStore

log = logging.getLogger("csi_coach.scan")

OVERLAP = timedelta(minutes=10)  # re-read the last minutes: clocks drift, commits land late
LOCK_POLL_SECONDS = 1.0  # a scan waiting for the lock looks at its stop request this often
LOCK_NOTE_SECONDS = 600.0  # and says it is still waiting this often
# --- loading what a scan needs ------------------------------------------------------


def load_ruleset(config: Config):
    from csi_coach import rules

    spec = config.rules
    candidate = config.resolve(spec)
    return rules.load_ruleset(candidate if spec != "default" and candidate.exists() else spec)


def make_renderer(config: Config):
    from csi_coach import render

    return render.Renderer.from_config(config)


def templates_fingerprint(config: Config) -> str:
    """A hash of every template file in use, so edited templates trigger a full scan."""
    from csi_coach import templates

    digest = hashlib.sha256()
    folders = [Path(templates.__file__).parent]
    if config.templates_dir.strip():
        folders.append(config.resolve(config.templates_dir))
    for folder in folders:
        for path in sorted(folder.rglob("*.j2")):
            digest.update(str(path.relative_to(folder)).encode())
            try:
                digest.update(path.read_bytes())
            except OSError as exc:
                raise ConfigError(f"cannot read the template: {exc.strerror or exc}", file=str(path),
                                  expected="a readable template file") from None
    return digest.hexdigest()[:16]


def state_path(config: Config) -> Path:
    return config.resolve(config.state.path)


def _open_connector(settings: SourceSettings, limiters: Any):
    from csi_coach import connectors

    return connectors.open_connector(settings, limiters=limiters)


def _new_limiters() -> Any:
    from csi_coach.connectors.transport import Limiters

    return Limiters()


# --- the scan -----------------------------------------------------------------------


def run_scan(
    config: Config,
    *,
    source: str | None = None,
    dry_run: bool = False,
    full: bool = False,
    wait: bool = False,
    stop: threading.Event | None = None,
    ruleset: Any = None,
    renderer: Any = None,
    open_connector: Callable[[SourceSettings, Any], Any] | None = None,
    evaluate: Callable | None = None,
    fingerprint: str | None = None,
    on_progress: Callable[[SourceResult], None] | None = None,
    on_dry_write: Callable[[WriteTask], None] | None = None,
    overlap: timedelta = OVERLAP,
) -> ScanResult:
    """Scan the sources once. Everything but ``config`` may be injected (tests, demo)."""
    sources = (config.source(source),) if source else config.sources
    if not sources:
        raise ConfigError("no sources configured", file=str(config.path), key="sources",
                          expected="at least one [sources.NAME] table")
    if ruleset is None and evaluate is None:
        ruleset = load_ruleset(config)
    if evaluate is None:
        from csi_coach import rules

        def evaluate(record, _rs=ruleset):
            return rules.evaluate(record, _rs)

    if renderer is None:
        renderer = make_renderer(config)
    version = getattr(ruleset, "version", "") if ruleset is not None else ""
    if fingerprint is None:
        fingerprint = f"{version}:{templates_fingerprint(config)}"
    open_connector = open_connector or _open_connector
    stop = stop or threading.Event()
    path = state_path(config)
    result = ScanResult(dry_run=dry_run, ruleset=version, state_path=str(path))

    try:
        lock = None if dry_run else _take_lock(path, wait=wait, stop=stop)
    except OSError as exc:  # the state file's folder cannot be created or written
        raise ConfigError(
            f"cannot create the scan lock beside the state file {path}: {exc.strerror or exc}",
            file=str(config.path), key="state.path", got=config.state.path, has_got=True,
            expected="a file in a folder this user can create files in",
        ) from None
    if lock is None and not dry_run:  # stopped while waiting for another scan: nothing was done
        result.interrupted = True
        result.ended = datetime.now(UTC)
        return result
    try:
        store = StateStore.open_readonly_or_empty(path) if dry_run else StateStore(path, history_days=config.state.history_days)
        with store:
            if not dry_run:
                result.scan_id = store.begin_scan([s.name for s in sources], version)
            budgets = source_budgets([(s.name, s.max_writes_per_run) for s in sources],
                                     config.comments.max_writes_per_run)
            limiters = _new_limiters() if open_connector is _open_connector else None
            if limiters is not None:
                limiters.stop = stop  # a stop request ends every retry and rate-limit wait at once
            for settings in sources:
                if stop.is_set():
                    result.interrupted = True
                    break
                expect = getattr(on_progress, "expect", None)
                if expect is not None:  # a progress bar's estimate of a full pass: the records known
                    expect(settings.name, store.record_totals(settings.name)[0])
                result.sources.append(
                    _scan_source(
                        settings, config, store, evaluate, renderer, fingerprint, budgets[settings.name],
                        full=full, dry_run=dry_run, stop=stop, overlap=overlap, limiters=limiters,
                        open_connector=open_connector, on_progress=on_progress, on_dry_write=on_dry_write,
                    )
                )
                _note_totals(result, store, settings.name)
            result.ended = datetime.now(UTC)
            if not dry_run and result.scan_id is not None:
                store.end_scan(result.scan_id, result.status, result.stored_counts())
    except (StateError, sqlite3.Error) as exc:
        # corrupt, unreadable, read-only, immutable, locked by another process, disk full:
        # no later scan fixes that by itself, and going on could write comments it cannot record
        message = str(exc) if isinstance(exc, StateError) else f"state file {path}: {exc}"
        log.error("%s; the scan stopped (nothing more is written until the state file is fixed)", message)
        result.problem, result.error = "state_error", message
        result.ended = datetime.now(UTC)
    finally:
        if lock is not None:
            lock.release()
    return result


def _take_lock(path: Path, *, wait: bool, stop: threading.Event) -> ScanLock | None:
    """The scan lock. Not waiting: LockBusy when another scan holds it (``scan``'s exit 3).
    Waiting (``run``'s ticks): says so in the log, with who holds it, then again every
    LOCK_NOTE_SECONDS, and once it has the lock; None when a stop request comes first."""
    try:
        return ScanLock(path).acquire()
    except LockBusy as busy:
        if not wait:
            raise
        log.info("%s; this scan waits for it to finish", str(busy).split(";")[0])
    started = last_note = time.monotonic()
    while not stop.is_set():
        try:
            lock = ScanLock(path, wait=True, timeout=LOCK_POLL_SECONDS).acquire()
        except LockBusy:
            if time.monotonic() - last_note >= LOCK_NOTE_SECONDS:
                last_note = time.monotonic()
                log.info("still waiting for the scan lock (%.0f s so far)", last_note - started)
            continue
        log.info("the other scan finished; scanning now, after waiting %.0f s for the lock", time.monotonic() - started)
        return lock
    log.info("stopped while waiting for the scan lock; this scan is skipped")
    return None


def _note_totals(result: ScanResult, store: StateStore, name: str) -> None:
    """Estate-wide figures for the report; a state file that cannot answer costs the
    report its totals, never the scan."""
    try:
        result.estate[name] = source_totals(store, name)
        result.disputes_by_rule = [d.to_dict() for d in rate_by_rule(store)]
    except (CoachError, sqlite3.Error) as exc:
        log.warning("%s: cannot read the totals from the state file: %s", name, exc)


def _scan_source(settings, config, store, evaluate, renderer, fingerprint, budget, *, full, dry_run, stop,
                 overlap, limiters, open_connector, on_progress, on_dry_write) -> SourceResult:
    try:
        connector = open_connector(settings, limiters)
    except (ConfigError, StateError):
        raise
    except CoachError as exc:
        log.error("%s: cannot connect: %s", settings.name, exc)
        return SourceResult(settings.name, type=settings.type, status="failed", error=str(exc))
    with connector:
        scan = SourceScan(
            connector, store=store, evaluate=evaluate, renderer=renderer, policy=config.comments,
            fingerprint=fingerprint, budget=budget, full=full, dry_run=dry_run, overlap=overlap,
            stop=stop, on_progress=on_progress, on_dry_write=on_dry_write, source_type=settings.type,
        )
        try:
            return scan.run()
        except StateError:
            raise  # the state file, not this source: the whole scan stops
        except CoachError as exc:  # settling trouble: this source fails, others go on
            log.error("%s: scan failed: %s", settings.name, exc)
            scan.result.status = "failed"
            scan.result.error = str(exc)
            return scan.result


# --- the command ----------------------------------------------------------------------


# The commands' name for the progress bar (scan/progress.py).
ProgressLine = ScanProgress


def print_dry_write(out: TextIO) -> Callable[[WriteTask], None]:
    def show(task: WriteTask) -> None:
        a = task.action
        out.write(f"would {a.kind.value} on {task.record.source}:{task.record.number} ({a.reason})\n")
        for line in task.body.splitlines():
            out.write(f"    {line}\n")
        out.write("\n")

    return show


class StopOnSignal:
    """SIGTERM / SIGINT set ``stop``: the scan finishes the record in hand, records
    its state and exits. The pipeline checks it after every record (so between pages)
    and the transport's retry and rate-limit waits end on it, so a scan paging a broken
    server stops within one request's timeout. A second signal stops at once."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        log.warning("received %s: finishing the record in hand, then stopping", signal.Signals(signum).name)
        self.stop.set()

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def setup_logging(config: Config, *, interactive: bool | None = None) -> None:
    log_file = config.resolve(config.logging.file) if config.logging.file.strip() else None
    logsetup.configure(config.logging, log_file=log_file, interactive=interactive, config_file=str(config.path))


