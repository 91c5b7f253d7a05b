"""`csi-coach sandbox`: serve the local ServiceNow and Jira until interrupted.

    csi-coach sandbox [--host 127.0.0.1] [--servicenow-port 8801] [--jira-port 8802]
                      [--jira-flavor cloud|server] [--records N] [--seed S]
                      [--servicenow-rate-limit N] [--jira-rate-limit N]
                      [--latency-ms MS] [--error-rate R] [--throttle-rate R] [--reset-rate R]
                      [--slow-paging-ms MS] [--tls [--ca-file PATH]]

When both servers answer it prints exactly one JSON line on stdout (URLs, credentials,
and the environment variables config.example.toml reads its secrets from), then
serves until SIGINT or SIGTERM and exits 0. Anything meant for people goes to stderr.

With --tls both serve HTTPS only, with a certificate from a throwaway CA made at start
(tls.py); the JSON line's "ca_bundle" is that CA's certificate file, for a source's
``ca_bundle`` (or any client's ``verify``). It is removed on exit unless --ca-file chose it.

In-process (the demo, tests, benchmarks):

    with start_sandbox("127.0.0.1", 0, 0, "cloud", 200, 1, None) as pair:   # 0: free ports
        pair.servicenow.url, pair.jira.url, pair.info()
    with start_sandbox(..., tls=True) as pair:     # https://; pair.ca_file is the CA certificate
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from csi_coach.errors import CoachError
from csi_coach.sandbox.faults import Faults
from csi_coach.sandbox.http import is_loopback
from csi_coach.sandbox.seed import MAX_RECORDS
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from csi_coach.sandbox.tls import SandboxCA

DEFAULT_SNOW_PORT = 8801
DEFAULT_JIRA_PORT = 8802
JIRA_EMAIL = "csi-coach@example.com"
JIRA_TOKEN = "sandbox-jira-token"


class SandboxPair:
    """Both servers, started. `info()` is what `csi-coach sandbox` prints."""

    def __init__(self, servicenow: ServiceNowSandbox, jira: Any, ca: SandboxCA | None = None) -> None:
        self.servicenow = servicenow
        self.jira = jira
        self.ca = ca  # the throwaway CA when serving HTTPS

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate (PEM) clients must trust, when serving HTTPS."""
        return self.ca.ca_file if self.ca is not None else None

    def info(self) -> dict[str, Any]:
        snow = self.servicenow.credentials
        email = getattr(self.jira, "email", JIRA_EMAIL)
        token = getattr(self.jira, "token", JIRA_TOKEN)
        info: dict[str, Any] = {
            "servicenow": {
                "url": self.servicenow.url, "username": snow.username, "password": snow.password,
                "client_id": snow.client_id, "client_secret": snow.client_secret, "api_key": snow.api_key,
            },
            "jira": {"url": self.jira.url, "flavor": self.jira.flavor, "username": email, "token": token},
            "env": {
                "CSI_SNOW_USER": snow.username,
                "CSI_SNOW_PASSWORD": snow.password,
                "CSI_SNOW_CLIENT_ID": snow.client_id,
                "CSI_SNOW_CLIENT_SECRET": snow.client_secret,
                "CSI_SNOW_API_KEY": snow.api_key,
                "CSI_JIRA_EMAIL": email,
                "CSI_JIRA_TOKEN": token,
                "CSI_JIRA_PAT": token,
            },
        }
        if self.ca is not None:
            info["ca_bundle"] = str(self.ca.ca_file)
        return info

    def stop(self) -> None:
        for server in (self.jira, self.servicenow):
            if server is not None:
                server.stop()
        if self.ca is not None:
            self.ca.close()

    def __enter__(self) -> SandboxPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _own_faults(faults: Faults | None) -> Faults | None:
    """A fresh Faults with the same settings, so each server has its own deterministic sequence."""
    if faults is None:
        return None
    return Faults(**faults.describe(), retry_after=faults.retry_after)


def start_sandbox(host: str = "127.0.0.1", servicenow_port: int = 0, jira_port: int = 0,
                  jira_flavor: str = "cloud", records: int = 200, seed: int = 1,
                  faults: Faults | None = None, *, servicenow_rate_limit: int = 100_000,
                  jira_rate_limit: int | None = None, tls: bool = False,
                  ca_file: str | Path | None = None) -> SandboxPair:
    """Start both servers (port 0: any free port); stop them with .stop() or `with`.

    servicenow_rate_limit: requests per user per hour; jira_rate_limit: requests per
    minute (None: unlimited). tls: serve HTTPS with a new throwaway CA, whose
    certificate goes to ``ca_file`` (None: a temporary file, removed by stop()).
    """
    from csi_coach.sandbox.jira.server import JiraSandbox

    snow = ServiceNowSandbox(host, servicenow_port, records=records, seed=seed, faults=_own_faults(faults),
                             rate_limit=servicenow_rate_limit)
    jira = JiraSandbox(host, jira_port, flavor=jira_flavor, records=records, seed=seed, faults=_own_faults(faults),
                       rate_limit=jira_rate_limit)
    ca = SandboxCA.create(ca_file) if tls else None
    if ca is not None:
        context = ca.server_context()
        snow.use_tls(context)
        jira.use_tls(context)
    pair = SandboxPair(snow, None, ca)
    try:
        snow.start()
        pair.jira = jira.start()
    except BaseException:
        pair.stop()
        raise
    return pair


# ---- the command ------------------------------------------------------------------


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


def _bounded(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to serve on (default 127.0.0.1)")
    parser.add_argument("--servicenow-port", type=_bounded(0, 65535), default=DEFAULT_SNOW_PORT, metavar="PORT",
                        help=f"ServiceNow port (default {DEFAULT_SNOW_PORT}; 0 = any free port)")
    parser.add_argument("--jira-port", type=_bounded(0, 65535), default=DEFAULT_JIRA_PORT, metavar="PORT",
                        help=f"Jira port (default {DEFAULT_JIRA_PORT}; 0 = any free port)")
    parser.add_argument("--jira-flavor", choices=["cloud", "server"], default="cloud",
                        help="Jira Cloud (REST v2/v3, token paging) or Server/Data Center (startAt paging, PAT)")
    parser.add_argument("--records", type=_bounded(0, MAX_RECORDS), default=200, metavar="N",
                        help=f"records per system (default 200, at most {MAX_RECORDS})")
    parser.add_argument("--seed", type=int, default=1, help="seed for records and faults (default 1)")
    parser.add_argument("--servicenow-rate-limit", type=_bounded(1, 10**9), default=100_000, metavar="N",
                        help="ServiceNow requests per user per hour before 429 (default 100000)")
    parser.add_argument("--jira-rate-limit", type=_bounded(1, 10**9), default=None, metavar="N",
                        help="Jira requests per minute before 429 (default: unlimited)")
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a throwaway local CA; its certificate file is \"ca_bundle\" in the JSON line "
                             "(needs the sandbox extra: pip install 'csi-coach[sandbox]')")
    parser.add_argument("--ca-file", metavar="PATH",
                        help="with --tls: write the CA certificate here and leave it after exit (default: a temporary "
                             "file, removed on exit)")
    faults = parser.add_argument_group("faults", "injected into every API request, deterministic under --seed")
    faults.add_argument("--latency-ms", type=_bounded(0, 60_000), default=0, metavar="MS", help="delay before each answer")
    faults.add_argument("--error-rate", type=_rate, default=0.0, metavar="R", help="share of requests answered 500/502/503")
    faults.add_argument("--throttle-rate", type=_rate, default=0.0, metavar="R", help="share answered 429 with Retry-After")
    faults.add_argument("--reset-rate", type=_rate, default=0.0, metavar="R",
                        help="share whose connection is closed mid-response (after the request took effect)")
    faults.add_argument("--slow-paging-ms", type=_bounded(0, 60_000), default=0, metavar="MS",
                        help="extra delay before each page of a record listing (ServiceNow table reads, Jira "
                             "searches), so a scan's writes land between its pages")


def faults_from_args(args: argparse.Namespace) -> Faults | None:
    if args.error_rate + args.throttle_rate + args.reset_rate > 1.0:
        raise CoachError("--error-rate + --throttle-rate + --reset-rate must not exceed 1")
    faults = Faults(latency_ms=args.latency_ms, error_rate=args.error_rate, throttle_rate=args.throttle_rate,
                    reset_rate=args.reset_rate, seed=args.seed, slow_paging_ms=args.slow_paging_ms)
    return faults if faults.active else None


def cli(args: argparse.Namespace) -> int:
    if not is_loopback(args.host):
        raise CoachError(f"--host {args.host}: the sandbox serves on loopback only (127.0.0.1, ::1 or localhost)")
    if args.ca_file and not args.tls:
        raise CoachError("--ca-file is for the CA of an HTTPS sandbox: add --tls")
    faults = faults_from_args(args)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            pair = start_sandbox(args.host, args.servicenow_port, args.jira_port, args.jira_flavor,
                                 args.records, args.seed, faults, servicenow_rate_limit=args.servicenow_rate_limit,
                                 jira_rate_limit=args.jira_rate_limit, tls=args.tls, ca_file=args.ca_file)
        except OSError as exc:
            raise CoachError(
                f"cannot serve on {args.host} ports {args.servicenow_port}/{args.jira_port}: {exc.strerror or exc}"
                " (another sandbox running? pick ports with --servicenow-port / --jira-port, 0 = any free port)"
            ) from None
        try:
            info = pair.info()
            sys.stdout.write(json.dumps(info) + "\n")
            sys.stdout.flush()
            sys.stderr.write(
                f"csi-coach sandbox: ServiceNow {info['servicenow']['url']}, Jira ({args.jira_flavor}) "
                f"{info['jira']['url']}, {args.records} records each"
                + (f"; trust the CA in {info['ca_bundle']}" if "ca_bundle" in info else "")
                + "; Ctrl-C to stop\n"
            )
            sys.stderr.flush()
            while not stop.wait(0.5):
                pass
        finally:
            pair.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
