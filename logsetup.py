"""Logging as ``[logging]`` in the config asks: level, plain or JSON lines, optional file.

On a terminal the console only shows warnings (a progress line shows the rest);
under cron, systemd or Kubernetes (no TTY) every line at the configured level goes
to stderr as plain or JSON log lines. Nothing here ever formats a secret: the
config's ``Secret`` values mask themselves, and HTTP libraries are kept at WARNING
so request headers are never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

from config import LoggingSettings
from errors import ConfigError

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


PLAIN = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")

_installed: list[logging.Handler] = []


def configure(
    settings: LoggingSettings,
    *,
    log_file: Path | None = None,
    interactive: bool | None = None,
    config_file: str | None = None,
) -> None:
    """(Re)install the bot's handlers on the ``csi_coach`` logger.

    ``config_file`` is only named in errors. A log file that cannot be opened is a
    ConfigError, raised before any handler changes.
    """
    level = LEVELS.get(settings.level.lower())
    if level is None:
        raise ConfigError(
            "unknown log level", file=config_file, key="logging.level", got=settings.level, has_got=True,
            expected=" | ".join(LEVELS),
        )
    formatter: logging.Formatter = JsonFormatter() if settings.format == "json" else PLAIN
    file_handler = _open_file(log_file, config_file) if log_file is not None else None
    root = logging.getLogger("csi_coach")
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    root.setLevel(level)
    root.propagate = False
    if interactive is None:
        interactive = sys.stderr.isatty()
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(max(level, logging.WARNING) if interactive else level)
    console.setFormatter(formatter)
    _installed.append(console)
    if file_handler is not None:
        file_handler.setLevel(level)
        file_handler.setFormatter(formatter)
        _installed.append(file_handler)
    for handler in _installed:
        root.addHandler(handler)
    for noisy in ("urllib3", "requests", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _open_file(log_file: Path, config_file: str | None) -> logging.FileHandler:
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        return logging.FileHandler(log_file, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot open the log file {log_file} for appending: {exc.strerror or exc}",
            file=config_file, key="logging.file",
            expected='a file this user can create or append to, or "" to log to standard error',
        ) from None


def reset() -> None:
    """Remove the handlers ``configure`` installed (tests, or an embedding program)."""
    root = logging.getLogger("csi_coach")
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    root.propagate = True
    root.setLevel(logging.NOTSET)
