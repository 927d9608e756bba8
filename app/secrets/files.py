"""``SecretFiles``: the secrets directory's files, read again when they change.

A setting's file is named as its variable (``SCV_BILLING__API_KEY``), as pydantic-settings
reads it at start. Any settings section can be watched by its path of names (``("billing",)``,
or a section nested deeper): every ``SecretStr`` field of it that has a file is watched, and
when one of those files changes the watcher is called with the section as it is now (a copy
with the new values; an optional secret whose file is removed is unset). Checks compare each
file's size and modification time (a ``stat``), so they are cheap enough to run every few
seconds; a file's content is read only when it changed, and never logged: only the
setting's name is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: A file's identity for a check: its size and modification time (ns); None when absent.
Stamp = tuple[int, int] | None


@dataclass
class _Watch:
    path: tuple[str, ...]
    section: BaseModel
    listeners: list[Callable[[Any], None]] = field(default_factory=list)
    stamps: dict[str, Stamp] = field(default_factory=dict)


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` that hold a ``SecretStr`` (optional or not)."""
    found: list[str] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        members = getattr(annotation, "__args__", (annotation,))
        if SecretStr in members:
            found.append(name)
    return found


def _optional(model: type[BaseModel], name: str) -> bool:
    return type(None) in getattr(model.model_fields[name].annotation, "__args__", ())


class SecretFiles:
    """Watched sections of settings and the secret files of their ``SecretStr`` fields."""

    def __init__(self, directory: Path | None, *, prefix: str = "SCV_") -> None:
        self._directory = directory
        self._prefix = prefix
        self._watches: dict[tuple[str, ...], _Watch] = {}

    def variable(self, path: tuple[str, ...], name: str) -> str:
        """The variable (and file) name of field ``name`` of the section at ``path``."""
        return self._prefix + "__".join((*path, name)).upper()

    def watch(self, path: tuple[str, ...], section: M, listener: Callable[[M], None]) -> None:
        """Call ``listener`` with the section at ``path`` (``section`` as loaded at start)
        each time one of its secrets' files changes."""
        watch = self._watches.get(path)
        if watch is None:
            watch = _Watch(path, section)
            watch.stamps = {name: self._stamp(path, name) for name in secret_fields(type(section))}
            self._watches[path] = watch
        watch.listeners.append(listener)

    def current(self, path: tuple[str, ...]) -> BaseModel | None:
        """The watched section at ``path`` as last read (None if nobody watches it)."""
        watch = self._watches.get(path)
        return watch.section if watch is not None else None

    def check(self) -> list[str]:
        """Read every changed secret file; the variables whose value changed (their
        sections' watchers told)."""
        changed: list[str] = []
        for watch in self._watches.values():
            update: dict[str, SecretStr | None] = {}
            for name, before in watch.stamps.items():
                stamp = self._stamp(watch.path, name)
                if stamp == before:
                    continue
                watch.stamps[name] = stamp
                value = self._read(watch.path, name)
                held = getattr(watch.section, name)
                if value is None:
                    # A file removed: an optional secret is unset (a rotation's previous
                    # secret withdrawn); a required one keeps the value it has.
                    if held is None or not _optional(type(watch.section), name):
                        continue
                    update[name] = None
                elif isinstance(held, SecretStr) and held.get_secret_value() == value:
                    continue
                else:
                    update[name] = SecretStr(value)
                changed.append(self.variable(watch.path, name))
            if not update:
                continue
            watch.section = watch.section.model_copy(update=update)
            for listener in watch.listeners:
                listener(watch.section)
        for variable in changed:
            logger.info("secret reloaded from its file", extra={"setting": variable})
        return changed

    async def run(self, every_seconds: float) -> None:
        """``check`` every ``every_seconds`` until cancelled (off the event loop: it reads
        files); a failed check is logged and the next one tries again."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await asyncio.to_thread(self.check)
            except Exception:
                logger.warning("could not check the secret files", exc_info=True)

    def _file(self, path: tuple[str, ...], name: str) -> Path | None:
        if self._directory is None:
            return None
        return self._directory / self.variable(path, name)

    def _stamp(self, path: tuple[str, ...], name: str) -> Stamp:
        file = self._file(path, name)
        try:
            status = file.stat() if file is not None else None
        except FileNotFoundError:
            return None
        return (status.st_size, status.st_mtime_ns) if status is not None else None

    def _read(self, path: tuple[str, ...], name: str) -> str | None:
        file = self._file(path, name)
        if file is None or not file.is_file():
            return None
        # As pydantic-settings reads it at start: surrounding whitespace is no part of it.
        return file.read_text(encoding="utf-8").strip()
