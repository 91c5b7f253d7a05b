"""The bot's configuration: typed settings and the TOML loader that fills them.

The TOML shape (every option is shown, commented, in config.example.toml):

    rules = "default"                # or a path to a rules file (relative to this file)
    templates_dir = ""               # optional folder of admin templates

    [state]        path
    [logging]      level, format ("plain" | "json"), file
    [schedule]     cron, timezone, misfire_grace_seconds, catch_up
    [comments]     policy: on_change, cooldown_days, max_writes_per_run, workers,
                   skip_states, opt_out_labels, acknowledge_fixed, coach_categories
    [sources.NAME] type = "servicenow" | "jira", url, ... and
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
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from errors import ConfigError
from tomlpos import find_line


class Secret:
    """A credential read from the environment; never shows its value."""

    __slots__ = ("env", "_value")

    def __init__(self, env: str, value: str) -> None:
        self.env = env
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(${self.env})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.env == self.env and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.env)


def secret_from_env(env_name: str, *, file: str | None = None, key: str | None = None) -> Secret:
    """Read one secret from the environment; a missing variable is a ConfigError."""
    value = os.environ.get(env_name)
    if value is None or value == "":
        raise ConfigError(
            f"environment variable {env_name} is not set",
            file=file,
            key=key,
            expected="the secret in that variable (the config names the variable, never the value)",
        )
    return Secret(env_name, value)


@dataclass(frozen=True)
class AuthSettings:
    # servicenow: "basic" | "oauth_password" | "oauth_client_credentials" | "api_key"
    # jira:       "basic" (Cloud: email + API token) | "pat" (Data Center: bearer token)
    method: str
    username_env: str = ""  # ServiceNow user / Jira Cloud e-mail
    password_env: str = ""  # ServiceNow password
    token_env: str = ""  # Jira API token or PAT
    client_id_env: str = ""  # ServiceNow OAuth
    client_secret_env: str = ""  # ServiceNow OAuth
    api_key_env: str = ""  # ServiceNow x-sn-apikey
    # The file these settings were read from (set by load_config), so that a missing
    # variable, found only at connect time, still names the file to fix.
    config_file: str = field(default="", compare=False)

    def secret(self, attr: str, *, file: str | None = None, key: str | None = None) -> Secret:
        """The secret behind ``<attr>_env``, e.g. ``secret("password")``.

        A missing variable raises ConfigError naming ``file`` (default: the
        config file these settings came from) and ``key``.
        """
        return secret_from_env(getattr(self, f"{attr}_env"), file=file or self.config_file or None, key=key)


@dataclass(frozen=True)
class FieldMap:
    """Which vendor field fills which Record field. ``goal`` may join several."""

    number: str
    title: str
    description: str
    goal: tuple[str, ...]
    service: str
    owner: str
    state: str
    updated: str
    labels: str = ""


SERVICENOW_FIELDS = FieldMap(
    number="number",
    title="short_description",
    description="description",
    goal=("benefit",),
    service="business_service",
    owner="assigned_to",
    state="state",
    updated="sys_updated_on",
)

JIRA_FIELDS = FieldMap(
    number="key",
    title="summary",
    description="description",
    goal=(),  # a custom field id, e.g. ("customfield_10050",); differs per site
    service="components",
    owner="assignee",
    state="status",
    updated="updated",
    labels="labels",
)


@dataclass(frozen=True)
class ServiceNowSettings:
    name: str
    url: str
    auth: AuthSettings
    table: str = "sn_cim_register"
    query: str = ""  # the admin's encoded query, e.g. "active=true"
    fields: FieldMap = SERVICENOW_FIELDS
    journal_field: str = "work_notes"  # or "comments" (customer-visible)
    page_size: int = 500
    timeout_seconds: float = 30.0
    verify_tls: bool = True
    type: str = "servicenow"


@dataclass(frozen=True)
class JiraSettings:
    name: str
    url: str
    auth: AuthSettings
    flavor: str = "auto"  # "cloud" | "server" | "auto"
    jql: str = ""  # the admin's JQL, e.g. 'project = CSI AND issuetype = Improvement'
    fields: FieldMap = JIRA_FIELDS
    page_size: int = 100
    visibility_type: str = ""  # "" | "role" | "group"
    visibility_value: str = ""
    internal: bool = False  # Jira Service Management: mark comments internal
    timeout_seconds: float = 30.0
    verify_tls: bool = True
    type: str = "jira"


SourceSettings = ServiceNowSettings | JiraSettings


@dataclass(frozen=True)
class ScheduleSettings:
    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    misfire_grace_seconds: int = 3600
    catch_up: bool = True  # scan at start-up when the last good scan is over one period old


@dataclass(frozen=True)
class CommentPolicy:
    on_change: str = "edit"  # "edit" in place where possible, "new" entry, or "none"
    cooldown_days: int = 30  # before coaching the same finding again
    max_writes_per_run: int = 200  # the rest is deferred to the next run
    workers: int = 4  # bounded write pool
    skip_states: tuple[str, ...] = ("closed", "cancelled", "canceled", "done", "resolved")
    opt_out_labels: tuple[str, ...] = ("csi-coach-skip",)
    acknowledge_fixed: bool = False  # a short thank-you when the owner fixes the goal
    coach_categories: tuple[str, ...] = ("process_only", "no_goal")


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "info"
    format: str = "plain"  # "plain" | "json"
    file: str = ""


@dataclass(frozen=True)
class StateSettings:
    path: str = "state/csi-coach.sqlite"


@dataclass(frozen=True)
class Config:
    path: Path  # the file it was read from; relative paths resolve beside it
    rules: str = "default"
    templates_dir: str = ""
    state: StateSettings = StateSettings()
    logging: LoggingSettings = LoggingSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    comments: CommentPolicy = CommentPolicy()
    sources: tuple[SourceSettings, ...] = ()

    def resolve(self, relative: str) -> Path:
        """A path from the config, taken relative to the config file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    def rules_spec(self) -> str | Path:
        """What to pass to ``rules.load_ruleset``: "default" or the absolute rules path."""
        return "default" if self.rules == "default" else self.resolve(self.rules).absolute()

    def templates_path(self) -> Path | None:
        """The admin templates folder, or None for the shipped templates only."""
        return self.resolve(self.templates_dir).absolute() if self.templates_dir.strip() else None

    def source(self, name: str) -> SourceSettings:
        for s in self.sources:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r}", file=str(self.path), key="sources", expected=f"one of: {names}")


# --------------------------------------------------------------------------- loader
#
# Validation is strict on purpose: a typo found by `check-config` at 3 p.m. is
# cheaper than a silent default at 2 a.m. Every error names the file, the dotted
# key path, the line, the bad value (never a secret) and what is valid.

_MISSING = object()

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SOURCE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FIELD_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
SN_TABLE_RE = re.compile(r"[a-z0-9_]{1,80}")

# Keys that would hold a credential itself. The file may only *name* the variable.
INLINE_SECRET_KEYS = frozenset(
    {
        "password", "passwd", "pass", "pwd", "token", "api_token", "apitoken", "api_key",
        "apikey", "client_secret", "secret", "pat", "access_token", "refresh_token",
        "bearer", "private_key", "credential", "credentials",
    }
)

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
ENV_KEYS = ("username_env", "password_env", "token_env", "client_id_env", "client_secret_env", "api_key_env")

TOP_KEYS = ("rules", "templates_dir", "state", "logging", "schedule", "comments", "sources")
STATE_KEYS = ("path",)
LOGGING_KEYS = ("level", "format", "file")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SCHEDULE_KEYS = ("cron", "timezone", "misfire_grace_seconds", "catch_up")
COMMENT_KEYS = (
    "on_change", "cooldown_days", "max_writes_per_run", "workers", "skip_states",
    "opt_out_labels", "acknowledge_fixed", "coach_categories",
)
COACHABLE = ("process_only", "no_goal")
SN_KEYS = ("type", "url", "auth", "table", "query", "fields", "journal_field", "page_size", "timeout_seconds", "verify_tls")
JIRA_KEYS = ("type", "url", "auth", "flavor", "jql", "fields", "page_size", "visibility", "internal", "timeout_seconds", "verify_tls")
FIELD_KEYS = ("number", "title", "description", "goal", "service", "owner", "state", "updated", "labels")
PAGE_LIMITS = {"servicenow": 10000, "jira-cloud": 100, "jira-auto": 100, "jira-server": 1000}


def _env_example(source: str, key: str) -> str:
    stem = key[: -len("_env")] if key.endswith("_env") else key
    return "CSI_" + re.sub(r"[^A-Z0-9]+", "_", f"{source}_{stem}".upper()).strip("_")


class _Reader:
    """Typed access to one parsed file, raising ConfigError with file/key/line."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = str(file)
        self.text = text

    def line(self, key: str) -> int | None:
        parts = [p for p in key.split(".") if p]
        while parts:  # a missing or inline key: fall back to its nearest parent
            n = find_line(self.text, parts)
            if n is not None:
                return n
            parts = parts[:-1]
        return None

    def fail(self, key: str, message: str, *, expected: str | None = None, got: object = _MISSING) -> ConfigError:
        return ConfigError(
            message,
            file=self.file,
            key=key or None,
            line=self.line(key) if key else None,
            expected=expected,
            got=None if got is _MISSING else got,
            has_got=got is not _MISSING,
        )

    @staticmethod
    def join(key: str, name: str) -> str:
        return f"{key}.{name}" if key else name

    def inline_secret(self, path: str, name: str, source: str = "") -> ConfigError:
        env_key = {"pass": "password", "passwd": "password", "pwd": "password", "api_token": "token",
                   "apitoken": "token", "pat": "token", "apikey": "api_key", "secret": "client_secret"}.get(name, name)
        env_key = env_key + "_env" if env_key + "_env" in ENV_KEYS else "token_env"
        return self.fail(
            path,
            f"a secret written in the config file is refused ({name!r}; its value is not shown). "
            f"Put the secret in an environment variable and name that variable instead, e.g. "
            f'{env_key} = "{_env_example(source or "source", env_key)}"',
            expected="the name of an environment variable, never the secret itself",
        )

    def keys(self, table: dict, key: str, allowed: tuple[str, ...], *, source: str = "") -> None:
        for name in table:
            path = self.join(key, name)
            if name.lower() in INLINE_SECRET_KEYS:
                raise self.inline_secret(path, name.lower(), source)
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.fail(path, f"unknown key {name!r}{hint}", expected="one of: " + ", ".join(allowed))

    def table(self, parent: dict, key: str, name: str, *, required: bool = False) -> dict:
        path = self.join(key, name)
        if name not in parent:
            if required:
                raise self.fail(path, f"the table [{path}] is required", expected=f"a [{path}] table")
            return {}
        value = parent[name]
        if not isinstance(value, dict):
            raise self.fail(path, f"{name!r} must be a table", got=value, expected=f"a [{path}] table")
        return value

    def string(self, t: dict, key: str, name: str, default: object = _MISSING, *,
               choices: tuple[str, ...] = (), nonempty: bool = False, lower: bool = False, want: str = "") -> str:
        path = self.join(key, name)
        if name not in t:
            if default is _MISSING:
                want = want or ("one of: " + ", ".join(choices) if choices else "a string")
                raise self.fail(path, f"{name!r} is required", expected=want)
            return default  # type: ignore[return-value]
        value = t[name]
        if not isinstance(value, str):
            raise self.fail(path, f"{name!r} must be a string", got=value, expected="a quoted string")
        if lower:
            value = value.strip().lower()
        if choices and value not in choices:
            raise self.fail(path, f"not a valid {name}", got=value, expected="one of: " + ", ".join(choices))
        if nonempty and not value.strip():
            raise self.fail(path, f"{name!r} must not be empty", got=value, expected="a non-empty string")
        return value

    def integer(self, t: dict, key: str, name: str, default: int, *, lo: int, hi: int) -> int:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"{name!r} must be a whole number", got=value, expected=f"an integer from {lo} to {hi}")
        if not lo <= value <= hi:
            raise self.fail(path, f"{name!r} is out of range", got=value, expected=f"an integer from {lo} to {hi}")
        return value

    def number(self, t: dict, key: str, name: str, default: float, *, lo: float, hi: float) -> float:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"{name!r} must be a number", got=value, expected=f"a number from {lo:g} to {hi:g}")
        if not lo <= value <= hi:
            raise self.fail(path, f"{name!r} is out of range", got=value, expected=f"a number from {lo:g} to {hi:g}")
        return float(value)

    def boolean(self, t: dict, key: str, name: str, default: bool) -> bool:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if not isinstance(value, bool):
            raise self.fail(path, f"{name!r} must be true or false", got=value, expected="true or false (unquoted)")
        return value

    def strings(self, t: dict, key: str, name: str, default: tuple[str, ...], *,
                choices: tuple[str, ...] = (), lower: bool = False) -> tuple[str, ...]:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if not isinstance(value, list):
            raise self.fail(path, f"{name!r} must be a list of strings", got=value, expected='a list such as ["a", "b"]')
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{path}.{i}", f"item {i} of {name!r} must be a non-empty string", got=item,
                                expected='a list of non-empty strings such as ["a", "b"]')
            item = item.strip().lower() if lower else item.strip()
            if choices and item not in choices:
                raise self.fail(f"{path}.{i}", f"not a valid item of {name!r}", got=item, expected="items from: " + ", ".join(choices))
            out.append(item)
        return tuple(out)

    def env_name(self, t: dict, key: str, name: str, source: str = "") -> str:
        path = self.join(key, name)
        value = t[name]
        # The value is never echoed: an admin who pasted the secret here must not see it in a log.
        looks_like_token = bool(re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"[0-9]", value)) \
            if isinstance(value, str) else False
        if not isinstance(value, str) or not ENV_NAME_RE.fullmatch(value) or len(value) > 64 or looks_like_token:
            raise self.fail(
                path,
                f"{name!r} must be the NAME of an environment variable that holds the secret, not the secret "
                "itself (the value is not shown, in case it is one). Put the secret in an environment "
                "variable and write its name here",
                expected=f'a variable name of letters, digits and underscores, e.g. "{_env_example(source or "source", name)}"',
            )
        return value

    def url(self, t: dict, key: str, name: str = "url") -> str:
        path = self.join(key, name)
        value = self.string(t, key, name, nonempty=True, want="the base URL of the instance, e.g. https://example.service-now.com")
        try:
            parts = urlsplit(value.strip())
            host = parts.hostname
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise self.fail(path, "not a valid URL", got=value, expected="an http:// or https:// base URL") from None
        if parts.username is not None or parts.password is not None:
            masked = f"{parts.scheme}://***@{host or ''}" + (f":{parts.port}" if parts.port else "")
            raise self.fail(
                path,
                f"credentials written in the URL are refused ({masked}; not shown). Put them in environment "
                f"variables and name those in [{key}.auth]",
                expected="a base URL without user:password@",
            )
        if parts.scheme not in ("http", "https") or not host:
            raise self.fail(path, "not a usable base URL", got=value, expected="an http:// or https:// URL with a host name")
        if parts.query or parts.fragment:
            raise self.fail(path, "the URL must not carry a query or fragment", got=value,
                            expected="the instance's base URL, e.g. https://example.service-now.com")
        return value.strip().rstrip("/")


def _toml_error(file: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    line = None
    if m:
        line = int(m.group(1))
        message = f"{message[: m.start()]} at column {m.group(2)}"
    elif re.search(r"\(at end of document\)\s*$", message):
        message = re.sub(r"\s*\(at end of document\)\s*$", " at the end of the file", message)
        line = max(1, len(text.splitlines()))
    return ConfigError(f"TOML syntax error: {message}", file=str(file), line=line,
                       expected="valid TOML: key = value lines under [table] headers")


def _read_toml(path: Path) -> tuple[str, dict]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path),
                          expected="a TOML config file (copy config.example.toml to start, or pass --config PATH)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("the file is not UTF-8 text", file=str(path), line=line, expected="a UTF-8 encoded TOML file") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, text, exc) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises ConfigError naming file, key and line.

    Secrets are not read here: sources hold only the names of environment
    variables, resolved by the connector at connect time (``AuthSettings.secret``).
    """
    path = Path(path)
    text, data = _read_toml(path)
    r = _Reader(path, text)
    r.keys(data, "", TOP_KEYS)
    cfg_path = path.absolute()

    rules = r.string(data, "", "rules", "default", nonempty=True)
    templates_dir = r.string(data, "", "templates_dir", "")
    if templates_dir.strip():
        folder = Config(path=cfg_path).resolve(templates_dir)
        if not folder.is_dir():
            raise r.fail("templates_dir", "the templates folder does not exist", got=templates_dir,
                         expected=f"an existing folder (looked for {folder}), or \"\" for the shipped templates")

    t = r.table(data, "", "state")
    r.keys(t, "state", STATE_KEYS)
    state = StateSettings(path=r.string(t, "state", "path", StateSettings.path, nonempty=True))
    _file_path(r, "state.path", state.path, cfg_path, "the state file (SQLite)")

    t = r.table(data, "", "logging")
    r.keys(t, "logging", LOGGING_KEYS)
    logging_ = LoggingSettings(
        level=r.string(t, "logging", "level", LoggingSettings.level, choices=LOG_LEVELS, lower=True),
        format=r.string(t, "logging", "format", LoggingSettings.format, choices=("plain", "json")),
        file=r.string(t, "logging", "file", LoggingSettings.file),
    )
    if logging_.file.strip():
        _file_path(r, "logging.file", logging_.file, cfg_path, "the log file")

    return Config(
        path=cfg_path,
        rules=rules,
        templates_dir=templates_dir,
        state=state,
        logging=logging_,
        schedule=_schedule(r, r.table(data, "", "schedule")),
        comments=_comments(r, r.table(data, "", "comments")),
        sources=_sources(r, r.table(data, "", "sources")),
    )


def file_path_problem(path: Path) -> str | None:
    """Why ``path`` can never be a file the bot creates, or None. Only stats; touches nothing.

    Two mistakes are certain without trying a write: the path is an existing
    folder, or a file stands where one of its folders would have to be created.
    (Whether this user may write there is check-config's job: ``checks.path_problems``.)
    """
    if path.is_dir():
        return f"{path} is a folder, not a file"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, so the folder {path.parent} cannot be created"
    return None


def _file_path(r: _Reader, key: str, value: str, cfg_path: Path, what: str) -> None:
    problem = file_path_problem(Config(path=cfg_path).resolve(value).absolute())
    if problem:
        raise r.fail(key, f"cannot be used for {what}: {problem}", got=value,
                     expected="a file path (relative paths are taken from the config file's folder) "
                              "whose folder exists or can be created")


def _schedule(r: _Reader, t: dict) -> ScheduleSettings:
    r.keys(t, "schedule", SCHEDULE_KEYS)
    tz = r.string(t, "schedule", "timezone", ScheduleSettings.timezone, nonempty=True)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("schedule.timezone", "unknown time zone", got=tz,
                     expected='an IANA time zone name such as "UTC" or "Europe/Berlin"') from None
    cron = r.string(t, "schedule", "cron", ScheduleSettings.cron, nonempty=True)
    from apscheduler.triggers.cron import CronTrigger  # imported late: only needed to validate

    try:
        CronTrigger.from_crontab(cron, timezone=zone)
    except ValueError as exc:
        raise r.fail("schedule.cron", f"not a valid cron expression: {exc}", got=cron,
                     expected='five fields "minute hour day-of-month month day-of-week", e.g. "0 2 * * *"') from None
    return ScheduleSettings(
        cron=cron,
        timezone=tz,
        misfire_grace_seconds=r.integer(t, "schedule", "misfire_grace_seconds", ScheduleSettings.misfire_grace_seconds, lo=1, hi=7 * 86400),
        catch_up=r.boolean(t, "schedule", "catch_up", ScheduleSettings.catch_up),
    )


def _comments(r: _Reader, t: dict) -> CommentPolicy:
    k = "comments"
    r.keys(t, k, COMMENT_KEYS)
    d = CommentPolicy()
    categories = r.strings(t, k, "coach_categories", d.coach_categories, choices=COACHABLE)
    if not categories:
        raise r.fail(f"{k}.coach_categories", "at least one category must be coached", got=[],
                     expected=f"some of: {', '.join(COACHABLE)} (to write nothing, set max_writes_per_run = 0)")
    return CommentPolicy(
        on_change=r.string(t, k, "on_change", d.on_change, choices=("edit", "new", "none")),
        cooldown_days=r.integer(t, k, "cooldown_days", d.cooldown_days, lo=0, hi=3650),
        max_writes_per_run=r.integer(t, k, "max_writes_per_run", d.max_writes_per_run, lo=0, hi=1_000_000),
        workers=r.integer(t, k, "workers", d.workers, lo=1, hi=32),
        skip_states=r.strings(t, k, "skip_states", d.skip_states, lower=True),
        opt_out_labels=r.strings(t, k, "opt_out_labels", d.opt_out_labels),
        acknowledge_fixed=r.boolean(t, k, "acknowledge_fixed", d.acknowledge_fixed),
        coach_categories=categories,
    )


def _sources(r: _Reader, t: dict) -> tuple[SourceSettings, ...]:
    out: list[SourceSettings] = []
    for name, body in t.items():
        key = f"sources.{name}"
        if not SOURCE_NAME_RE.fullmatch(name):
            raise r.fail(key, "not a valid source name", got=name,
                         expected="letters, digits, '-' and '_' (up to 64), e.g. [sources.servicenow-prod]")
        if not isinstance(body, dict):
            raise r.fail(key, "a source must be a table", got=body, expected=f"a [{key}] table with type, url and [{key}.auth]")
        kind = r.string(body, key, "type", choices=SOURCE_TYPES)
        out.append(_servicenow(r, key, name, body) if kind == "servicenow" else _jira(r, key, name, body))
    return tuple(out)


def _common(r: _Reader, key: str, name: str, body: dict, kind: str) -> dict:
    return {
        "name": name,
        "url": r.url(body, key),
        "auth": _auth(r, key, name, kind, r.table(body, key, "auth", required=True)),
        "timeout_seconds": r.number(body, key, "timeout_seconds", 30.0, lo=1, hi=600),
        "verify_tls": r.boolean(body, key, "verify_tls", True),
    }


def _servicenow(r: _Reader, key: str, name: str, body: dict) -> ServiceNowSettings:
    r.keys(body, key, SN_KEYS, source=name)
    common = _common(r, key, name, body, "servicenow")
    table = r.string(body, key, "table", ServiceNowSettings.table, nonempty=True)
    if not SN_TABLE_RE.fullmatch(table):
        raise r.fail(f"{key}.table", "not a valid ServiceNow table name", got=table,
                     expected='a table name of lowercase letters, digits and "_", e.g. "sn_cim_register"')
    query = r.string(body, key, "query", "")
    if "ORDERBY" in query.upper():
        raise r.fail(f"{key}.query", "the query must not order the results", got=query,
                     expected="a filter only (the bot orders by sys_updated_on, sys_id itself for stable paging)")
    return ServiceNowSettings(
        **common,
        table=table,
        query=query.strip(),
        fields=_fields(r, key, body, SERVICENOW_FIELDS),
        journal_field=r.string(body, key, "journal_field", "work_notes", choices=("work_notes", "comments")),
        page_size=r.integer(body, key, "page_size", 500, lo=1, hi=PAGE_LIMITS["servicenow"]),
    )


def _jira(r: _Reader, key: str, name: str, body: dict) -> JiraSettings:
    r.keys(body, key, JIRA_KEYS, source=name)
    common = _common(r, key, name, body, "jira")
    flavor = r.string(body, key, "flavor", "auto", choices=("cloud", "server", "auto"))
    jql = r.string(body, key, "jql", "")
    if re.search(r"\border\s+by\b", jql, re.IGNORECASE):
        raise r.fail(f"{key}.jql", "the JQL must not contain ORDER BY", got=jql,
                     expected="a filter only (the bot appends ORDER BY updated ASC, key ASC for stable paging)")
    limit = PAGE_LIMITS[f"jira-{flavor}"]
    vis = r.table(body, key, "visibility")
    r.keys(vis, f"{key}.visibility", ("type", "value"))
    vis_type = vis_value = ""
    if vis:
        vis_type = r.string(vis, f"{key}.visibility", "type", choices=("role", "group"))
        vis_value = r.string(vis, f"{key}.visibility", "value", nonempty=True).strip()
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


def _auth(r: _Reader, key: str, source: str, kind: str, t: dict) -> AuthSettings:
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
        if name != "method" and name not in needed:
            raise r.fail(f"{akey}.{name}", f"{name!r} is not used by method {method!r}",
                         expected=f"for {kind} {method}: " + ", ".join(needed))
    envs: dict[str, str] = {}
    for name in needed:
        if name not in t:
            raise r.fail(f"{akey}.{name}", f"method {method!r} needs {name!r}",
                         expected=f'{name} = "{_env_example(source, name)}" (the name of an environment variable)')
        envs[name] = r.env_name(t, akey, name, source)
    return AuthSettings(method=method, config_file=r.file, **envs)


def _fields(r: _Reader, key: str, body: dict, defaults: FieldMap) -> FieldMap:
    fkey = f"{key}.fields"
    t = r.table(body, key, "fields")
    r.keys(t, fkey, FIELD_KEYS)
    changes: dict[str, object] = {}
    for name, value in t.items():
        path = f"{fkey}.{name}"
        if name == "goal":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
                raise r.fail(path, "'goal' must be a field name or a list of them", got=value,
                             expected='e.g. "benefit" or ["benefit", "u_expected_value"]')
            bad = [v for v in items if not FIELD_NAME_RE.fullmatch(v)]
            if bad:
                raise r.fail(path, "not a valid field name", got=bad[0], expected="letters, digits, '_', '.', '-'")
            changes[name] = tuple(items)
            continue
        if not isinstance(value, str):
            raise r.fail(path, f"{name!r} must be a field name", got=value, expected="a quoted field name")
        if value == "" and name == "labels":
            changes[name] = ""
            continue
        if not FIELD_NAME_RE.fullmatch(value):
            raise r.fail(path, "not a valid field name", got=value, expected="letters, digits, '_', '.', '-'")
        changes[name] = value
    return replace(defaults, **changes)  # type: ignore[arg-type]
