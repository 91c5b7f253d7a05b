"""The Jira sandbox at size: start-up, a full read by pages, writes, and memory.

    .venv/bin/python bench/sandbox_jira.py [--records 10000] [--flavor cloud|server] [--seed 1]

Prints the seconds from constructor to the first answer (serverInfo: the socket
serves while the records build) and until the records are built, the
time to read every issue with the bot's fields 100 a page (Cloud: nextPageToken;
Data Center: startAt, 1,000 a page), the time to write a comment on every 10th issue
while paging (the scan's pattern: each write moves the issue in `ORDER BY updated`),
and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import time

import requests  # noqa: E402

from csi_coach.sandbox.jira.server import EMAIL, TOKEN, JiraSandbox  # noqa: E402

FIELDS = "summary,description,customfield_10050,components,assignee,status,updated,labels"
JQL = "project = CSI ORDER BY updated ASC, key ASC"


def read_all(session: requests.Session, url: str, flavor: str, write_every: int = 0) -> tuple[int, int, int]:
    """(issues seen, pages, comments written)."""
    seen = pages = written = 0
    token, start = None, 0
    while True:
        if flavor == "cloud":
            params = {"jql": JQL, "fields": FIELDS, "maxResults": 100, **({"nextPageToken": token} if token else {})}
            page = session.get(url + "/rest/api/2/search/jql", params=params, timeout=120).json()
        else:
            params = {"jql": JQL, "fields": FIELDS, "maxResults": 1000, "startAt": start}
            page = session.get(url + "/rest/api/2/search", params=params, timeout=120).json()
        pages += 1
        for issue in page["issues"]:
            seen += 1
            if write_every and seen % write_every == 0:
                session.post(url + f"/rest/api/2/issue/{issue['key']}/comment", json={"body": "bench"}, timeout=60)
                written += 1
        if flavor == "cloud":
            if page["isLast"]:
                return seen, pages, written
            token = page["nextPageToken"]
        else:
            start += len(page["issues"])
            if not page["issues"] or start >= page["total"]:
                return seen, pages, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--flavor", choices=["cloud", "server"], default="cloud")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    session = requests.Session()
    if args.flavor == "cloud":
        session.auth = (EMAIL, TOKEN)
    else:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
    t0 = time.perf_counter()
    jira = JiraSandbox(flavor=args.flavor, records=args.records, seed=args.seed).start()
    session.get(jira.url + "/rest/api/2/serverInfo", timeout=60).raise_for_status()
    first_answer = time.perf_counter() - t0
    jira.wait_ready()  # the records build on a thread; requests meanwhile wait (then 503 + Retry-After)
    built = time.perf_counter() - t0
    search = "/rest/api/2/search/jql" if args.flavor == "cloud" else "/rest/api/2/search"
    session.get(jira.url + search, params={"jql": "project = CSI", "maxResults": 1}, timeout=120).raise_for_status()
    print(f"jira ({args.flavor}): {args.records} records; first answer after {first_answer:.2f} s, "
          f"records built after {built:.2f} s")

    t0 = time.perf_counter()
    seen, pages, _ = read_all(session, jira.url, args.flavor)
    took = time.perf_counter() - t0
    print(f"read {seen} issues in {pages} pages: {took:.2f} s ({seen / took:.0f} issues/s)")

    t0 = time.perf_counter()
    seen, pages, written = read_all(session, jira.url, args.flavor, write_every=10)
    took = time.perf_counter() - t0
    print(f"read {seen} issues in {pages} pages writing {written} comments on the way: {took:.2f} s")
    jira.stop()
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
