"""Connectors to ticketing systems, behind one interface (``connectors.base.Connector``).

``open_connector(settings, limiters=...)`` picks the connector for the source's
``type`` and builds its resilient HTTP session. Connector modules are imported
only when a source of that type is opened, so a ServiceNow-only install never
imports the jira library.

Errors, for every connector (converted at the connector boundary):

| what happened                                  | raised            |
| ---------------------------------------------- | ----------------- |
| a secret's environment variable is not set     | ConfigError       |
| a goal field on no record of a page (fetch)    | ConfigError       |
| 400 (bad query, bad field)                     | BadRequest        |
| 401 (after one token renewal where OAuth)      | AuthError         |
| 403                                            | PermissionDenied  |
| 404                                            | NotFound          |
| 410 (removed endpoint, e.g. Jira Cloud search) | Gone              |
| 429 that outlasts policy.max_wait              | RateLimited       |
| 5xx / connection failure after the retries     | TransientError    |
| a write that may or may not have landed        | AmbiguousWrite    |
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from csi_coach.config import SourceSettings
from csi_coach.connectors.base import Connector
from csi_coach.errors import ConfigError

# type -> "module:Class"; each class has ``open(settings, *, limiters, policy=None)``.
REGISTRY: dict[str, str] = {
    "servicenow": "csi_coach.connectors.servicenow.connector:ServiceNowConnector",
    "jira": "csi_coach.connectors.jira.connector:JiraConnector",
}


def connector_class(kind: str) -> Any:
    try:
        module_name, _, cls_name = REGISTRY[kind].partition(":")
    except KeyError:
        raise ConfigError(f"unknown source type {kind!r}", key="sources.*.type",
                          expected="one of: " + ", ".join(REGISTRY)) from None
    return getattr(import_module(module_name), cls_name)


def open_connector(settings: SourceSettings, *, limiters: Any, policy: Any = None) -> Connector:
    """The connector for ``settings.type``, with a session on the shared ``limiters``.

    Secrets are read here (a missing environment variable is a ConfigError).
    """
    cls = connector_class(settings.type)
    return cls.open(settings, limiters=limiters, policy=policy)


__all__ = ["Connector", "REGISTRY", "connector_class", "open_connector"]
