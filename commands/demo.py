"""``csi-coach demo``: see the bot work end to end in one command, nothing to set up.

Starts the local ServiceNow and Jira sandboxes on free loopback ports, writes a
copy of ``config.example.toml`` pointing at them (state in a temporary folder or
``--state-dir``), runs a real scan in this process, then shows what happened:
records per category, comments written, and a few comments exactly as they now
read on the tickets (fetched back from the sandbox).

The sandboxes speak HTTPS, as real instances do, with a throwaway CA whose
certificate the config copy trusts through ``ca_bundle``: the demo runs the same
certificate checks a production scan does. Without ``trustme`` (the ``sandbox``
extra, which ./dev installs) they speak plain HTTP and the demo says so.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import requests

from csi_coach.errors import CoachError
from csi_coach.report.writer import CATEGORY_LABELS

# The example config is package data at the package root, beside bot.py.
EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
SNOW_PORT, JIRA_PORT = 8801, 8802


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=60, metavar="N", help="records per system (default 60)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the generated records (default 7)")
    parser.add_argument("--state-dir", metavar="DIR", help="keep the state file and report here (default: a new temporary folder)")
    parser.add_argument("--keep-running", action="store_true", help="keep the sandboxes up afterwards, to look around or scan again")
    parser.add_argument("--show", type=int, default=3, metavar="N", help="comments to show as written (default 3)")


def demo_config_text(example: str, *, snow_url: str, jira_url: str, state_file: Path,
                     ca_bundle: Path | None = None) -> str:
    """config.example.toml with the sandbox's real URLs and a private state file; with
    ``ca_bundle`` (an HTTPS sandbox's CA certificate) every source trusts that CA."""
    text = example.replace(f"http://127.0.0.1:{SNOW_PORT}", snow_url).replace(f"http://127.0.0.1:{JIRA_PORT}", jira_url)
    text, n = re.subn(r'(?m)^(\[state\][^\[]*?^path\s*=\s*)"[^"]*"', lambda m: m.group(1) + _toml_str(str(state_file)), text)
    if n != 1:
        raise CoachError("config.example.toml has no [state] path to point at the demo's folder")
    if ca_bundle is not None:
        sources = len(re.findall(r"(?m)^\[sources\.[^.\]]+\]", text))
        text, n = re.subn(r'(?m)^ca_bundle\s*=\s*""', lambda m: "ca_bundle = " + _toml_str(str(ca_bundle)), text)
        if n != sources:
            raise CoachError(f'config.example.toml has {n} ca_bundle = "" line(s) for {sources} source(s)')
    return text


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cli(args: Any) -> int:
    from csi_coach.config import load_config
    from csi_coach.report import writer as report
    from csi_coach.sandbox.cli import start_sandbox
    from csi_coach.sandbox.tls import CA_FILE_NAME, tls_available
    from csi_coach.scan.runner import ProgressLine, make_renderer, run_scan, setup_logging

    folder = Path(args.state_dir).expanduser().resolve() if args.state_dir else Path(tempfile.mkdtemp(prefix="csi-coach-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    out = sys.stdout
    tls = tls_available()
    how = "over HTTPS, with a throwaway CA" if tls else "over plain HTTP"
    out.write(f"Starting local ServiceNow and Jira sandboxes {how}, {args.records} records each ...\n")
    if not tls:
        out.write("  (trustme is not installed: pip install 'csi-coach[sandbox]' for the HTTPS sandboxes)\n")
    out.flush()
    # The CA certificate goes beside the config copy that trusts it (its key never leaves memory).
    pair = start_sandbox("127.0.0.1", 0, 0, "cloud", args.records, args.seed, None,
                         tls=tls, ca_file=folder / CA_FILE_NAME if tls else None)
    try:
        info = pair.info()
        os.environ.update(info["env"])
        config_path = folder / "config.toml"
        config_path.write_text(
            demo_config_text(
                EXAMPLE.read_text(encoding="utf-8"),
                snow_url=info["servicenow"]["url"], jira_url=info["jira"]["url"],
                state_file=folder / "csi-coach.sqlite", ca_bundle=pair.ca_file,
            ),
            encoding="utf-8",
        )
        config = load_config(config_path)
        setup_logging(config, interactive=True)  # warnings only on the console
        progress = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
        out.write(f"Scanning them with {EXAMPLE.name} (a copy pointing at the sandboxes) ...\n\n")
        out.flush()
        result = run_scan(config, on_progress=progress)
        if progress is not None:
            progress.clear()
        report_dir = folder / "report"
        report.write_report(report_dir, result, make_renderer(config))
        out.write(render_summary(result, info, args.show))
        out.write(
            "\nWhere things went:\n"
            f"  state (SQLite)  {folder / 'csi-coach.sqlite'}\n"
            f"  report          {report_dir / 'report.html'}  (and report.json)\n"
            f"  config used     {config_path}\n"
            + (f"  sandbox CA      {pair.ca_file}  (the config's ca_bundle)\n" if pair.ca_file else "")
        )
        out.write("\nRun the scan again and it writes nothing: every finding is coached once.\n")
        out.write(by_hand_hint(EXAMPLE))
        out.flush()
        if args.keep_running:
            out.write(
                f"\nSandboxes still running: ServiceNow {info['servicenow']['url']}, Jira {info['jira']['url']}.\n"
                f"Scan again with: csi-coach scan --config {config_path}\n"
                "Press Ctrl-C to stop.\n"
            )
            out.flush()
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                pass
        return result.exit_code
    finally:
        pair.stop()


def by_hand_hint(example: Path) -> str:
    """How to do what the demo did, by hand. config.example.toml names the variables
    holding the secrets; `csi-coach sandbox` prints their values in its JSON line."""
    try:
        config = example.relative_to(Path.cwd())
    except ValueError:
        config = example
    return (
        "\nTo do the same by hand, in one shell:\n"
        "  csi-coach sandbox > sandbox.json &     # ServiceNow on 127.0.0.1:8801, Jira on :8802\n"
        "  # sandbox.json is one JSON line; its \"env\" object holds the variables the example config\n"
        "  # reads its secrets from (CSI_SNOW_USER, CSI_SNOW_PASSWORD, CSI_JIRA_EMAIL, CSI_JIRA_TOKEN, ...).\n"
        "  # Export each of them once the line is there, e.g.:\n"
        "  export $(python3 -c 'import json; print(*(f\"{k}={v}\" for k, v in json.load(open(\"sandbox.json\"))[\"env\"].items()))')\n"
        f"  csi-coach scan --config {config}          # --dry-run to only print what it would write\n"
        "  kill %1                                 # stop the sandbox\n"
        "  # Over HTTPS instead: csi-coach sandbox --tls; in a copy of the config set url = \"https://...\" and\n"
        "  # ca_bundle to the \"ca_bundle\" path of the JSON line (the demo's config.toml above does just that).\n"
        "Then `csi-coach check-config` and `csi-coach explain --text \"...\"` to tune the rules.\n"
    )


def render_summary(result: Any, info: dict[str, Any], show: int) -> str:
    lines = []
    for s in result.sources:
        lines.append(f"{s.name}: {s.records} records read in {s.seconds:.1f}s")
        top = max(s.categories.values(), default=1)
        for cat in ("value", "linked", "process_only", "no_goal"):
            n = s.categories.get(cat, 0)
            bar = "#" * max(1 if n else 0, round(24 * n / top)) if top else ""
            lines.append(f"  {CATEGORY_LABELS[cat]:<32} {n:4d}  {bar}")
        lines.append(
            f"  -> {s.written} coaching comment(s) written"
            + (f", {s.skipped} closed or opted-out record(s) left alone" if s.skipped else "")
            + (f", {s.failed} failed" if s.failed else "")
        )
        lines.append("")
    shown = 0
    samples = _samples(result, show)
    if samples:
        lines.append("Some of the comments, exactly as they now read on the tickets:")
    for source, write in samples:
        body = read_back(source.type, info, write["key"], write["marker"])
        if body is None:
            continue
        shown += 1
        lines.append("")
        lines.append(f"--- {source.name} {write['number']}: {write['title']}")
        if source.type == "jira":
            lines.append("  (Jira wiki markup, as stored: Jira shows *bold*, {{code}} and lists formatted)")
        lines.extend("  | " + line for line in body.rstrip().splitlines())
    if samples and not shown:
        lines.append("  (could not read them back from the sandbox)")
    return "\n".join(lines) + "\n"


def _samples(result: Any, show: int) -> list[tuple[Any, dict]]:
    """A few comments, alternating between sources and categories."""
    picked: list[tuple[Any, dict]] = []
    pools = [[(s, w) for w in s.writes] for s in result.sources]
    seen_cats: set[tuple[str, str]] = set()
    while len(picked) < show and any(pools):
        for pool in pools:
            for i, (s, w) in enumerate(pool):
                if (s.name, w["category"]) not in seen_cats or all((s.name, x["category"]) in seen_cats for _, x in pool):
                    picked.append(pool.pop(i))
                    seen_cats.add((s.name, w["category"]))
                    break
            if len(picked) >= show:
                break
    return picked


def read_back(source_type: str, info: dict[str, Any], key: str, marker: str) -> str | None:
    """The comment carrying ``marker`` on one ticket, as the system now returns it."""
    verify = info.get("ca_bundle", True)  # an HTTPS sandbox's CA
    try:
        if source_type == "servicenow":
            snow = info["servicenow"]
            resp = requests.get(
                f"{snow['url']}/api/now/table/sys_journal_field",
                params={"sysparm_query": f"element_id={key}^valueLIKE{marker}", "sysparm_limit": "1",
                        "sysparm_fields": "value,element"},
                auth=(snow["username"], snow["password"]), headers={"Accept": "application/json"}, timeout=10,
                verify=verify,
            )
            resp.raise_for_status()
            rows = resp.json().get("result", [])
            return rows[0]["value"] if rows else None
        jira = info["jira"]
        resp = requests.get(
            f"{jira['url']}/rest/api/2/issue/{key}/comment", params={"maxResults": "100"},
            auth=(jira["username"], jira["token"]), headers={"Accept": "application/json"}, timeout=10,
            verify=verify,
        )
        resp.raise_for_status()
        for comment in resp.json().get("comments", []):
            body = comment.get("body")
            if isinstance(body, str) and marker in body:
                return body
        return None
    except (requests.RequestException, ValueError, KeyError):
        return None
