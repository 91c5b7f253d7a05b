"""``csi-coach scan``: one scan of every configured source (or one, ``--source``).

This module wires the pieces together and owns the edges: the config, the state
lock, signals, logging, the progress line and the output. The work on one source
lives in ``pipeline.SourceScan``.

Exit codes: 0 clean, 1 some records failed (or a source could not be read, or the
scan was interrupted), 2 bad config (raised as ConfigError, turned into 2 by bot.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, TextIO

import logsetup
from config import Config, SourceSettings, load_config
from errors import CoachError, ConfigError
from locking import ScanLock
from pipeline import SourceResult, SourceScan, WriteBudget, WriteTask
from state import StateStore

log = logging.getLogger("csi_coach.scan")

OVERLAP = timedelta(minutes=10)  # re-read the last minutes: clocks drift, commits land late


@dataclass
class ScanResult:
    sources: list[SourceResult] = field(default_factory=list)
    dry_run: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    ended: datetime | None = None
    scan_id: int | None = None
    ruleset: str = ""
    state_path: str = ""
    interrupted: bool = False

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sources)

    @property
    def status(self) -> str:
        if self.interrupted or any(s.status == "interrupted" for s in self.sources):
            return "interrupted"
        if any(s.status == "failed" for s in self.sources):
            return "failed"
        if self.total("failed"):
            return "partial"
        return "ok"

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "ok" else 1

    def summary(self) -> dict[str, Any]:
        """The JSON object ``scan --json`` prints as its last line."""
        return {
            "status": self.status,
            "dry_run": self.dry_run,
            "records": self.total("records"),
            "flagged": self.total("flagged"),
            "written": self.total("written"),
            "deferred": self.total("deferred"),
            "failed": self.total("failed"),
            "skipped": self.total("skipped"),
            "sources": {s.name: s.counts() for s in self.sources},
            "started": self.started.isoformat(timespec="seconds"),
            "ended": self.ended.isoformat(timespec="seconds") if self.ended else None,
            "scan_id": self.scan_id,
            "ruleset": self.ruleset,
            "state": self.state_path,
        }


# --- loading what a scan needs ------------------------------------------------------


def load_ruleset(config: Config):
    import rules

    spec = config.rules
    candidate = config.resolve(spec)
    return rules.load_ruleset(candidate if spec != "default" and candidate.exists() else spec)


def make_renderer(config: Config):
    import render

    return render.Renderer.from_config(config)


def templates_fingerprint(config: Config) -> str:
    """A hash of every template file in use, so edited templates trigger a full scan."""
    import templates

    digest = hashlib.sha256()
    folders = [Path(templates.__file__).parent]
    if config.templates_dir.strip():
        folders.append(config.resolve(config.templates_dir))
    for folder in folders:
        for path in sorted(folder.rglob("*.j2")):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def state_path(config: Config) -> Path:
    return config.resolve(config.state.path)


def _open_connector(settings: SourceSettings, limiters: Any):
    import connectors

    return connectors.open_connector(settings, limiters=limiters)


def _new_limiters() -> Any:
    from connectors.transport import Limiters

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
        import rules

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

    lock = None if dry_run else ScanLock(path, wait=wait).acquire()
    try:
        store = StateStore.open_readonly_or_empty(path) if dry_run else StateStore(path)
        with store:
            if not dry_run:
                result.scan_id = store.begin_scan([s.name for s in sources], version)
            budget = WriteBudget(config.comments.max_writes_per_run)
            limiters = _new_limiters() if open_connector is _open_connector else None
            for settings in sources:
                if stop.is_set():
                    result.interrupted = True
                    break
                result.sources.append(
                    _scan_source(
                        settings, config, store, evaluate, renderer, fingerprint, budget,
                        full=full, dry_run=dry_run, stop=stop, overlap=overlap, limiters=limiters,
                        open_connector=open_connector, on_progress=on_progress, on_dry_write=on_dry_write,
                    )
                )
            result.ended = datetime.now(timezone.utc)
            if not dry_run and result.scan_id is not None:
                counts = {k: v for k, v in result.summary().items() if k in ("records", "flagged", "written", "deferred", "failed", "skipped", "sources")}
                store.end_scan(result.scan_id, result.status, counts)
    finally:
        if lock is not None:
            lock.release()
    return result


def _scan_source(settings, config, store, evaluate, renderer, fingerprint, budget, *, full, dry_run, stop,
                 overlap, limiters, open_connector, on_progress, on_dry_write) -> SourceResult:
    try:
        connector = open_connector(settings, limiters)
    except ConfigError:
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
        except CoachError as exc:  # settling or state trouble: this source fails, others go on
            log.error("%s: scan failed: %s", settings.name, exc)
            scan.result.status = "failed"
            scan.result.error = str(exc)
            return scan.result


# --- the command ----------------------------------------------------------------------


class ProgressLine:
    """One self-rewriting line on a terminal: records scanned, flagged, written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = 0.0

    def __call__(self, r: SourceResult) -> None:
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self.stream.write(
            f"\r\033[K{r.name}: {r.records} records scanned, {r.flagged} flagged, "
            f"{r.written} written, {r.failed} failed"
        )
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()


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
    its state and exits. A second signal stops at once."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        log.warning("received %s: finishing the record in hand, then stopping", signal.Signals(signum).name)
        self.stop.set()

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def setup_logging(config: Config, *, interactive: bool | None = None) -> None:
    log_file = config.resolve(config.logging.file) if config.logging.file.strip() else None
    logsetup.configure(config.logging, log_file=log_file, interactive=interactive)


def cli(args) -> int:
    import report

    config = load_config(args.config)
    interactive = sys.stderr.isatty()
    setup_logging(config, interactive=interactive)
    progress = ProgressLine(sys.stderr) if interactive else None
    stop = threading.Event()
    out = sys.stdout
    with StopOnSignal(stop):
        result = run_scan(
            config,
            source=getattr(args, "source", None),
            dry_run=bool(getattr(args, "dry_run", False)),
            full=bool(getattr(args, "full", False)),
            wait=bool(getattr(args, "wait", False)),
            stop=stop,
            on_progress=progress,
            on_dry_write=print_dry_write(out),
        )
    if progress is not None:
        progress.clear()
    report_dir = getattr(args, "report", None)
    if report_dir:
        paths = report.write_report(Path(report_dir), result, make_renderer(config))
        log.info("report written to %s", ", ".join(str(p) for p in paths))
    if getattr(args, "json", False):
        out.write(json.dumps(result.summary(), sort_keys=True) + "\n")
    else:
        out.write(report.summary_text(result, report_dir=report_dir))
    out.flush()
    return result.exit_code
