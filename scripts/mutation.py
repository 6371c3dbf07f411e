"""Mutation testing: does the suite notice when the detector's code is subtly wrong?

Coverage says a line ran; a mutant says whether any test *checks* what the line does. This
script makes one small change at a time to a module (a comparison's edge, a constant off by
one, `and` for `or`, a dropped `not`, `min` for `max`, a deleted `continue` …), runs the tests
that cover that module against the changed copy, and counts the mutants the tests kill.

    .venv/bin/python scripts/mutation.py                 # the default targets below
    .venv/bin/python scripts/mutation.py bot/core/events.py --tests tests/core/test_events.py
    .venv/bin/python scripts/mutation.py --list          # show the mutants, run nothing

Each mutant runs in a copy of the repository (never the working tree), with `pytest -x`
in a subprocess, two at a time. A survivor is printed with its line so that a person can
either add the test that kills it or list it in `EQUIVALENT` with the reason it cannot change
behaviour; equivalent mutants are reported apart and left out of the score.

Hand-written rather than mutmut: mutmut 3 rewrites every function through a trampoline and
runs its own copy of the tree, which does not fit a `src`-less package with an editable
install and bundled data files; this script needs nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TARGETS: dict[str, list[str]] = {
    "bot/core/events.py": [
        "tests/core/test_events.py",
        "tests/engine/test_detection_history.py",
        "tests/core/test_detection_edges.py",
    ],
    "bot/sources/openrouter/rows.py": [
        "tests/sources/openrouter/test_rows.py",
        "tests/sources/openrouter/test_windows.py",
        "tests/sources/openrouter/test_source.py",
        "tests/sources/openrouter/test_backfill.py",
    ],
    "bot/sources/openrouter/windows.py": [
        "tests/sources/openrouter/test_rows.py",
        "tests/sources/openrouter/test_windows.py",
        "tests/sources/openrouter/test_source.py",
        "tests/sources/openrouter/test_backfill.py",
    ],
}
"""Module → the tests that are meant to pin it down."""

_NONE_REACHED = "`no threshold reached` is only compared with `>`/`<=` against values >= 0"
EQUIVALENT: dict[tuple[str, str, str], str] = {
    (
        "bot/core/events.py",
        "return max((t for t in thresholds if tokens >= t), default=0)",
        "0 → -1",
    ): _NONE_REACHED + ", where -1 and 0 behave alike",
    (
        "bot/core/events.py",
        "if level > reached.get(entry.model, 0):",
        "Gt → GtE",
    ): "only adds a 0 entry or rewrites an equal one; nothing reads 0 unlike a missing entry",
    (
        "bot/core/events.py",
        "if level > reached.get(entry.model, 0):",
        "0 → -1",
    ): "only adds 0 entries for models that reached nothing; nothing reads them",
    (
        "bot/core/events.py",
        'kind = "surge" if change > 0 else "drop"',
        "Gt → GtE",
    ): "a change of 0 never gets here: |change| >= the loosest surge_pct, which is > 0",
    (
        "bot/core/events.py",
        "return 10_000",
        "10000 → 10001",
    ): "sort key of events without a rank: any value above every rank sorts alike",
    (
        "bot/core/events.py",
        "return 10_000",
        "10000 → 9999",
    ): "sort key of events without a rank: any value above every rank sorts alike",
}
"""(module, stripped source line, mutation) → why no test can tell the mutant apart."""

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
}
_NAME_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}


@dataclass(frozen=True, slots=True)
class Mutant:
    module: str
    index: int
    line: int
    description: str
    source: str

    def code_line(self) -> str:
        original = (ROOT / self.module).read_text().splitlines()
        return original[self.line - 1].strip()


def _is_docstring(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    return isinstance(parent, ast.Expr)


def _in_decorator(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """`@dataclass(frozen=True, slots=True)`: how a class is built, not what the rules say."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.FunctionDef | ast.ClassDef) and child in parent.decorator_list:
            return True
        child, parent = parent, parents.get(parent)
    return False


def _mutations(tree: ast.Module) -> Iterator[tuple[ast.AST, str, object]]:
    """(node, description, how) for every mutation point, in source order."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                swap = _COMPARE_SWAPS.get(type(op))
                if swap is not None:
                    yield node, f"{type(op).__name__} → {swap.__name__}", ("cmp", i, swap)
        elif isinstance(node, ast.BinOp):
            swap = _BINOP_SWAPS.get(type(node.op))
            if swap is not None:
                yield node, f"{type(node.op).__name__} → {swap.__name__}", ("binop", swap)
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            yield node, f"{type(node.op).__name__} → {other.__name__}", ("boolop", other)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop `not`", ("not",)
        elif (
            isinstance(node, ast.Constant)
            and not _is_docstring(node, parents)
            and not _in_decorator(node, parents)
        ):
            value = node.value
            if isinstance(value, bool):
                yield node, f"{value} → {not value}", ("const", not value)
            elif isinstance(value, int):
                yield node, f"{value} → {value + 1}", ("const", value + 1)
                yield node, f"{value} → {value - 1}", ("const", value - 1)
        elif isinstance(node, ast.Name) and node.id in _NAME_SWAPS:
            yield node, f"{node.id} → {_NAME_SWAPS[node.id]}", ("name", _NAME_SWAPS[node.id])
        elif isinstance(node, ast.Continue | ast.Break):
            yield node, f"{type(node).__name__.lower()} → pass", ("pass",)
        elif isinstance(node, ast.If) and not isinstance(parents.get(node), ast.If):
            yield node, "if condition → False", ("if_false",)


def _apply(tree: ast.Module, target: ast.AST, how: tuple[object, ...]) -> ast.Module:
    """A copy of `tree` with the one mutation applied at `target` (matched by position)."""
    mutated = ast.parse(ast.unparse(tree))
    original_nodes = list(ast.walk(tree))
    position = original_nodes.index(target)
    node = list(ast.walk(mutated))[position]
    kind = how[0]
    if kind == "cmp":
        _, i, swap = how
        node.ops[i] = swap()  # type: ignore[attr-defined,operator]
    elif kind in ("binop", "boolop"):
        node.op = how[1]()  # type: ignore[attr-defined,operator]
    elif kind == "not":
        _replace(mutated, node, node.operand)  # type: ignore[attr-defined]
    elif kind == "const":
        node.value = how[1]  # type: ignore[attr-defined]
    elif kind == "name":
        node.id = how[1]  # type: ignore[attr-defined]
    elif kind == "pass":
        _replace(mutated, node, ast.Pass())
    elif kind == "if_false":
        node.test = ast.Constant(False)  # type: ignore[attr-defined]
    return ast.fix_missing_locations(mutated)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and old in value:
                value[value.index(old)] = new
                return


def mutants(module: str) -> list[Mutant]:
    tree = ast.parse((ROOT / module).read_text())
    # ast.unparse normalises the source; positions are taken from a parse of that normal form
    tree = ast.parse(ast.unparse(tree))
    out = []
    normal = ast.unparse(tree)
    original_lines = _line_map(module)
    for index, (node, description, how) in enumerate(_mutations(tree)):
        source = ast.unparse(_apply(tree, node, how))  # type: ignore[arg-type]
        if source == normal:
            continue
        line = original_lines.get(getattr(node, "lineno", 0), 0)
        out.append(Mutant(module, index, line, description, source))
    return sorted(out, key=lambda m: (m.line, m.index))


def _line_map(module: str) -> dict[int, int]:
    """Line in the normalised source → line in the file, matched by the statement's text."""
    text = (ROOT / module).read_text()
    original = ast.parse(text)
    normal = ast.parse(ast.unparse(original))
    mapping: dict[int, int] = {}
    for a, b in zip(ast.walk(original), ast.walk(normal), strict=False):
        if hasattr(a, "lineno") and hasattr(b, "lineno"):
            mapping.setdefault(b.lineno, a.lineno)
    return mapping


def _copy_tree(where: Path) -> None:
    for name in ("bot", "tests", "templates", "pyproject.toml"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, where / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, where / name)


def _run_tests(where: Path, tests: list[str], timeout: float) -> bool:
    """True when the tests pass (the mutant survived)."""
    env = {**os.environ, "PYTHONPATH": str(where), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        *tests,
    ]
    try:
        done = subprocess.run(cmd, cwd=where, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False  # an endless loop is a killed mutant
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all targets)")
    parser.add_argument("--tests", nargs="+", help="tests to run (default: the target's)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    modules = args.modules or list(TARGETS)
    exit_code = 0
    for module in modules:
        tests = args.tests or TARGETS.get(module)
        if not tests:
            parser.error(f"{module}: no tests known for it; pass --tests")
        found = mutants(module)
        if args.list:
            for m in found:
                print(f"{module}:{m.line}: {m.description}: {m.code_line()}")
            continue
        exit_code |= _run_module(module, tests, found, args.jobs, args.timeout)
    return exit_code


def _run_module(
    module: str, tests: list[str], found: list[Mutant], jobs: int, timeout: float
) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rankbot-mutation-") as tmp:
        workers = [Path(tmp) / f"w{i}" for i in range(jobs)]
        for w in workers:
            w.mkdir()
            _copy_tree(w)
        if not _run_tests(workers[0], tests, timeout):
            print(f"{module}: the tests fail without any mutation; fix them first")
            return 2
        free = list(workers)

        def run(m: Mutant) -> tuple[Mutant, bool]:
            where = free.pop()
            try:
                (where / module).write_text(m.source)
                return m, _run_tests(where, tests, timeout)
            finally:
                (where / module).write_text((ROOT / module).read_text())
                free.append(where)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(run, found))
    survived = [m for m, alive in results if alive]
    equivalent = [m for m in survived if (module, m.code_line(), m.description) in EQUIVALENT]
    real = [m for m in survived if m not in equivalent]
    scored = len(found) - len(equivalent)
    killed = scored - len(real)
    score = 100.0 * killed / scored if scored else 100.0
    print(
        f"{module}: {killed}/{scored} mutants killed ({score:.1f} %), "
        f"{len(equivalent)} equivalent, {time.monotonic() - started:.0f} s"
    )
    for m in real:
        print(f"  survived  {module}:{m.line}: {m.description}: {m.code_line()}")
    for m in equivalent:
        why = EQUIVALENT[(module, m.code_line(), m.description)]
        print(f"  equivalent {module}:{m.line}: {m.description}: {m.code_line()} — {why}")
    return 0 if not real else 1


if __name__ == "__main__":
    sys.exit(main())
