"""The import rules of ARCHITECTURE.md, checked on every file so that they stay true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: package -> top-level modules it must never import
FORBIDDEN = {
    "adapters": {"app", "resolvers", "sandbox"},
    "resolvers": {"app", "sandbox", "httpx", "asyncpg"},
    "sandbox": {"app", "resolvers", "adapters"},
    "app": {"sandbox"},
}
#: The CLI is the one place in app/ that may start the sandbox (``scv sandbox``).
ALLOWED = {("app", "commands.py", "sandbox")}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_house_rules(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    breaches = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path) & FORBIDDEN[package])
        if (package, path.name, module) not in ALLOWED
    ]
    assert breaches == []
