"""Logs are JSON lines with the call's fields, and libraries that log URLs are kept quiet."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from app.observability.logs import QUIET_LOGGERS, JsonFormatter, configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_a_log_line_is_json_with_the_extra_fields() -> None:
    record = logging.LogRecord("scv", logging.WARNING, __file__, 1, "sync done", None, None)
    record.source = "CRM"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "sync done"
    assert line["source"] == "CRM"
    assert line["level"] == "WARNING"


def test_an_exception_is_logged_by_type_and_place_not_by_message() -> None:
    try:
        raise ValueError("ada.lovelace@example.com is not allowed")
    except ValueError:
        record = logging.LogRecord(
            "scv", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info()
        )
    text = JsonFormatter().format(record)
    assert "ada.lovelace" not in text
    assert json.loads(text)["error_type"] == "ValueError"


@pytest.mark.usefixtures("restore_logging")
def test_libraries_that_log_urls_are_quiet_at_info() -> None:
    configure_logging("INFO")
    assert logging.getLogger("scv").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
