"""Start-up time and memory of the sandboxes at a given size (default 10,000 records each).

    .venv/bin/python bench/sandbox_startup.py [--records N] [--seed S]

Prints, per server, the seconds from constructor to answering its first API request,
the time to page through every ServiceNow record 500 at a time, and the seconds from
launching `csi-coach sandbox` (both servers, a fresh interpreter) to its JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from csi_coach.sandbox.servicenow.server import ServiceNowSandbox

    auth = ("csi-coach", "sandbox-snow-password")
    t0 = time.perf_counter()
    snow = ServiceNowSandbox(records=args.records, seed=args.seed).start()
    r = requests.get(snow.url + "/api/now/table/sn_cim_register", params={"sysparm_limit": 1}, auth=auth, timeout=60)
    r.raise_for_status()
    snow_start = time.perf_counter() - t0
    print(f"servicenow: {args.records} records, ready in {snow_start:.2f} s")

    t0 = time.perf_counter()
    session = requests.Session()
    session.auth = auth
    read, offset = 0, 0
    while True:
        page = session.get(snow.url + "/api/now/table/sn_cim_register", timeout=60, params={
            "sysparm_limit": 500, "sysparm_offset": offset, "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true", "sysparm_query": "ORDERBYsys_updated_on^ORDERBYsys_id",
        }).json()["result"]
        read += len(page)
        offset += 500
        if len(page) < 500:
            break
    print(f"servicenow: paged through {read} records (500 a page, display_value=all) in {time.perf_counter() - t0:.2f} s")
    snow.stop()

    try:
        from csi_coach.sandbox.jira.server import JiraSandbox
    except ImportError:
        print("jira: sandbox.jira not available")
    else:
        t0 = time.perf_counter()
        jira = JiraSandbox(records=args.records, seed=args.seed).start()
        requests.get(jira.url + "/rest/api/2/serverInfo", auth=(jira.email, jira.token), timeout=60).raise_for_status()
        print(f"jira: {args.records} records, ready in {time.perf_counter() - t0:.2f} s")
        jira.stop()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mb:.0f} MB")

    root = Path(__file__).resolve().parent.parent
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(root / "bot.py"), "sandbox", "--servicenow-port", "0",
                             "--jira-port", "0", "--records", str(args.records), "--seed", str(args.seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - t0
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    if line:
        json.loads(line)
        print(f"csi-coach sandbox --records {args.records}: JSON line after {elapsed:.2f} s (exit {proc.returncode})")
    else:
        print(f"csi-coach sandbox failed: {err.strip()}")


if __name__ == "__main__":
    main()
