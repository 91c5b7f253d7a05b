"""csi-coach command line.

    csi-coach scan [--source NAME] [--dry-run] [--summary] [--full] [--report DIR] [--json]
                   [--allow-failing-examples]
    csi-coach run [--allow-failing-examples]
    csi-coach check-config [--connect]
    csi-coach explain --text T | --file F | --ticket SOURCE:KEY
    csi-coach classify --input FILE.jsonl
    csi-coach sandbox [...]
    csi-coach demo

Exit codes (``EXIT_CODES``, printed by ``--help``): 0 clean, 1 some records (or checks)
failed, 2 bad config, state file or usage, 3 another scan holds the lock, 130 stopped at once
(a second Ctrl-C or SIGTERM). This module only parses arguments and converts errors to exit codes (an error's text
scrubbed of secrets, redact.py); each command's work lives in the module named for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from csi_coach import __version__, redact
from csi_coach.config import DEFAULT_CONFIG, default_config_path
from csi_coach.errors import CoachError, ConfigError, ConfigErrors, LockBusy

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Every exit code of every command, shown by `csi-coach --help` (and in the README).
EXIT_CODES = """\
exit codes:
  0    done, nothing left over
  1    something failed that the next run retries: records that failed (scan, classify),
       a source that could not be read, a scan stopped by SIGTERM, a report that could
       not be written; check-config: a rule example fails, or --connect finds a problem
       outside the config file (credentials, permissions, network); explain --ticket:
       the ticket could not be fetched
  2    needs a person: the config, rules, templates, state file or command line is wrong
       (every error found is listed, one line each, naming the file, line and key);
       scan and run: a rule example fails (each named by file and line; see
       --allow-failing-examples)
  3    scan only: another scan holds the scan lock and is doing the work (nothing was
       done; try later); with --json the summary says status "busy"
  130  stopped at once (a second Ctrl-C or SIGTERM while a scan was finishing)

csi-coach run exits 0 after SIGTERM/SIGINT, and 2 when its config or rules cannot be loaded
at start (or a rule example fails).
"""

SCAN_EXIT_CODES = """\
exit codes: 0 clean; 1 some records failed or a source could not be read (retried next
scan), stopped by SIGTERM, or the report not written; 2 the config, rules or state file
needs a person (every config and rules error is listed), or a rule example fails;
3 another scan is running (--json: status "busy"); 130 stopped at once.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line message, as for any bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message}\n")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help=f"config file (default: $CSI_COACH_CONFIG or ./{DEFAULT_CONFIG})",
    )


def _add_allow_failing_examples(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-failing-examples",
        action="store_true",
        help="run rules whose own examples fail (each is logged as a warning); without it such "
             "rules are refused with exit 2 and the failing examples listed",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. Commands that own many options (sandbox, demo) add them from
    their own module, imported only when ``command`` names them: one command's module
    cannot break another's."""
    parser = _Parser(
        prog="csi-coach",
        description="Coach continual-service-improvement records toward service-value goals.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("scan", help="scan the sources once now", description="Scan the configured sources once.",
                       epilog=SCAN_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config(p)
    p.add_argument("--source", metavar="NAME", help="scan only this source")
    p.add_argument("--dry-run", action="store_true", help="write no comment, state, lock or [report] dir; print what would be written (a --report DIR given here is written)")
    p.add_argument("--summary", action="store_true", help="print the summary only, not what each comment would say")
    p.add_argument("--full", action="store_true", help="ignore the watermark and re-read every record")
    p.add_argument("--report", metavar="DIR", help="write report.json and report.html into DIR (default: [report] dir)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    _add_allow_failing_examples(p)
    p.set_defaults(handler="csi_coach.commands.scan:cli")

    p = sub.add_parser("run", help="stay up and scan on the configured schedule",
                       description="Run the scheduler in the foreground. SIGHUP reads the config again (between "
                                   "scans; a broken one keeps the old in use); SIGTERM or SIGINT stops it.",
                       epilog="exit codes: 0 stopped by SIGTERM or SIGINT; 2 the config or rules cannot be loaded "
                              "at start, or a rule example fails.")
    _add_config(p)
    _add_allow_failing_examples(p)
    p.set_defaults(handler="csi_coach.commands.run:cli")

    p = sub.add_parser("check-config", help="validate config, rules (and their examples) and templates; --connect: each source live", description="Validate the config file, the rule set and its examples, and the templates. Exit 0 ready, 1 a rule example (or, with --connect, a source check outside the config file) failed, 2 an error in the config, rules or templates (every error of the config and rules files is listed, one line each).")
    _add_config(p)
    p.add_argument("--connect", action="store_true", help="also log in to each source and check, writing nothing: table or JQL, records in scope, mapped fields, comment read, write permission")
    p.set_defaults(handler="csi_coach.commands.check_config:cli")

    p = sub.add_parser("explain", help="show the verdict, evidence and comment for a text or ticket", description="Show the verdict, its evidence, and the exact comment that would be written.")
    _add_config(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", metavar="T", help="goal text to judge")
    src.add_argument("--file", metavar="F", help="a file holding the text, or a JSON record (eval format)")
    src.add_argument("--ticket", metavar="SOURCE:KEY", help="a live ticket from a configured source")
    p.add_argument("--rules", metavar="PATH", help="rules file (default: the config's, else the shipped default)")
    p.add_argument("--target", choices=["servicenow", "jira"], default=None, help="markup of the comment (default: the source's, else servicenow)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler="csi_coach.commands.explain:cli")

    p = sub.add_parser("classify", help="classify JSONL records (eval format in, one JSON line out each)", description="Read JSONL records, print one JSON verdict line per record, in order.")
    _add_config(p)
    p.add_argument("--input", metavar="FILE.jsonl", required=True, help="records, one JSON object per line ('-' for stdin)")
    p.add_argument("--rules", metavar="PATH", help="rules file (default: the config's, else the shipped default)")
    p.set_defaults(handler="csi_coach.commands.classify:cli")

    p = sub.add_parser("disputes", help="owners' replies disputing a comment (table, JSON, or JSONL for classify/explain)",
                       description="List the disputes owners replied with (source, record, rules, evidence, reason).")
    _add_config(p)
    p.set_defaults(handler="csi_coach.commands.disputes:cli")
    if command == "disputes":
        _resolve("csi_coach.commands.disputes:add_arguments")(p)

    p = sub.add_parser("sandbox", help="serve local ServiceNow and Jira on loopback", description="Serve seeded local ServiceNow and Jira servers until interrupted.")
    p.set_defaults(handler="csi_coach.sandbox.cli:cli")
    if command == "sandbox":
        _resolve("csi_coach.sandbox.cli:add_arguments")(p)

    p = sub.add_parser("demo", help="sandbox + a scan with the example config", description="Start the sandbox on free ports, scan it with config.example.toml, and show what was written.")
    p.set_defaults(handler="csi_coach.commands.demo:cli")
    if command == "demo":
        _resolve("csi_coach.commands.demo:add_arguments")(p)

    return parser


def _resolve(spec: str) -> Callable:
    module_name, _, attr = spec.partition(":")
    module = __import__(module_name, fromlist=[attr])
    return getattr(module, attr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The command is the first word that is not an option (the global options, -h and
    # --version, take no value).
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if getattr(args, "config", "unset") is None:
        args.config = default_config_path()
    try:
        code = _resolve(args.handler)(args)
    except ConfigError as exc:  # one line per error (ConfigErrors: every one found), each located
        for error in exc.errors:
            print(f"csi-coach: config error: {redact.scrub(str(error))}", file=sys.stderr)
        if isinstance(exc, ConfigErrors):
            print(f"csi-coach: {len(exc.errors)} config errors; fix them and run check-config again", file=sys.stderr)
        return EXIT_CONFIG
    except LockBusy as exc:  # not a failure: the other scan does the work; a scheduler may retry
        print(f"csi-coach: {redact.scrub(str(exc))}", file=sys.stderr)
        return EXIT_BUSY
    except CoachError as exc:
        print(f"csi-coach: error: {redact.scrub(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("csi-coach: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
