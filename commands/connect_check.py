"""``check-config --connect``: each source checked live, writing nothing (``Connector.probe``).

    ok    servicenow: login: ok (basic auth)
    ok    servicenow: table sn_cim_register, query 'active=true': 180 records in scope
    FAIL  jira: fields: config.toml:167 [sources.jira.fields.goal]: the goal field ...

Per source: the login, the table or JQL (and the records in scope), each mapped field
on one page of records (the goal's share of records holding text), read access to the
comments the bot recognises its own by, and write permission as far as the vendor lets
one ask without writing. The same lines open ``scan --dry-run`` (``preflight``).

A failed line counts towards check-config's exit code as what it needs: 2 when the
config file is what to fix (a table, query, JQL or field name, a secret's variable
unset), 1 when something outside it failed (credentials rejected, a permission
missing, the server unreachable). A warning never fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from csi_coach.config import Config, SourceSettings
from csi_coach.connectors.probe import FAIL, OK, SourceProbe, failure
from csi_coach.connectors.probe import fail as failed
from csi_coach.errors import CoachError, ConfigError

# A check answers within seconds: two tries per request and no long waits on a rate limit
# (a scan's policy waits minutes, which is right at night and wrong at a terminal).
CHECK_ATTEMPTS = 2
CHECK_MAX_WAIT = 30.0


def probe_source(settings: SourceSettings, *, open_connector: Callable[..., Any] | None = None) -> SourceProbe:
    """Open the source's connector and probe it; an error opening it (a secret's variable
    unset, a bad certificate file) is the one failed line."""
    from csi_coach.connectors import open_connector as default_open
    from csi_coach.connectors.transport import Limiters, RetryPolicy

    opener = open_connector or default_open
    policy = RetryPolicy(attempts=CHECK_ATTEMPTS, backoff_base=0.2, backoff_cap=2.0, max_wait=CHECK_MAX_WAIT)
    try:
        connector = opener(settings, limiters=Limiters(), policy=policy)
    except ConfigError as exc:
        return SourceProbe(settings.name, (failed(f"login: {exc}", in_config=True),))
    except CoachError as exc:
        return SourceProbe(settings.name, (failure("connection", exc),))
    with connector:
        return connector.probe()


def check_sources(config: Config, report: Any, *, source: str | None = None,
                  open_connector: Callable[..., Any] | None = None) -> list[SourceProbe]:
    """Probe every source (or ``source``) and report each check as a line of ``report``
    (check-config's ``Report``: ok / warn / fail, ``remote`` for a failure outside the file)."""
    probes = []
    for settings in (config.source(source),) if source else config.sources:
        probe = probe_source(settings, open_connector=open_connector)
        probes.append(probe)
        for check in probe.checks:
            line = f"{settings.name}: {check.text}"
            if check.status == OK:
                report.ok(line)
            elif check.status == FAIL:
                report.fail(line, remote=not check.in_config)
            else:
                report.warn(line)
    if not config.sources:
        report.warn("connect: no [sources] configured, nothing to connect to")
    return probes


def preflight(config: Config, *, source: str | None = None, out: TextIO) -> bool:
    """The checks of ``--connect`` at the start of ``scan --dry-run``, printed to ``out``;
    True when none failed. The dry run goes on either way: it shows what the failure costs."""
    from csi_coach.commands.check_config import Report

    out.write("Checking the sources before the dry run (check-config --connect):\n")
    report = Report(out=out)
    check_sources(config, report, source=source)
    fine = not report.problems and not report.remote_failures
    out.write("Sources: ready.\n\n" if fine else "Sources: not ready (see the FAIL lines above); "
              "the dry run goes on to show what it would do.\n\n")
    out.flush()
    return fine
