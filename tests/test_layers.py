"""The arrows of ../shared/STYLE.md, read from the source: which claudewire package may import which."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "claudewire"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    if not path.is_relative_to(SRC):
        return "claudewire"
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def _imports(path: Path) -> set[str]:
    """Every claudewire module `path` imports, at the top, inside functions or under TYPE_CHECKING."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("claudewire"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name.startswith("claudewire"):
                found.add(name)
    return found


def _modules(package: str) -> list[Path]:
    root = SRC.joinpath(*package.split(".")[1:])
    return sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in _modules(package):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{_module_name(path)} imports {name}")
    return bad


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("claudewire.gateway.downstream", ("claudewire.gateway.upstream",)),
        ("claudewire.gateway.upstream", ("claudewire.gateway.downstream",)),
        ("claudewire.gateway.wire", ("claudewire.gateway.downstream", "claudewire.gateway.upstream")),
        ("claudewire.sim", ("claudewire.gateway", "claudewire.client", "claudewire.doctor")),
        ("claudewire.doctor", ("claudewire.gateway",)),
        ("claudewire.calls", ("claudewire.gateway", "claudewire.client", "claudewire.cli")),
        ("claudewire.metrics", ("claudewire.calls", "claudewire.gateway", "claudewire.client")),
        ("claudewire.dialects", ("claudewire.gateway", "claudewire.policy", "claudewire.calls", "claudewire.sim")),
        (
            "claudewire.policy",
            ("claudewire.gateway", "claudewire.client", "claudewire.metrics", "claudewire.telemetry"),
        ),
    ],
)
def test_no_arrow_points_up_or_across(package: str, forbidden: tuple[str, ...]) -> None:
    """A package never imports the packages the style guide puts above or beside it."""
    assert _violations(package, forbidden) == []


def test_policy_imports_only_errors() -> None:
    """policy/ imports nothing of claudewire's but _errors (and its own modules): it stays sans-IO."""
    allowed = ("claudewire.policy", "claudewire._errors", "claudewire._failures", "claudewire._clock")
    bad = [
        f"{_module_name(path)} imports {name}"
        for path in _modules("claudewire.policy")
        for name in _imports(path)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert bad == []


def test_the_checker_sees_a_crossing(tmp_path: Path) -> None:
    """The import reader finds relative, absolute and function-level imports (so the checks above can fail)."""
    module = tmp_path / "m.py"
    module.write_text(
        "from claudewire.gateway.upstream.pool import Upstream\n"
        "def f():\n    import claudewire.gateway.downstream.http\n"
    )
    assert _imports(module) == {"claudewire.gateway.upstream.pool", "claudewire.gateway.downstream.http"}
