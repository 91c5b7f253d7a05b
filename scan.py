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
import sqlite3
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
# A record whose last reads failed this many scans in a row is listed as failing
# repeatedly (from the state file), beside the records that failed this scan.
REPEATED = 2
LIST_CAP = 500  # entries per list in the summary and report, so huge estates stay small


@dataclass(frozen=True)
class SourceTotals:
    """What the state file knows about one source after the scan: every record any
    scan has read, not only the ones this scan read."""

    records: int = 0
    flagged: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    failing: int = 0  # records whose latest read failed
    repeated: tuple[dict[str, Any], ...] = ()  # failed REPEATED+ scans in a row, longest streak first

    def as_dict(self) -> dict[str, Any]:
        """The figures; the list of repeated failures is given beside them."""
        return {
            "records": self.records,
            "flagged": self.flagged,
            "categories": dict(sorted(self.categories.items())),
            "failing": self.failing,
        }


def source_totals(store: StateStore, name: str) -> SourceTotals:
    records, flagged = store.record_totals(name)
    failing = store.failing_records(name)
    repeated = sorted((r for r in failing if r.failures >= REPEATED), key=lambda r: (-r.failures, r.key))
    return SourceTotals(
        records=records, flagged=flagged, categories=store.category_counts(name), failing=len(failing),
        repeated=tuple(
            {"key": r.key, "number": r.number, "failures": r.failures, "error": r.last_error}
            for r in repeated[:LIST_CAP]
        ),
    )


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
    estate: dict[str, SourceTotals] = field(default_factory=dict)  # from the state file, per source

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
            "sources": {s.name: self._source_summary(s) for s in self.sources},
            "started": self.started.isoformat(timespec="seconds"),
            "ended": self.ended.isoformat(timespec="seconds") if self.ended else None,
            "scan_id": self.scan_id,
            "ruleset": self.ruleset,
            "state": self.state_path,
        }

    def _source_summary(self, s: SourceResult) -> dict[str, Any]:
        totals = self.estate.get(s.name)
        return {
            **s.counts(),
            "failures": s.failures[:LIST_CAP],  # this scan: key, number, error
            # from the state file: records failing scan after scan (key, number, failures, error)
            "failing_in_a_row": list(totals.repeated) if totals else [],
            "estate": totals.as_dict() if totals else None,
        }

    def stored_counts(self) -> dict[str, Any]:
        """The counts kept in the state file's scans table (no record lists)."""
        keep = ("records", "flagged", "written", "deferred", "failed", "skipped")
        return {k: self.total(k) for k in keep} | {"sources": {s.name: s.counts() for s in self.sources}}


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
            try:
                digest.update(path.read_bytes())
            except OSError as exc:
                raise ConfigError(f"cannot read the template: {exc.strerror or exc}", file=str(path),
                                  expected="a readable template file") from None
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

    try:
        lock = None if dry_run else ScanLock(path, wait=wait).acquire()
    except OSError as exc:  # the state file's folder cannot be created or written
        raise ConfigError(
            f"cannot create the scan lock beside the state file {path}: {exc.strerror or exc}",
            file=str(config.path), key="state.path", got=config.state.path, has_got=True,
            expected="a file in a folder this user can create files in",
        ) from None
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
                _note_totals(result, store, settings.name)
            result.ended = datetime.now(timezone.utc)
            if not dry_run and result.scan_id is not None:
                store.end_scan(result.scan_id, result.status, result.stored_counts())
    finally:
        if lock is not None:
            lock.release()
    return result


def _note_totals(result: ScanResult, store: StateStore, name: str) -> None:
    """Estate-wide figures for the report; a state file that cannot answer costs the
    report its totals, never the scan."""
    try:
        result.estate[name] = source_totals(store, name)
    except (CoachError, sqlite3.Error) as exc:
        log.warning("%s: cannot read the totals from the state file: %s", name, exc)


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
    logsetup.configure(config.logging, log_file=log_file, interactive=interactive, config_file=str(config.path))


def check_secrets(config: Config, source: str | None = None) -> None:
    """Every variable the scanned sources name must be set before the first source is
    read: found missing at the second source's turn, it would stop the scan after the
    first one had written its comments."""
    from dataclasses import fields

    for settings in (config.source(source),) if source else config.sources:
        for attr in (f.name for f in fields(settings.auth) if f.name.endswith("_env")):
            if getattr(settings.auth, attr):
                settings.auth.secret(attr[: -len("_env")], file=str(config.path),
                                     key=f"sources.{settings.name}.auth.{attr}")


def check_report(folder: Path, config: Config) -> None:
    """Before the scan: the folder can take the report and the report template renders."""
    import report

    report.check_folder(folder)
    report.render_html(ScanResult(), make_renderer(config))


def write_report(folder: Path, result: ScanResult, config: Config) -> str | None:
    """Write the report after the scan; an error is logged and returned, never raised:
    the scan happened and its state is kept whatever becomes of the report."""
    import report

    try:
        paths = report.write_report(folder, result, make_renderer(config))
    except OSError as exc:
        error = f"cannot write the report to {folder}: {exc.strerror or exc}"
    except ConfigError as exc:
        error = f"cannot render the report: {exc}"
    else:
        log.info("report written to %s", ", ".join(str(p) for p in paths))
        return None
    log.error("%s (the scan itself finished and its state is saved)", error)
    return error


def cli(args) -> int:
    import report

    config = load_config(args.config)
    interactive = sys.stderr.isatty()
    setup_logging(config, interactive=interactive)
    source = getattr(args, "source", None)
    dry_run = bool(getattr(args, "dry_run", False))
    check_secrets(config, source)
    report_dir = getattr(args, "report", None)
    folder = Path(report_dir) if report_dir else None
    if folder is not None:
        check_report(folder, config)
    progress = ProgressLine(sys.stderr) if interactive else None
    stop = threading.Event()
    out = sys.stdout
    with StopOnSignal(stop):
        try:
            result = run_scan(
                config, source=source, dry_run=dry_run,
                full=bool(getattr(args, "full", False)), wait=bool(getattr(args, "wait", False)),
                stop=stop, on_progress=progress, on_dry_write=print_dry_write(out),
            )
        except sqlite3.Error as exc:  # the state file broke under the scan (disk full, I/O error)
            raise CoachError(f"state file {state_path(config)}: {exc}") from None
        finally:
            if progress is not None:
                progress.clear()
    report_error = write_report(folder, result, config) if folder is not None else None
    if getattr(args, "json", False):
        summary = result.summary()
        if folder is not None:
            summary["report"] = {"folder": str(folder), "error": report_error}
        out.write(json.dumps(summary, sort_keys=True) + "\n")
    else:
        out.write(report.summary_text(result, report_dir=None if report_error else report_dir))
        if report_error:
            out.write(f"Report: not written: {report_error}\n")
    out.flush()
    return max(result.exit_code, 1 if report_error else 0)
