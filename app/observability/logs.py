"""One JSON object per log line, with the ``extra={...}`` fields of the call.

Written by hand rather than with a JSON-logging package: it is twenty lines on top of the
standard library's ``logging.Formatter``, and the fields we log are ours to choose. The
house rule is that log calls pass identifiers, codes and counts, never personal data.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import orjson

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # Where it failed, not what the exception said: its message may quote data.
            entry["error_type"] = record.exc_info[0].__name__
            entry["trace"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(record.exc_info[2])
            ]
        return orjson.dumps(entry, default=str).decode()


#: Libraries whose INFO lines are noise at best and personal data at worst: httpx logs every
#: request URL, and a search URL carries the email or phone searched for.
QUIET_LOGGERS = ("httpx", "httpcore", "pgserver", "asyncio")


def configure_logging(level: str) -> None:
    """JSON lines on stderr at ``level`` for the whole process; chatty libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
