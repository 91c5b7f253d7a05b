"""report.html looked at in a real browser (issue 15 item 5): headless Chromium.

Both sandboxes are scanned by the real command four times, with owners fixing some
goals between scans (a value goal written into a coached record's goal field over the
sandbox's HTTP API), so the state file holds a history and a trend. Then Chromium:

1. opens report.html as it is (no script in it), writes a screenshot (its path is
   printed; kept under pytest's tmp dir), and logs the page's console to stderr:
   no console error and no uncaught exception may appear;
2. opens a copy with one small probe script appended, which writes each chart's box
   (``getBoundingClientRect``) into the DOM that ``--dump-dom`` prints: every chart is
   drawn with a non-zero size, and its text labels are laid out inside it.

Chromium is Debian's ``chromium``; ``./dev test`` installs it when missing (where it can).
The test is skipped, saying why, only where no browser is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from support.sandbox_scan import bot, start, write_config

BROWSER = next((b for b in ("chromium", "chromium-browser") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no chromium on this machine: ./dev test installs Debian's chromium with apt-get where it can "
           "(see .venv/browser-install.log for why it could not)",
)
VALUE_GOAL = ("New joiners can work on their first morning: staff waiting more than a day for a working laptop "
              "drop from 30% to 5% by June 2027, measured by the onboarding survey.")
PROBE = """<script>
document.addEventListener("DOMContentLoaded", () => {
  const boxes = [...document.querySelectorAll("svg.chart")].map(svg => {
    const r = svg.getBoundingClientRect();
    const labels = [...svg.querySelectorAll("text")].map(t => t.getBoundingClientRect());
    return {title: svg.querySelector("title").textContent, width: r.width, height: r.height,
            labels: labels.length, labels_drawn: labels.filter(l => l.width > 0 && l.height > 0).length,
            labels_inside: labels.filter(l => l.left >= r.left - 1 && l.right <= r.right + 1).length};
  });
  const out = document.createElement("pre");
  out.id = "chart-boxes";
  out.textContent = JSON.stringify(boxes);
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BROWSER or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
         "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, text=True, timeout=60,
    )


def owners_fix(info: dict, how_many: int, done: set[str]) -> None:
    """Owners of coached ServiceNow records write a value goal into their goal field."""
    snow = info["servicenow"]
    auth = (snow["username"], snow["password"])
    journal = requests.get(f"{snow['url']}/api/now/table/sys_journal_field", auth=auth,
                           params={"sysparm_query": "valueLIKEcsi-coach:", "sysparm_fields": "element_id"},
                           timeout=30).json()["result"]
    coached = sorted({row["element_id"] for row in journal} - done)
    assert len(coached) >= how_many, coached
    for sys_id in coached[:how_many]:
        resp = requests.patch(f"{snow['url']}/api/now/table/sn_cim_register/{sys_id}", auth=auth,
                              json={"benefit": VALUE_GOAL}, timeout=30)
        assert resp.status_code == 200, resp.text
        done.add(sys_id)


def console_problems(stderr: str) -> list[str]:
    """Lines of the browser's log the page's console wrote. report.html has no script, so
    anything at all is a problem (Chromium logs even console.error and a malformed SVG
    attribute at INFO level: "INFO:CONSOLE:1] "Error: <path> attribute d: ...")."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_the_console_check_sees_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<html><body><svg><path d="M 0 0 L x"/></svg><script>throw new Error("bad")</script></body></html>')
    problems = console_problems(chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile").stderr)
    assert any("attribute d" in p for p in problems) and any("Uncaught Error: bad" in p for p in problems)


def test_the_report_in_headless_chromium(tmp_path):
    with start(records=24, seed=15) as pair:
        info = pair.info()
        config = write_config(tmp_path, info)
        report = tmp_path / "report"
        fixed: set[str] = set()
        for night in range(4):
            if night:
                owners_fix(info, 2, fixed)
            proc = bot(config, info, "scan", "--report", str(report if night else tmp_path / "first"))
            assert proc.returncode == 0, proc.stderr
    html_path = report / "report.html"
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.split("<body>")[0]  # self-contained, nothing fetched
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart') >= 4
    # The comments the first scan wrote are shown as their readers see them, not as Jira wiki markup.
    first = (tmp_path / "first" / "report.html").read_text(encoding="utf-8")
    assert first.count("<pre>") >= 10 and "What I found: " in first
    assert "bq. " not in first and "*What I found:*" not in first and "csi\\-coach" not in first

    shot = tmp_path / "report.png"
    seen = chromium(f"--screenshot={shot}", "--window-size=1280,2400", "--virtual-time-budget=3000",
                    html_path.as_uri(), profile=tmp_path / "profile")
    print(f"\nscreenshot of report.html: {shot}")
    assert shot.exists() and shot.stat().st_size > 10_000, seen.stderr[-2000:]
    assert console_problems(seen.stderr) == [], seen.stderr[-4000:]

    probe = report / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dumped = chromium("--dump-dom", "--window-size=1280,2400", "--virtual-time-budget=3000", probe.as_uri(),
                      profile=tmp_path / "profile")
    found = re.search(r'<pre id="chart-boxes">(.*?)</pre>', dumped.stdout, re.DOTALL)
    assert found, dumped.stderr[-2000:]
    boxes = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                       .replace("&gt;", ">"))
    assert len(boxes) >= 4
    for box in boxes:
        assert box["width"] > 300 and box["height"] > 40, box
        assert box["labels"] > 0 and box["labels_drawn"] == box["labels"], box
        assert box["labels_inside"] == box["labels"], box  # no label runs off its chart
    titles = " | ".join(b["title"] for b in boxes)
    assert "value goal" in titles and "flagged" in titles.lower() and "per team" in titles and "per rule" in titles
    assert console_problems(dumped.stderr) == [], dumped.stderr[-4000:]
    if os.environ.get("CSI_REPORT_SCREENSHOT"):  # to refresh the README's picture: CSI_REPORT_SCREENSHOT=path
        shutil.copyfile(shot, os.environ["CSI_REPORT_SCREENSHOT"])
