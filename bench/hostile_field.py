"""Peak memory and time of a scan against a server that sends one huge field (issue 13, finding 8).

    .venv/bin/python bench/hostile_field.py [--sizes 0.1,1,5,9,50,200] [--bot PATH] [--limit SECONDS]

A small ServiceNow stand-in on 127.0.0.1 (a thread of this process) answers the Table API
with one record whose ``description`` holds SIZE MB of plain words, in both
``display_value`` and ``value`` as ``sysparm_display_value=all`` gives it (so the body is
about twice SIZE). Each size runs `csi-coach scan --dry-run --json` in its own child
process and reads that child's own peak RSS from os.wait4 (a scan still running after
``--limit`` seconds is killed and its peak so far reported). The body is written in chunks,
so this process never holds it whole. ``--bot`` points at another checkout's bot.py
(with PYTHONPATH naming a folder where ``csi_coach`` is that checkout) to measure code
before a change.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Plain words the rules find nothing in: what is measured is reading and judging the field,
# not writing a comment about it (see --words).
WORDS = b"the quick brown fox jumps over the lazy dog near the river bank "


def chunk_of(words: bytes) -> bytes:
    return words * (65536 // len(words))


CHUNK = chunk_of(WORDS)


class FieldServer(BaseHTTPRequestHandler):
    """The Table API with one record; every other read is an empty answer."""

    field_bytes = 0  # set per run
    chunk = CHUNK

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if not self.path.startswith("/api/now/table/sn_cim_register"):
            return self._send([b'{"result": []}'], 14)
        big = self.field_bytes
        chunk = self.chunk
        chunks, rest = divmod(big, len(chunk))
        head = (b'{"result": [{"sys_id": {"display_value": "a1", "value": "a1"}, '
                b'"number": {"display_value": "CIM0000001", "value": "CIM0000001"}, '
                b'"short_description": {"display_value": "Printer incidents", "value": "Printer incidents"}, '
                b'"sys_updated_on": {"display_value": "2026-01-01 00:00:00", "value": "2026-01-01 00:00:00"}, '
                b'"benefit": {"display_value": "Staff print their own badges", "value": "Staff print their own badges"}, '
                b'"description": {"display_value": "')
        middle = b'", "value": "'
        tail = b'"}}]}'

        def text():
            for _ in range(chunks):
                yield chunk
            yield chunk[:rest]

        def body():
            yield head
            yield from text()
            yield middle
            yield from text()
            yield tail

        self._send(body(), len(head) + len(middle) + len(tail) + 2 * big)

    def _send(self, parts, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(length))
        self.send_header("X-Total-Count", "1")
        self.end_headers()
        try:
            for part in parts:
                self.wfile.write(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the bot refused the rest


def config(folder: Path, port: int) -> Path:
    path = folder / "config.toml"
    path.write_text(f"""\
[state]
path = "{folder / 'state.sqlite'}"

[sources.snow]
type = "servicenow"
url = "http://127.0.0.1:{port}"

[sources.snow.auth]
method = "basic"
username_env = "BENCH_SN_USER"
password_env = "BENCH_SN_PASSWORD"
""", encoding="utf-8")
    return path


def child_scan(bot: Path, cfg: Path, limit: float) -> tuple[float, float, dict]:
    """(seconds, the child's own peak RSS in MB, its --json summary). A scan still running
    after ``limit`` seconds is killed; its peak so far is still its peak RSS."""
    # values no path or message contains: the bot scrubs secrets from what it prints
    env = {**os.environ, "BENCH_SN_USER": "field-bench-user-71", "BENCH_SN_PASSWORD": "field-bench-pw-38"}
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(bot), "scan", "--config", str(cfg), "--dry-run", "--json"],
                                stdout=out, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cfg.parent)
        killer = threading.Timer(limit, proc.kill)
        killer.start()
        _, _status, usage = os.wait4(proc.pid, 0)
        killer.cancel()
        seconds = time.perf_counter() - t0
        out.seek(0)
        lines = out.read().strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {"status": f"killed after {limit:g} s"}
    return seconds, usage.ru_maxrss / 1024, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="0.1,1,5,9,50,200", help="field sizes in MB")
    ap.add_argument("--bot", default=str(ROOT / "bot.py"))
    ap.add_argument("--limit", type=float, default=300.0, help="seconds before a scan is killed")
    ap.add_argument("--words", default="", help="the field's words instead of plain ones, e.g. process "
                    "words the rules quote ('we will reduce the handling time of printer incidents ')")
    args = ap.parse_args()
    if args.words:
        FieldServer.chunk = chunk_of(args.words.encode())
    server = ThreadingHTTPServer(("127.0.0.1", 0), FieldServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"{'field MB':>9}{'seconds':>9}{'peak RSS MB':>13}  status  (error)")
    try:
        for size in (float(s) for s in args.sizes.split(",")):
            FieldServer.field_bytes = int(size * 1024 * 1024)
            with tempfile.TemporaryDirectory(prefix="csi-bench-field-") as folder:
                seconds, mb, summary = child_scan(Path(args.bot), config(Path(folder), server.server_address[1]),
                                                 args.limit)
            source = summary.get("sources", {}).get("snow", {})
            error = (summary.get("error") or source.get("error")
                     or next((f.get("error", "") for f in source.get("failures", [])), ""))
            note = f"  (...{error[-100:]})" if error else ""
            print(f"{size:9g}{seconds:9.1f}{mb:13.1f}  {summary.get('status', '?')}, "
                  f"{summary.get('records', '?')} record(s){note}", flush=True)
    finally:
        server.shutdown()
    print("\n(peak RSS: the scan process's own ru_maxrss; the body is about twice the field size)")


if __name__ == "__main__":
    main()
