"""``scv keys``: the demo's own signing keys in the data directory, rotated or rolled back.

Two kinds live there (docs/key-rotation.md): ``bearer``, the demo issuer's keys
(``app.security.demo_keys``: ``scv token`` and ``make run`` sign with the newest), and
``interaction``, the keys of interaction tokens (``app.interactions.tokens``). ``rotate``
writes a new newest key of each kind asked and keeps the one before it (its tokens verify
until they expire), removing older ones; ``rollback`` removes the newest, so the one before
signs again. A running gateway takes either up with no restart: it reads the key files
again when they change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.environment import count, data_dir, existing_demo_keys, load_settings
from app.interactions.tokens import demo_key_directory as interaction_key_directory
from app.security.demo_keys import roll_back_demo_keys, rotate_demo_keys
from app.security.key_files import load_private_key

KINDS = ("bearer", "interaction")


def rotate_keys(directory: Path, kinds: tuple[str, ...], keep: int) -> list[str]:
    """Rotate the demo's keys of ``kinds`` under ``directory``: one line per kind."""
    lines: list[str] = []
    if "bearer" in kinds:
        keys, retired = rotate_demo_keys(directory, keep)
        lines.append(f"bearer: now signing with kid {keys.kid}{_removed(retired)}")
    if "interaction" in kinds:
        interaction = interaction_key_directory(directory)
        interaction.ensure()
        retired = interaction.rotate(keep)
        kid = load_private_key(interaction.paths()[-1]).kid
        lines.append(f"interaction: now signing with kid {kid}{_removed(retired)}")
    return lines


def roll_back_keys(directory: Path, kinds: tuple[str, ...]) -> list[str]:
    """Undo the last rotation of ``kinds``: one line per kind."""
    lines: list[str] = []
    if "bearer" in kinds:
        lines.append(f"bearer: removed {roll_back_demo_keys(directory).name}")
    if "interaction" in kinds:
        lines.append(f"interaction: removed {interaction_key_directory(directory).rollback().name}")
    return lines


def _removed(paths: list[Path]) -> str:
    return f" (removed {', '.join(path.name for path in paths)})" if paths else ""


def cmd_keys(args: argparse.Namespace) -> None:
    settings = load_settings()
    existing_demo_keys(settings)  # a clear exit when the data directory holds no demo keys
    kinds = KINDS if args.kind == "all" else (args.kind,)
    directory = data_dir(settings)
    try:
        if args.action == "rotate":
            lines = rotate_keys(directory, kinds, args.keep)
        else:
            lines = roll_back_keys(directory, kinds)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    print("\n".join(lines))


def add_keys_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``scv keys rotate|rollback [--kind ...] [--keep N]`` on the CLI's parser."""
    keys = commands.add_parser(
        "keys", help="rotate (or roll back) the demo's signing keys under SCV_DATA_DIR"
    )
    keys.add_argument("action", choices=["rotate", "rollback"])
    keys.add_argument(
        "--kind", choices=[*KINDS, "all"], default="all", help="which keys (all of them)"
    )
    keys.add_argument(
        "--keep",
        type=count,
        default=2,
        help="rotate: keys kept, the new one included (2: the previous still verifies)",
    )
    keys.set_defaults(func=cmd_keys)
