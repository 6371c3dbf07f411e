"""The architecture, checked: a pure core, one home per concept, no import cycle, one error base.

The layer contracts themselves live in pyproject.toml (import-linter, run by scripts/test.sh);
this module checks what they cannot say, and proves that they can fail.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

import bot.errors
from bot.errors import RankbotError

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"
IO_LIBRARIES = (
    "tinydb",
    "httpx",
    "aiohttp",
    "slack_sdk",
    "slack_bolt",
    "discord",
    "matplotlib",
    "jinja2",
    "platformdirs",
)


def modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(BOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(encoding="utf-8"))


CORE = sorted(name for name, _, _ in modules() if name.startswith("bot.core."))


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_loads_no_io_library(module: str) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "", f"{module} loads {done.stdout.strip()}"


def test_the_core_list_is_complete() -> None:
    names = (
        "countries",
        "events",
        "grouping",
        "history_format",
        "iso3166",
        "leaderboard",
        "local_time",
        "matching",
        "messages",
        "model",
        "planning",
        "source_health",
        "subscription",
        "text",
    )
    assert [f"bot.core.{m}" for m in names] == CORE


def where(predicate: object) -> list[str]:
    """Modules of bot/ with at least one AST node for which `predicate(node)` holds."""
    assert callable(predicate)
    return sorted(
        name for name, _, tree in modules() if any(predicate(node) for node in ast.walk(tree))
    )


def test_retry_after_is_parsed_in_one_module() -> None:
    def parses_dates(node: ast.AST) -> bool:
        return isinstance(node, ast.alias) and "parsedate" in node.name

    def defines_parser(node: ast.AST) -> bool:
        return isinstance(node, ast.FunctionDef) and node.name == "parse_retry_after"

    assert where(parses_dates) == ["bot.net.retry"]
    assert where(defines_parser) == ["bot.net.retry"]


def test_backoff_is_computed_in_one_module() -> None:
    def doubles(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Pow)
            and isinstance(node.left, ast.Constant)
            and node.left.value == 2
        )

    def named_backoff(node: ast.AST) -> bool:
        return isinstance(node, ast.FunctionDef) and "backoff" in node.name

    assert where(doubles) == ["bot.net.retry"]
    assert where(named_backoff) == ["bot.net.retry"]


def test_the_clock_alias_is_defined_in_one_module() -> None:
    def defines_clock(node: ast.AST) -> bool:
        targets = node.targets if isinstance(node, ast.Assign) else []
        return any(isinstance(t, ast.Name) and t.id == "Clock" for t in targets)

    assert where(defines_clock) == ["bot.clock"]
    spelled = [name for name, path, _ in modules() if "Callable[[], datetime]" in path.read_text()]
    assert spelled == ["bot.clock"]


def test_the_wall_clock_is_read_in_one_module() -> None:
    def reads_clock(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr in ("now", "utcnow", "today")
            and (isinstance(node.value, ast.Name) and node.value.id in ("datetime", "date"))
        )

    assert where(reads_clock) == ["bot.clock"]


def code_strings(tree: ast.Module) -> Iterator[str]:
    """The string constants of a module's code (docstrings left out), f-strings' parts too."""
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.value


def test_every_state_key_is_spelled_in_the_keys_module() -> None:
    """`get_state` / `set_state` never take a literal or an f-string, and the keys' prefixes
    appear in code nowhere but `bot.store.keys`."""
    offenders = []
    for name, _, tree in modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get_state", "set_state")
                and node.args
                and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
            ):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []
    prefix = re.compile(r"^(detector|known_models|health|backfill|catch_up|catalogue|discord):")
    spelled = sorted(
        name for name, _, tree in modules() if any(prefix.match(s) for s in code_strings(tree))
    )
    assert spelled == ["bot.core.planning", "bot.store.keys"]  # planning: a post key "health:…"


def test_webhook_urls_are_looked_up_in_one_module() -> None:
    spelled = [
        name
        for name, _, tree in modules()
        if any(s == "RANKBOT_WEBHOOK_" for s in code_strings(tree))  # the convention's prefix
    ]
    assert spelled == ["bot.delivery.webhook_urls"]


def test_every_exception_a_user_can_cause_derives_from_rankbot_error() -> None:
    defined = []
    for name, _, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id in BASES)
                for b in node.bases
            ):
                defined.append((name, node.name))
    assert len(defined) >= 20
    for module, cls in defined:
        exc = getattr(__import__(module, fromlist=[cls]), cls)
        assert issubclass(exc, RankbotError), f"{module}.{cls}"
        assert cls in (bot.errors.__doc__ or ""), f"{cls} is missing from the tree in bot.errors"


BASES = {
    "StoreError",
    "StoreBusy",
    "StoreCorrupt",
    "SourceError",
    "ChartError",
    "OpenRouterError",
    "UsageError",
}


def test_bot_holds_no_import_cycle() -> None:
    """Not even through an import inside a function: every module's dependencies form a DAG."""
    graph = grimp.build_graph("bot")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(imported=module, importer=imported):
                cycles.append(f"{module} <-> {imported}")
    assert cycles == []


def test_bot_holds_no_module_level_import_cycle() -> None:
    """The same from the source, only imports run at import time (not under TYPE_CHECKING)."""
    known = {name for name, _, _ in modules()}
    edges: dict[str, set[str]] = {}
    for name, _, tree in modules():
        edges[name] = set()
        for node in _module_level(tree.body):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    edges[name].add(target if target in known else node.module)
            elif isinstance(node, ast.Import):
                edges[name].update(a.name for a in node.names)
        edges[name] = {t for t in edges[name] if t in known and t != name}
    assert _cycle(edges) is None


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                yield from _module_level(node.body)
                yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level(node.body)
        else:
            yield node


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("module", "injected", "broken"),
    [
        ("core/model.py", "import bot.app", "Layers"),
        ("core/model.py", "import tinydb", "The core is pure"),
        ("platforms/slack/sender.py", "import bot.platforms.discord.sender", "vertical slices"),
        ("sources/replay.py", "import bot.engine.poller", "Layers"),
    ],
)
def test_the_layer_contracts_can_fail(
    tmp_path: Path, module: str, injected: str, broken: str
) -> None:
    """lint-imports on a copy of bot/ with one forbidden import added: the contract breaks."""
    shutil.copytree(BOT, tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "bot" / module
    target.write_text(target.read_text() + f"\n{injected}\n")
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert re.search(rf"{broken}.*BROKEN", done.stdout.replace("\n", " ")), done.stdout
