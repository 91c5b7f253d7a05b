"""The config file: ``load_config(path)`` reads and validates it into typed settings.

Modules: ``loader`` (validation, key by key), ``reader`` (TOML with line numbers,
located errors), ``paths`` (can the bot write there?), ``settings`` (the frozen dataclasses callers use).
"""

from csi_coach.config.loader import DEFAULT_CONFIG, default_config_path, load_config
from csi_coach.config.paths import file_path_problem
from csi_coach.config.reader import ENV_KEYS
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

__all__ = [
    "DEFAULT_CONFIG",    "ENV_KEYS", "JIRA_FIELDS", "SERVICENOW_FIELDS", "AuthSettings", "CommentPolicy", "Config", "FieldMap",
    "JiraSettings", "LoggingSettings", "ReportSettings", "ScheduleSettings", "ServiceNowSettings", "SourceSettings",
    "StateSettings", "default_config_path", "file_path_problem", "load_config",
]
