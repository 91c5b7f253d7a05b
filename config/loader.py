"""The TOML loader: reads a config file into the typed settings of settings.py.

The TOML shape (every option is shown, commented, in config.example.toml):

    rules = "default"                # or a path to a rules file (relative to this file)
    templates_dir = ""               # optional folder of admin templates

    [state]        path, history_days
    [logging]      level, format ("plain" | "json"), file
    [schedule]     cron, timezone, misfire_grace_seconds, catch_up
    [comments]     policy: on_change, cooldown_days, max_writes_per_run, workers,
                   skip_states, opt_out_labels, acknowledge_fixed, coach_categories,
                   guide_url (the admins' CSI guide, linked from comments)
    [report]       dir (the folder `scan` and `run` write the report into; --report overrides)
    [sources.NAME] type = "servicenow" | "jira", url, ... verify_tls, ca_bundle (a PEM file of
                   private CAs, checked here: it must exist and hold certificates),
                   max_writes_per_run (this source's cap, within [comments]' global one) and
    [sources.NAME.auth]    method and the *names* of environment variables
    [sources.NAME.fields]  field mapping (partial override of the defaults below)
    [sources.NAME.visibility]  Jira only: type = "role" | "group", value

Secrets are never written in the file: only the names of environment variables
that hold them. ``Secret`` masks itself in repr/str so it cannot leak into a log.
"""

from __future__ import annotations

import difflib
import os
import re
import ssl
from dataclasses import replace
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from csi_coach.config.paths import file_path_problem
from csi_coach.config.reader import ENV_KEYS, INLINE_SECRET_KEYS, TomlReader, env_example, read_toml
from csi_coach.config.settings import (
    JIRA_FIELDS,
    SERVICENOW_FIELDS,
    AuthSettings,
    CommentPolicy,
    Config,
    FieldMap,
    JiraSettings,
    LoggingSettings,
    ReportSettings,
    ScheduleSettings,
    ServiceNowSettings,
    SourceSettings,
    StateSettings,
)

# --------------------------------------------------------------------------- loader
#
# Validation is strict on purpose: a typo found by `check-config` at 3 p.m. is
# cheaper than a silent default at 2 a.m. Every error names the file, the dotted
# key path, the line, the bad value (never a secret) and what is valid.


SOURCE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FIELD_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
SN_TABLE_RE = re.compile(r"[a-z0-9_]{1,80}")

SOURCE_TYPES = ("servicenow", "jira")

# method -> the *_env keys it needs (all required, no others allowed).
AUTH_METHODS: dict[str, dict[str, tuple[str, ...]]] = {
    "servicenow": {
        "basic": ("username_env", "password_env"),
        "oauth_password": ("client_id_env", "client_secret_env", "username_env", "password_env"),
        "oauth_client_credentials": ("client_id_env", "client_secret_env"),
        "api_key": ("api_key_env",),
    },
    "jira": {
        "basic": ("username_env", "token_env"),  # Cloud: e-mail + API token
        "pat": ("token_env",),  # Data Center: personal access token (Bearer)
    },
}

TOP_KEYS = ("rules", "templates_dir", "state", "logging", "schedule", "comments", "report", "sources")
REPORT_KEYS = ("dir",)
STATE_KEYS = ("path", "history_days")
LOGGING_KEYS = ("level", "format", "file")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SCHEDULE_KEYS = ("cron", "timezone", "misfire_grace_seconds", "catch_up")
COMMENT_KEYS = (
    "on_change", "cooldown_days", "max_writes_per_run", "workers", "skip_states",
    "opt_out_labels", "acknowledge_fixed", "coach_categories", "settle_after_seconds", "guide_url",
    "dispute_keywords", "not_applicable_keywords",
)
COACHABLE = ("process_only", "no_goal")
# What one answer may cost (issue 13): a total time per request (default 4 x timeout_seconds),
# the bytes of a body, the characters kept of each record field.
LIMIT_KEYS = ("request_deadline_seconds", "max_response_bytes", "max_field_chars")
SN_KEYS = ("type", "url", "auth", "table", "query", "fields", "journal_field", "page_size", "timeout_seconds",
           "read_budget_seconds", "verify_tls", "ca_bundle", "max_pages", "bot_user", "max_writes_per_run", *LIMIT_KEYS)
JIRA_KEYS = ("type", "url", "auth", "flavor", "jql", "fields", "page_size", "visibility", "internal", "timeout_seconds",
             "read_budget_seconds", "verify_tls", "ca_bundle", "max_pages", "max_writes_per_run", *LIMIT_KEYS)
FIELD_KEYS = ("number", "title", "description", "goal", "service", "owner", "state", "updated", "labels", "group")
PAGE_LIMITS = {"servicenow": 10000, "jira-cloud": 100, "jira-auto": 100, "jira-server": 1000}


DEFAULT_CONFIG = "config.toml"


def default_config_path() -> str:
    """Where the commands look without --config: $CSI_COACH_CONFIG, else ./config.toml."""
    return os.environ.get("CSI_COACH_CONFIG") or DEFAULT_CONFIG


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises ConfigError naming file, key and line: the
    one error, or ``ConfigErrors`` listing every error found (each section is read even
    when one before it failed).

    Secrets are not read here: sources hold only the names of environment
    variables, resolved by the connector at connect time (``AuthSettings.secret``).
    """
    path = Path(path)
    text, data = read_toml(path)
    r = TomlReader(path, text)
    r.keys(data, "", TOP_KEYS)
    cfg_path = path.absolute()

    rules = r.string(data, "", "rules", "default", nonempty=True)
    templates_dir = r.string(data, "", "templates_dir", "")
    if templates_dir.strip():
        folder = Config(path=cfg_path).resolve(templates_dir)
        if not folder.is_dir():
            r.note(r.fail("templates_dir", "the templates folder does not exist", got=templates_dir,
                          expected=f"an existing folder (looked for {folder}), or \"\" for the shipped templates"))
    state = r.attempt(lambda: _state(r, r.table(data, "", "state"), cfg_path), StateSettings())
    logging_ = r.attempt(lambda: _logging(r, r.table(data, "", "logging"), cfg_path), LoggingSettings())
    schedule = r.attempt(lambda: _schedule(r, r.table(data, "", "schedule")), ScheduleSettings())
    comments = r.attempt(lambda: _comments(r, r.table(data, "", "comments")), CommentPolicy())
    report = r.attempt(lambda: _report(r, r.table(data, "", "report"), cfg_path), ReportSettings())
    sources = _sources(r, r.table(data, "", "sources"))
    r.raise_errors()
    return Config(
        path=cfg_path,
        rules=rules,
        templates_dir=templates_dir,
        state=state,
        logging=logging_,
        schedule=schedule,
        comments=comments,
        report=report,
        sources=sources,
    )


def _state(r: TomlReader, t: dict, cfg_path: Path) -> StateSettings:
    r.keys(t, "state", STATE_KEYS)
    state = StateSettings(
        path=r.string(t, "state", "path", StateSettings.path, nonempty=True),
        history_days=r.integer(t, "state", "history_days", StateSettings.history_days, lo=1, hi=36500),
    )
    _file_path(r, "state.path", state.path, cfg_path, "the state file (SQLite)")
    return state


def _logging(r: TomlReader, t: dict, cfg_path: Path) -> LoggingSettings:
    r.keys(t, "logging", LOGGING_KEYS)
    logging_ = LoggingSettings(
        level=r.string(t, "logging", "level", LoggingSettings.level, choices=LOG_LEVELS, lower=True),
        format=r.string(t, "logging", "format", LoggingSettings.format, choices=("plain", "json")),
        file=r.string(t, "logging", "file", LoggingSettings.file),
    )
    if logging_.file.strip():
        _file_path(r, "logging.file", logging_.file, cfg_path, "the log file")
    return logging_


def _file_path(r: TomlReader, key: str, value: str, cfg_path: Path, what: str) -> None:
    problem = file_path_problem(Config(path=cfg_path).resolve(value).absolute())
    if problem:
        r.note(r.fail(key, f"cannot be used for {what}: {problem}", got=value,
                      expected="a file path (relative paths are taken from the config file's folder) "
                               "whose folder exists or can be created"))


def _report(r: TomlReader, t: dict, cfg_path: Path) -> ReportSettings:
    """[report] dir: "" or a folder (created if missing; whether it can be written is checked
    before each scan, as for --report)."""
    r.keys(t, "report", REPORT_KEYS)
    folder = r.string(t, "report", "dir", "").strip()
    if folder:
        where = Config(path=cfg_path).resolve(folder).absolute()
        problem = (f"{where} is a file, not a folder" if where.exists() and not where.is_dir()
                   else file_path_problem(where / "report.json"))
        if problem:
            r.note(r.fail("report.dir", f"cannot hold the report: {problem}", got=folder,
                          expected="a folder (created if missing; relative paths are taken from the config "
                                   "file's folder), or \"\" for no report"))
            return ReportSettings()
    return ReportSettings(dir=folder)


def _schedule(r: TomlReader, t: dict) -> ScheduleSettings:
    r.keys(t, "schedule", SCHEDULE_KEYS)
    tz = r.string(t, "schedule", "timezone", ScheduleSettings.timezone, nonempty=True)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.note(r.fail("schedule.timezone", "unknown time zone", got=tz, suggestion=_close_time_zone(tz),
                      expected='an IANA time zone name such as "UTC" or "Europe/Berlin"'))
        tz, zone = ScheduleSettings.timezone, ZoneInfo(ScheduleSettings.timezone)  # the cron is still checked
    cron = r.string(t, "schedule", "cron", ScheduleSettings.cron, nonempty=True)
    from apscheduler.triggers.cron import CronTrigger  # imported late: only needed to validate

    try:
        CronTrigger.from_crontab(cron, timezone=zone)
    except ValueError as exc:
        r.note(r.fail("schedule.cron", f"not a valid cron expression: {exc}", got=cron,
                      expected='five fields "minute hour day-of-month month day-of-week", e.g. "0 2 * * *"'))
        cron = ScheduleSettings.cron
    return ScheduleSettings(
        cron=cron,
        timezone=tz,
        misfire_grace_seconds=r.integer(t, "schedule", "misfire_grace_seconds", ScheduleSettings.misfire_grace_seconds, lo=1, hi=7 * 86400),
        catch_up=r.boolean(t, "schedule", "catch_up", ScheduleSettings.catch_up),
    )


def _close_time_zone(name: str) -> str | None:
    """The IANA name the admin most likely meant: the same name in other case ("europe/berlin"),
    else the closest spelling ("Europe/Berln"), else the closest city ("Berlin")."""
    zones = sorted(available_timezones())
    by_case = {z.lower(): z for z in zones}
    wanted = name.strip().replace(" ", "_")
    if wanted.lower() in by_case:
        return by_case[wanted.lower()]
    close = difflib.get_close_matches(wanted.lower(), list(by_case), n=1, cutoff=0.75)
    if close:
        return by_case[close[0]]
    cities = {z.rsplit("/", 1)[-1].lower(): z for z in zones if "/" in z}
    close = difflib.get_close_matches(wanted.lower().rsplit("/", 1)[-1], list(cities), n=1, cutoff=0.75)
    return cities[close[0]] if close else None


def _comments(r: TomlReader, t: dict) -> CommentPolicy:
    k = "comments"
    r.keys(t, k, COMMENT_KEYS)
    d = CommentPolicy()
    categories = r.strings(t, k, "coach_categories", d.coach_categories, choices=COACHABLE)
    if not categories:
        r.note(r.fail(f"{k}.coach_categories", "at least one category must be coached", got=[],
                      expected=f"some of: {', '.join(COACHABLE)} (to write nothing, set max_writes_per_run = 0)"))
        categories = d.coach_categories
    return CommentPolicy(
        on_change=r.string(t, k, "on_change", d.on_change, choices=("edit", "new", "none")),
        cooldown_days=r.integer(t, k, "cooldown_days", d.cooldown_days, lo=0, hi=3650),
        max_writes_per_run=r.integer(t, k, "max_writes_per_run", d.max_writes_per_run, lo=0, hi=1_000_000),
        workers=r.integer(t, k, "workers", d.workers, lo=1, hi=32),
        settle_after_seconds=r.integer(t, k, "settle_after_seconds", d.settle_after_seconds, lo=0, hi=3600),
        skip_states=r.strings(t, k, "skip_states", d.skip_states, lower=True),
        opt_out_labels=r.strings(t, k, "opt_out_labels", d.opt_out_labels),
        acknowledge_fixed=r.boolean(t, k, "acknowledge_fixed", d.acknowledge_fixed),
        coach_categories=categories,
        guide_url=r.attempt(lambda: _guide_url(r, t, k), ""),
        dispute_keywords=_keywords(r, t, k, "dispute_keywords", d.dispute_keywords),
        not_applicable_keywords=_keywords(r, t, k, "not_applicable_keywords", d.not_applicable_keywords),
    )


def _keywords(r: TomlReader, t: dict, k: str, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """[comments] dispute_keywords / not_applicable_keywords: words an owner's reply starts with
    to push back; each at least 3 characters, or any reply would count ([] = none)."""
    words = r.strings(t, k, name, default)
    for word in words:
        if len(word.strip()) < 3:
            r.note(r.fail(f"{k}.{name}", "a keyword this short would match ordinary replies", got=word,
                          expected='phrases an owner starts a reply with, e.g. "csi-coach: wrong"'))
    return tuple(w.strip() for w in words)


# The characters a comment may carry in a link (render.py prints the guide URL as is).
_GUIDE_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{1,2000}")


def _guide_url(r: TomlReader, t: dict, k: str) -> str:
    """[comments] guide_url: "" (no link) or an http(s) URL with a host, no credentials, no spaces."""
    value = r.string(t, k, "guide_url", "").strip()
    if not value:
        return ""
    want = 'the http(s) address of your CSI guide, e.g. "https://intranet.example.com/csi-guide", or "" for none'
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise r.fail(f"{k}.guide_url", "not a valid URL", got=value, expected=want) from None
    if parts.username is not None or parts.password is not None:
        raise r.fail(f"{k}.guide_url", "credentials written in the URL are refused (not shown)",
                     expected="a link without user:password@")
    if parts.scheme not in ("http", "https") or not host:
        raise r.fail(f"{k}.guide_url", "not an http(s) URL with a host name", got=value, expected=want)
    if not _GUIDE_URL_CHARS.fullmatch(value):
        raise r.fail(f"{k}.guide_url", "the URL holds spaces or characters a comment cannot carry ([ ] { } | < > \" ...)",
                     got=value, expected="a percent-encoded URL")
    return value


def _sources(r: TomlReader, t: dict) -> tuple[SourceSettings, ...]:
    out: list[SourceSettings] = []
    for name, body in t.items():
        source = r.attempt(partial(_source, r, name, body), None)  # one broken source does not hide the next
        if source is not None:
            out.append(source)
    return tuple(out)


def _source(r: TomlReader, name: str, body: object) -> SourceSettings:
    key = f"sources.{name}"
    if not SOURCE_NAME_RE.fullmatch(name):
        raise r.fail(key, "not a valid source name", got=name,
                     expected="letters, digits, '-' and '_' (up to 64), e.g. [sources.servicenow-prod]")
    if not isinstance(body, dict):
        raise r.fail(key, "a source must be a table", got=body, expected=f"a [{key}] table with type, url and [{key}.auth]")
    kind = r.string(body, key, "type", choices=SOURCE_TYPES)
    return _servicenow(r, key, name, body) if kind == "servicenow" else _jira(r, key, name, body)


def _common(r: TomlReader, key: str, name: str, body: dict, kind: str) -> dict:
    verify_tls = r.boolean(body, key, "verify_tls", True)
    timeout = r.number(body, key, "timeout_seconds", 30.0, lo=1, hi=600)
    return {
        "name": name,
        "url": r.url(body, key),
        "auth": r.attempt(lambda: _auth(r, key, name, kind, r.table(body, key, "auth", required=True)),
                          AuthSettings(method="", config_file=r.file)),
        "timeout_seconds": timeout,
        "read_budget_seconds": r.number(body, key, "read_budget_seconds", 900.0, lo=10, hi=86_400),
        "request_deadline_seconds": r.number(body, key, "request_deadline_seconds", 4 * timeout, lo=1, hi=3600),
        "max_response_bytes": r.integer(body, key, "max_response_bytes", 20 * 1024 * 1024, lo=65_536, hi=1024**3),
        "max_field_chars": r.integer(body, key, "max_field_chars", 100_000, lo=1000, hi=10_000_000),
        "max_pages": r.integer(body, key, "max_pages", 10_000, lo=1, hi=1_000_000),
        "max_writes_per_run": (r.integer(body, key, "max_writes_per_run", 0, lo=0, hi=1_000_000)
                               if "max_writes_per_run" in body else None),
        "verify_tls": verify_tls,
        "ca_bundle": r.attempt(lambda: _ca_bundle(r, key, body, verify_tls), ""),
    }


def _ca_bundle(r: TomlReader, key: str, body: dict, verify_tls: bool) -> str:
    """[sources.NAME] ca_bundle: "" (the system's CAs) or a PEM file of the CAs to trust, as an
    absolute path. Checked now, so a wrong path fails check-config, not the 2 a.m. scan."""
    value = r.string(body, key, "ca_bundle", "").strip()
    if not value:
        return ""
    path = f"{key}.ca_bundle"
    if not verify_tls:
        # Contradictory: which did the admin mean? Refused rather than guessed (see README, TLS).
        raise r.fail(path, "ca_bundle is set but verify_tls = false turns certificate checks off, so it would be ignored",
                     got=value, expected="verify_tls = true with this ca_bundle, or no ca_bundle")
    file = Config(path=Path(r.file).absolute()).resolve(value).absolute()
    want = "a PEM file of the CA certificates to trust (relative paths are taken from the config file's folder)"
    if not file.exists():
        raise r.fail(path, f"the CA bundle {file} does not exist", got=value, expected=want)
    if not file.is_file():
        raise r.fail(path, f"the CA bundle {file} is not a file", got=value, expected=want)
    try:
        with file.open("rb") as handle:
            handle.read(1)
        ssl.create_default_context(cafile=str(file))
    except ssl.SSLError as exc:  # an OSError too: first
        raise r.fail(path, f"the CA bundle {file} holds no certificate OpenSSL can read ({exc.reason or exc})",
                     got=value, expected=want + ' ("-----BEGIN CERTIFICATE-----" blocks)') from None
    except OSError as exc:
        raise r.fail(path, f"the CA bundle {file} cannot be read: {exc.strerror or exc}", got=value,
                     expected=want + ", readable by this user") from None
    return str(file)


def _servicenow(r: TomlReader, key: str, name: str, body: dict) -> ServiceNowSettings:
    r.keys(body, key, SN_KEYS, source=name)
    common = _common(r, key, name, body, "servicenow")
    table = r.string(body, key, "table", ServiceNowSettings.table, nonempty=True)
    if not SN_TABLE_RE.fullmatch(table):
        r.note(r.fail(f"{key}.table", "not a valid ServiceNow table name", got=table,
                      expected='a table name of lowercase letters, digits and "_", e.g. "sn_cim_register"'))
    query = r.string(body, key, "query", "")
    if "ORDERBY" in query.upper():
        r.note(r.fail(f"{key}.query", "the query must not order the results", got=query,
                      expected="a filter only (the bot orders by sys_updated_on, sys_id itself for stable paging)"))
    return ServiceNowSettings(
        **common,
        table=table,
        query=query.strip(),
        fields=_fields(r, key, body, SERVICENOW_FIELDS),
        journal_field=r.string(body, key, "journal_field", "work_notes", choices=("work_notes", "comments")),
        page_size=r.integer(body, key, "page_size", 500, lo=1, hi=PAGE_LIMITS["servicenow"]),
        bot_user=_bot_user(r, key, body),
    )


def _bot_user(r: TomlReader, key: str, body: dict) -> str:
    """[sources.NAME] bot_user: the ServiceNow user_name the bot writes as ("" = found out, see README)."""
    value = r.string(body, key, "bot_user", "").strip()
    if value and (any(ord(ch) < 32 for ch in value) or "^" in value):
        r.note(r.fail(f"{key}.bot_user", "not a ServiceNow user name", got=value,
                      expected='the user_name of the bot\'s sys_user record, e.g. "svc.csi-coach"'))
    return value


def _jira(r: TomlReader, key: str, name: str, body: dict) -> JiraSettings:
    r.keys(body, key, JIRA_KEYS, source=name)
    common = _common(r, key, name, body, "jira")
    flavor = r.string(body, key, "flavor", "auto", choices=("cloud", "server", "auto"))
    jql = r.string(body, key, "jql", "")
    if re.search(r"\border\s+by\b", jql, re.IGNORECASE):
        r.note(r.fail(f"{key}.jql", "the JQL must not contain ORDER BY", got=jql,
                      expected="a filter only (the bot appends ORDER BY updated ASC, key ASC for stable paging)"))
    limit = PAGE_LIMITS[f"jira-{flavor}"]
    vis = r.table(body, key, "visibility")
    r.keys(vis, f"{key}.visibility", ("type", "value"))
    vis_type = vis_value = ""
    if vis:
        vis_type = r.attempt(lambda: r.string(vis, f"{key}.visibility", "type", choices=("role", "group")), "")
        vis_value = r.attempt(lambda: r.string(vis, f"{key}.visibility", "value", nonempty=True).strip(), "")
    return JiraSettings(
        **common,
        flavor=flavor,
        jql=jql.strip(),
        fields=_fields(r, key, body, JIRA_FIELDS),
        page_size=r.integer(body, key, "page_size", 100 if limit == 100 else 500, lo=1, hi=limit),
        visibility_type=vis_type,
        visibility_value=vis_value,
        internal=r.boolean(body, key, "internal", False),
    )


def _auth(r: TomlReader, key: str, source: str, kind: str, t: dict) -> AuthSettings:
    akey = f"{key}.auth"
    r.keys(t, akey, ("method",) + ENV_KEYS, source=source)
    methods = AUTH_METHODS[kind]
    other = next(k for k in SOURCE_TYPES if k != kind)
    if t.get("method") in AUTH_METHODS[other] and t.get("method") not in methods:
        raise r.fail(f"{akey}.method", f"{t['method']!r} is a {other} method, not one for a {kind} source",
                     got=t["method"], expected="one of: " + ", ".join(methods))
    method = r.string(t, akey, "method", choices=tuple(methods))
    needed = methods[method]
    for name in t:
        if name != "method" and name not in needed and name in ENV_KEYS:
            r.note(r.fail(f"{akey}.{name}", f"{name!r} is not used by method {method!r}",
                          expected=f"for {kind} {method}: " + ", ".join(needed)))
    envs: dict[str, str] = {}
    inline_secret = any(name.lower() in INLINE_SECRET_KEYS for name in t)
    for name in needed:
        if name not in t:
            if inline_secret:
                continue  # its error already says which *_env key to write instead
            r.note(r.fail(f"{akey}.{name}", f"method {method!r} needs {name!r}",
                          expected=f'{name} = "{env_example(source, name)}" (the name of an environment variable)'))
            continue
        envs[name] = r.env_name(t, akey, name, source)
    return AuthSettings(method=method, config_file=r.file, **envs)


def _fields(r: TomlReader, key: str, body: dict, defaults: FieldMap) -> FieldMap:
    fkey = f"{key}.fields"
    t = r.table(body, key, "fields")
    r.keys(t, fkey, FIELD_KEYS)
    changes: dict[str, object] = {}
    for name, value in t.items():
        path = f"{fkey}.{name}"
        if name not in FIELD_KEYS:
            continue  # noted by r.keys
        if name == "goal":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
                r.note(r.fail(path, "'goal' must be a field name or a list of them", got=value,
                              expected='e.g. "benefit" or ["benefit", "u_expected_value"]'))
                continue
            bad = [v for v in items if not FIELD_NAME_RE.fullmatch(v)]
            if bad:
                r.note(r.fail(path, "not a valid field name", got=bad[0], expected="letters, digits, '_', '.', '-'"))
                continue
            changes[name] = tuple(items)
            continue
        if not isinstance(value, str):
            r.note(r.fail(path, f"{name!r} must be a field name", got=value, expected="a quoted field name"))
            continue
        if value == "" and name in ("labels", "group"):
            changes[name] = ""
            continue
        if not FIELD_NAME_RE.fullmatch(value):
            r.note(r.fail(path, "not a valid field name", got=value, expected="letters, digits, '_', '.', '-'"))
            continue
        changes[name] = value
    return replace(defaults, **changes)  # type: ignore[arg-type]
