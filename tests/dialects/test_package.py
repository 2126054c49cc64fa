"""The dialects package: its public names, and its imports (the standard library only)."""

from __future__ import annotations

import ast
from pathlib import Path

import claudewire.dialects as dialects


def test_public_names_sorted_and_importable() -> None:
    """__all__ is sorted (constants, classes, functions, as ruff's RUF022 orders it) and every name in it exists."""
    kinds = [(0 if n.isupper() else 1 if n[0].isupper() else 2, n) for n in dialects.__all__]
    assert kinds == sorted(kinds)
    assert all(hasattr(dialects, name) for name in dialects.__all__)


def test_imports_only_the_standard_library_and_itself() -> None:
    """No module of the package imports anything of claudewire's outside it (the house's import arrows)."""
    for path in Path(dialects.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("claudewire"):
                assert node.module.startswith(("claudewire.dialects", "claudewire._errors")), (path.name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("claudewire") for a in node.names), path.name
