"""``csi-coach scan``: the command around ``scan.runner.run_scan``: config, secrets,
the report folder checked before the scan and written after it, signals, the
progress line and the summary (text, or one JSON line with ``--json``).

Exit codes: 0 clean, 1 some records failed (or a source could not be read, or the
scan was interrupted), 2 bad config (raised as ConfigError, turned into 2 by bot.py).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import threading
from pathlib import Path

from csi_coach.config import Config, load_config
from csi_coach.errors import CoachError, ConfigError
from csi_coach.report import writer as report
from csi_coach.scan.result import ScanResult
from csi_coach.scan.runner import ProgressLine, StopOnSignal, make_renderer, print_dry_write, run_scan, setup_logging, state_path

log = logging.getLogger("csi_coach.scan")


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
    report.check_folder(folder)
    report.render_html(ScanResult(), make_renderer(config))


def write_report(folder: Path, result: ScanResult, config: Config) -> str | None:
    """Write the report after the scan; an error is logged and returned, never raised:
    the scan happened and its state is kept whatever becomes of the report."""
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
