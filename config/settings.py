"""The bot's typed settings: what a loaded config file holds.

``config.load_config`` fills these from TOML; everything else reads them. Secrets
are never held here, only the names of the environment variables that hold them;
``Secret`` masks itself in repr/str so a value read at connect time cannot leak
into a log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from csi_coach import redact
from csi_coach.errors import ConfigError


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
        config file these settings came from) and ``key``. The value is handed to
        the scrubber (redact.py) before anyone can send it.
        """
        secret = secret_from_env(getattr(self, f"{attr}_env"), file=file or self.config_file or None, key=key)
        self._register(attr, secret.reveal())
        return secret

    def register_secrets(self) -> None:
        """Hand every credential set in the environment to the scrubber (redact.py), at
        start, so no output can show one even if a server echoes it back."""
        for attr in ("password", "token", "client_secret", "api_key"):
            name = getattr(self, f"{attr}_env")
            if name and os.environ.get(name):
                self._register(attr, os.environ[name])

    def _register(self, attr: str, value: str) -> None:
        if attr in IDENTIFIERS:
            return
        redact.register(value)
        user = os.environ.get(self.username_env, "") if self.username_env else ""
        redact.register_pair(user, value)  # as Basic auth sends it


# Who, not how: a user name or OAuth client id is not a secret, and stays readable in messages.
IDENTIFIERS = ("username", "client_id")


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
    group: str = ""  # the owner's group or team, for the report ("" = not mapped)


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
    read_budget_seconds: float = 900.0  # all reads of one scan, tries and waits included
    verify_tls: bool = True
    ca_bundle: str = ""  # absolute path of a PEM file of CAs to trust instead of the system's ("" = the system's)
    request_deadline_seconds: float = 120.0  # one request, first byte to last (the loader's default: 4 x timeout)
    max_response_bytes: int = 20 * 1024 * 1024  # a bigger answer fails the source
    max_field_chars: int = 100_000  # longer record fields are cut (Record.truncated)
    max_pages: int = 10_000  # pages per listing, past which the source fails (a server that never ends)
    # This source's share of [comments] max_writes_per_run (None = no cap of its own: the global one alone)
    max_writes_per_run: int | None = None
    # The user name (sys_user.user_name) the bot's journal entries are written as; "" = the
    # login user name (basic, oauth_password) or looked up once (client credentials, API key).
    bot_user: str = ""
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
    read_budget_seconds: float = 900.0  # all reads of one scan, tries and waits included
    verify_tls: bool = True
    ca_bundle: str = ""  # absolute path of a PEM file of CAs to trust instead of the system's ("" = the system's)
    request_deadline_seconds: float = 120.0  # one request, first byte to last (the loader's default: 4 x timeout)
    max_response_bytes: int = 20 * 1024 * 1024  # a bigger answer fails the source
    max_field_chars: int = 100_000  # longer record fields are cut (Record.truncated)
    max_pages: int = 10_000  # pages per listing, past which the source fails (a server that never ends)
    max_writes_per_run: int | None = None  # as for ServiceNow
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
    # A write whose answer was lost is looked for on the ticket this long after it,
    # then written again if absent (once); longer than the server may take to save.
    settle_after_seconds: int = 60
    skip_states: tuple[str, ...] = ("closed", "cancelled", "canceled", "done", "resolved")
    opt_out_labels: tuple[str, ...] = ("csi-coach-skip",)
    acknowledge_fixed: bool = False  # a short thank-you when the owner fixes the goal
    coach_categories: tuple[str, ...] = ("process_only", "no_goal")
    # Your CSI guide: comments link to it as "why it matters" ("" = no link).
    guide_url: str = ""
    # An owner's reply starting with one of these (ignoring case) disputes the coaching:
    # the rules it named are not coached on that record again (coach.read_pushback).
    dispute_keywords: tuple[str, ...] = ("csi-coach: wrong",)
    not_applicable_keywords: tuple[str, ...] = ("csi-coach: not applicable",)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "info"
    format: str = "plain"  # "plain" | "json"
    file: str = ""


@dataclass(frozen=True)
class StateSettings:
    path: str = "state/csi-coach.sqlite"
    history_days: int = 400  # how long each record's verdict history is kept (the report's trends and effect)


@dataclass(frozen=True)
class ReportSettings:
    dir: str = ""  # the folder `scan` and `run` write report.json and report.html into ("" = none)


@dataclass(frozen=True)
class Config:
    path: Path  # the file it was read from; relative paths resolve beside it
    rules: str = "default"
    templates_dir: str = ""
    state: StateSettings = StateSettings()
    logging: LoggingSettings = LoggingSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    comments: CommentPolicy = CommentPolicy()
    report: ReportSettings = ReportSettings()
    sources: tuple[SourceSettings, ...] = ()

    def resolve(self, relative: str) -> Path:
        """A path from the config, taken relative to the config file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    def rules_spec(self) -> str | Path:
        """What to pass to ``rules.load_ruleset``: "default" or the absolute rules path."""
        return "default" if self.rules == "default" else self.resolve(self.rules).absolute()

    def report_folder(self) -> Path | None:
        """The configured report folder (relative to the config file), or None."""
        return self.resolve(self.report.dir) if self.report.dir.strip() else None

    def templates_path(self) -> Path | None:
        """The admin templates folder, or None for the shipped templates only."""
        return self.resolve(self.templates_dir).absolute() if self.templates_dir.strip() else None

    def register_secrets(self) -> None:
        """Every source's credentials to the scrubber (redact.py); unset variables are skipped."""
        for s in self.sources:
            s.auth.register_secrets()

    def source(self, name: str) -> SourceSettings:
        for s in self.sources:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r}", file=str(self.path), key="sources", expected=f"one of: {names}")
