"""Logging as ``[logging]`` in the config asks: level, plain or JSON lines, optional file.

Every line the bot writes goes through the handlers installed here, on the
``csi_coach`` logger (every module logs under it) and on the few library loggers
whose warnings the bot surfaces (``py.warnings``, for urllib3's InsecureRequestWarning
among others, ``urllib3``, ``requests``, ``jira``, ``apscheduler``), so ``format``
and ``file`` apply to all of them and no line is written twice.

Where lines go:

| ``file`` | on a terminal                        | no terminal (cron, systemd, k8s)  |
| -------- | ------------------------------------ | --------------------------------- |
| set      | the file; warnings also to stderr    | the file only; stderr stays empty |
| unset    | warnings to stderr (a progress line) | stderr, at the configured level   |

Nothing here ever formats a secret: the config's ``Secret`` values mask themselves,
HTTP libraries are kept at WARNING so request headers are never logged, and every
handler carries ``RedactFilter``, which scrubs each line (message, traceback, stack)
with redact.py: a server that echoes a credential in its error body, copied into a
message, is written as ``[redacted]``.

A log file the bot creates is made 0600, in folders made 0700, whatever the umask
(config/paths.py); an existing file keeps its mode.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from csi_coach import redact
from csi_coach.config import LoggingSettings
from csi_coach.config.paths import create_private_file
from csi_coach.errors import ConfigError

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL}


class RedactFilter(logging.Filter):
    """Scrubs a record before any handler formats it: its message (arguments merged in;
    in the bot's own messages a line break is shown as \\n), its traceback and its stack.
    Changes the record in place (every handler of the bot carries this filter; scrubbing
    twice changes nothing), never drops one."""

    _plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what was given, as logging itself would fail to
            message = f"{record.msg!r} % {record.args!r}"
        message = redact.scrub(message)
        if record.name.startswith(BOT_LOGGER):
            # Ticket text (a number, a title) or a server's error in a message cannot start a
            # line of its own: the bot's own messages are one line each.
            message = message.replace("\r", "\\r").replace("\n", "\\n")
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = redact.scrub(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


PLAIN = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")

BOT_LOGGER = "csi_coach"
# Libraries whose warnings reach the bot's log (never below WARNING: their debug
# lines can hold request details).
LIBRARY_LOGGERS = ("py.warnings", "urllib3", "requests", "jira", "apscheduler")

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
    reset()
    if interactive is None:
        interactive = sys.stderr.isatty()
    if file_handler is not None:
        file_handler.setLevel(level)
        _installed.append(file_handler)
    if file_handler is None or interactive:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(max(level, logging.WARNING) if interactive else level)
        _installed.append(console)
    for handler in _installed:
        handler.setFormatter(formatter)
        handler.addFilter(RedactFilter())
    logging.captureWarnings(True)
    for name in (BOT_LOGGER, *LIBRARY_LOGGERS):
        logger = logging.getLogger(name)
        logger.setLevel(level if name == BOT_LOGGER else max(level, logging.WARNING))
        logger.propagate = False
        for handler in _installed:
            logger.addHandler(handler)


def _open_file(log_file: Path, config_file: str | None) -> logging.FileHandler:
    try:
        create_private_file(log_file)
        return logging.FileHandler(log_file, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot open the log file {log_file} for appending: {exc.strerror or exc}",
            file=config_file, key="logging.file",
            expected='a file this user can create or append to, or "" to log to standard error',
        ) from None


def reset() -> None:
    """Remove the handlers ``configure`` installed (tests, or an embedding program)."""
    for name in (BOT_LOGGER, *LIBRARY_LOGGERS):
        logger = logging.getLogger(name)
        for handler in _installed:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    for handler in _installed:
        handler.close()
    _installed.clear()
    logging.captureWarnings(False)
