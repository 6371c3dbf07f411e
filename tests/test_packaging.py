"""What a clean clone installs: every imported package declared, every dependency pinned, the
version in one place, a licence that matches."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return Requirement(requirement).name.lower().replace("_", "-")


def imported_top_level(package: Path) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"bot", "__future__"}


def test_every_package_bot_imports_is_a_declared_dependency() -> None:
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    distributions = packages_distributions()
    missing = {}
    for module in imported_top_level(ROOT / "bot"):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & declared:
            missing[module] = sorted(dists)
    assert missing == {}


def test_every_dependency_and_tool_is_pinned_in_constraints() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    wanted = [*PYPROJECT["project"]["dependencies"]]
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        wanted += extra
    for requirement in wanted:
        parsed = Requirement(requirement)
        name = _name(requirement)
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert parsed.specifier.contains(pins[name]), f"{name}=={pins[name]} breaks {parsed}"


def test_version_has_one_home_and_the_cli_prints_it() -> None:
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "bot/__init__.py"
    from bot import __version__

    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], cwd=ROOT, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"rankbot {__version__}")


def test_the_licence_file_matches_pyproject() -> None:
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
