"""What a scan tells people: a terminal summary, report.json and report.html.

The terminal summary is for the admin who just ran a scan; the JSON is for
scripts and dashboards; the HTML (``templates/report/report.html.j2``, rendered
by ``render.Renderer.report`` with autoescaping) is for managers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scan import ScanResult

CATEGORY_LABELS = {
    "value": "names a service-value goal",
    "linked": "process metric linked to value",
    "process_only": "process metrics only",
    "no_goal": "no goal",
}
REPORT_TEMPLATE = "report.html.j2"


def summary_text(result: "ScanResult", *, report_dir: str | None = None) -> str:
    lines: list[str] = []
    head = "Dry run: nothing was written" if result.dry_run else "Scan finished"
    lines.append(f"{head} ({result.status}).")
    for s in result.sources:
        mode = "full" if s.full else "incremental"
        lines.append(f"  {s.name} ({s.type or 'source'}, {mode}, {s.seconds:.1f}s)")
        if s.status == "failed":
            lines.append(f"    could not be scanned: {s.error}")
        lines.append(f"    {s.records} records read, {s.flagged} flagged, {s.skipped} skipped")
        for cat, n in sorted(s.categories.items(), key=lambda kv: -kv[1]):
            lines.append(f"      {n:6d}  {CATEGORY_LABELS.get(cat, cat)}")
        verb = "would write" if result.dry_run else "wrote"
        lines.append(
            f"    {verb} {s.written} comment(s): {s.posted} new, {s.updated} edited, {s.acknowledged} acknowledgements"
        )
        if s.deferred:
            lines.append(f"    {s.deferred} write(s) deferred to the next run (max_writes_per_run)")
        if s.settled:
            lines.append(f"    {s.settled} write(s) left pending by an earlier scan were settled")
        if s.failed:
            lines.append(f"    {s.failed} record(s) failed and will be retried next scan:")
            for f in s.failures[:10]:
                lines.append(f"      {f['number'] or f['key']}: {f['error']}")
            if s.failed > 10:
                lines.append(f"      ... and {s.failed - 10} more (see the log or the report)")
    if not result.dry_run:
        lines.append(f"State: {result.state_path}")
    if report_dir:
        lines.append(f"Report: {Path(report_dir) / 'report.html'}")
    return "\n".join(lines) + "\n"


def report_data(result: "ScanResult") -> dict[str, Any]:
    data = result.summary()
    data["details"] = {
        s.name: {"writes": s.writes, "failures": s.failures} for s in result.sources
    }
    return data


def write_report(folder: Path, result: "ScanResult", renderer: Any) -> list[Path]:
    """Write report.json and report.html into ``folder`` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = report_data(result)
    json_path = folder / "report.json"
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    context = {
        "scan": data,
        "sources": [
            {
                **s.counts(),
                "name": s.name,
                "categories": [
                    {"name": c, "label": CATEGORY_LABELS.get(c, c), "count": n}
                    for c, n in sorted(s.categories.items(), key=lambda kv: -kv[1])
                ],
                "writes": s.writes,
                "failures": s.failures,
            }
            for s in result.sources
        ],
        "category_labels": CATEGORY_LABELS,
    }
    html_path = folder / "report.html"
    html_path.write_text(renderer.report(REPORT_TEMPLATE, context), encoding="utf-8")
    return [json_path, html_path]
