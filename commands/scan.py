"""``csi-coach scan``: the command around ``scan.runner.run_scan``: config, secrets,
the report folder (``--report DIR``, else ``[report] dir``) checked before the scan and
written after it, signals, the progress line and the summary (text, or one JSON line
with ``--json``).

Exit codes: 0 clean; 1 some records failed (or a source could not be read, or the
scan was interrupted by SIGTERM, or the report could not be written): the next scan
retries; 2 the config or the state file is wrong (corrupt, unreadable, read-only,
locked by another process), which needs a person; 3 another scan holds the scan lock
(it does the work; try later). With ``--json`` the summary line is printed on every
exit path, its ``status`` saying what happened (``ok``, ``partial``, ``failed``,
``interrupted``, ``state_error``, ``config_error``, ``busy``, ``error``) and ``error`` why.

What a dry run (``--dry-run``) writes: its output (stdout; the log where ``[logging]``
says) and, only when ``--report DIR`` is on its command line, that report (marked as a
dry run). Nothing else: no comment, no state file, no lock file, no folder, and never
the ``[report] dir`` the managers read. ``--summary`` leaves out what each comment
would say.

Before anything is read: every error of the config and rules files, listed together
(exit 2), and the rules' own examples (commands/config_gate.py): a rule set whose
examples fail is not run (exit 2, each failing example named by file and line) unless
``--allow-failing-examples``, which runs it with a warning per failing example.

Every secret the config names is handed to the scrubber (redact.py) before anything
is read, and everything printed here passes through it: a server that echoes a
credential in an error body does not get it onto the terminal or into ``--json``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

from csi_coach import redact
from csi_coach.commands.config_gate import examples_gate, load_config_listing_rules
from csi_coach.commands.connect_check import preflight
from csi_coach.config import Config
from csi_coach.errors import CoachError, ConfigError, LockBusy
from csi_coach.report import writer as report
from csi_coach.scan.result import ScanResult
from csi_coach.scan.runner import (
    ProgressLine,
    StopOnSignal,
    load_ruleset,
    make_renderer,
    print_dry_write,
    run_scan,
    setup_logging,
)

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
    """Before the scan: the folder can take the report and the report template renders.
    A folder from ``[report] dir`` that cannot is a config error naming that key."""
    try:
        report.check_folder(folder)
    except ConfigError as exc:
        if config.report_folder() != folder:
            raise  # --report: the error names the flag
        from csi_coach.tomlpos import find_line

        try:
            line = find_line(config.path.read_text(encoding="utf-8"), "report.dir")
        except OSError:
            line = None
        raise ConfigError(f"{folder}: {exc.message}", file=str(config.path), key="report.dir", line=line,
                          got=config.report.dir, has_got=True, expected=exc.expected) from None
    report.render_html(ScanResult(), make_renderer(config))


def report_folder(args, config: Config, dry_run: bool) -> tuple[Path | None, str]:
    """Where this scan writes its report, and a note when a configured one is left alone."""
    flag = getattr(args, "report", None)
    if flag:
        return Path(flag), ""
    folder = config.report_folder()
    if folder is not None and dry_run:
        return None, (f"Report: not written to {folder} ([report] dir): a dry run writes a report "
                      "only to a --report DIR given on its command line\n")
    return folder, ""


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
    """The scan command; errors raised here reach bot.py (which turns them into the exit code
    and the stderr line) after the ``--json`` line has said what happened."""
    try:
        return _scan(args)
    except (CoachError, KeyboardInterrupt) as exc:
        if getattr(args, "json", False):
            status = ("config_error" if isinstance(exc, ConfigError) else "busy" if isinstance(exc, LockBusy)
                      else "interrupted" if isinstance(exc, KeyboardInterrupt) else "error")
            failed = ScanResult(dry_run=bool(getattr(args, "dry_run", False)), problem=status,
                                error=str(exc) or type(exc).__name__)
            sys.stdout.write(json.dumps(report.for_output(failed.summary()), sort_keys=True) + "\n")
            sys.stdout.flush()
        raise


def _scan(args) -> int:
    config = load_config_listing_rules(args.config, load_ruleset)  # every error of both files at once
    config.register_secrets()
    interactive = sys.stderr.isatty()
    setup_logging(config, interactive=interactive)
    ruleset = load_ruleset(config)
    examples_gate(ruleset, allow=bool(getattr(args, "allow_failing_examples", False)), warn=log.warning)
    source = getattr(args, "source", None)
    dry_run = bool(getattr(args, "dry_run", False))
    check_secrets(config, source)
    folder, report_note = report_folder(args, config, dry_run)
    if folder is not None:
        check_report(folder, config)
    progress = ProgressLine(sys.stderr) if interactive else None
    stop = threading.Event()
    out = sys.stdout
    if dry_run:  # first the live checks of check-config --connect, printed (commands/connect_check.py)
        preflight(config, source=source, out=out)
    with StopOnSignal(stop):
        try:
            result = run_scan(  # a broken state file comes back as status state_error, exit 2
                config, source=source, dry_run=dry_run, ruleset=ruleset,
                full=bool(getattr(args, "full", False)), wait=bool(getattr(args, "wait", False)),
                stop=stop, on_progress=progress,
                on_dry_write=None if getattr(args, "summary", False) else print_dry_write(out),
            )
        finally:
            if progress is not None:
                progress.clear()
    report_error = write_report(folder, result, config) if folder is not None else None
    if getattr(args, "json", False):
        summary = result.summary()
        if folder is not None:
            summary["report"] = {"folder": str(folder), "error": report_error}
        out.write(json.dumps(report.for_output(summary), sort_keys=True) + "\n")
    else:
        out.write(report.summary_text(result, report_dir=None if report_error or folder is None else str(folder)))
        if report_error:
            out.write(f"Report: not written: {redact.scrub(report_error)}\n")
        out.write(report_note)
    if result.error:
        sys.stderr.write(f"csi-coach: {result.status.replace('_', ' ')}: {redact.scrub(result.error)}\n")
    out.flush()
    return max(result.exit_code, 1 if report_error else 0)
