"""The shape of ``scanner/``: imports point down the layers, no import circle, no module over 400 lines and no
function over 60 (docs/architecture.md, "Layers").

Every import counts, wherever it is written: at module level, inside a function, under ``TYPE_CHECKING``. An
import names the module it reaches (``from scanner.policy import baseline`` reaches ``scanner.policy.baseline``);
the parent packages Python initialises on the way are not counted, so a package's ``__init__`` may gather its
own submodules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scanner"

# Top to bottom. A module may import its own layer and any layer below it. An entry names a module and everything
# under it, except ``scanner``, which is the package's ``__init__`` alone.
LAYERS: list[tuple[str, ...]] = [
    ("scanner.cli", "scanner.__main__"),  # argparse and the environment live here
    ("scanner.integrations", "scanner.org"),  # CI, git hooks, pre-receive; org scans on Dask
    ("scanner.pipeline",),  # run(ScanRequest) -> ScanResult; owns the worker pool
    ("scanner.respond", "scanner.validate"),  # leak response; live validation (both over the transport)
    ("scanner.sources",),  # files, git, image, tfstate, registry, remote state: they only yield
    ("scanner.transport", "scanner.httpsettings", "scanner.paging"),  # the one HTTP layer, and what it is told
    # Reporters sit above policy; policy never imports a reporter: the location string both show is core
    # (scanner/location.py), and so are the words of an audit label (models.LABEL_WORDS). Reporters import nothing
    # from detect; the two are side by side in fact, listed in this order.
    ("scanner.report",),
    ("scanner.detect",),  # pure detection, incl. detect.structured
    ("scanner.policy",),  # config, allowlists, baseline, gate, migrate
    ("scanner.ruleset",),  # rules as data, the checksum validators they name, ReDoS checks
    (  # core
        "scanner.pathmatch",
        "scanner.textdiff",
        "scanner._textdiff",  # C (scanner/_textdiff.c): imports nothing of ours
        "scanner.formats",
        "scanner.models",
        "scanner.errors",
        "scanner.fingerprint",
        "scanner.cache",
        "scanner.digests",
        "scanner.location",
        "scanner.gitdir",
        "scanner.safetext",
        "scanner.lazyre",
        "scanner.classcode",
        "scanner.moduletable",
        "scanner.pycachefile",
        "scanner.regexcode",
        "scanner.deferinspect",
        "scanner.startup",
        "scanner.shutdown",
        "scanner.redact",
        "scanner.atomicfile",
        "scanner.completeness",
        "scanner.lifeline",
        "scanner.watchdog",
        "scanner",
    ),
]

# Narrower than the layers allow: what a module under the key must not import (the names and what is under them).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "scanner.sources": (
        "scanner.pipeline",
        "scanner.detect",
        "scanner.policy",
        "scanner.report",
        "scanner.scan",
        "scanner.gitscan",
    ),
    "scanner.policy": ("scanner.sources", "scanner.pipeline", "scanner.detect", "scanner.report"),
}

# Modules being moved or rewritten on other branches: their imports are not checked yet (and they may be missing
# from the layer table). Empty it as the moves land; test_pending_lists_are_current says when an entry is stale.
PENDING_MOVES: dict[str, str] = {}

# Files over the limits that are being rewritten on other branches right now.
PENDING_SPLITS: dict[str, str] = {}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def scanner_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, source: str, is_package: bool, known: Iterable[str]) -> list[Import]:
    """The ``scanner`` modules ``source`` imports, at any depth of its syntax tree."""
    known = set(known)
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # ``from package import submodule`` reaches the submodule; ``from module import name``, the module.
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        found += [Import(name, t, node.lineno) for t in targets if t == "scanner" or t.startswith("scanner.")]
    return list(dict.fromkeys(found))  # ``from m import a, b``: one import of m


def import_graph() -> list[Import]:
    modules = scanner_modules()
    return [
        edge
        for name, path in modules.items()
        for edge in imports_of(name, path.read_text(encoding="utf-8"), path.name == "__init__.py", modules)
        if edge.imported != name
    ]


def within(module: str, prefix: str) -> bool:
    if prefix == "scanner":
        return module == "scanner"
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str, layers: list[tuple[str, ...]] = LAYERS) -> int | None:
    """The layer's index, 0 at the top; None for a module the table does not place."""
    for index, entries in enumerate(layers):
        if any(within(module, entry) for entry in entries):
            return index
    return None


def layer_violations(
    edges: Iterable[Import],
    layers: list[tuple[str, ...]] = LAYERS,
    forbidden: Mapping[str, tuple[str, ...]] = FORBIDDEN,
    pending: Iterable[str] = (),
) -> list[str]:
    pending = set(pending)
    problems = []
    for edge in edges:
        if edge.importer in pending or edge.imported in pending:
            continue
        where = f"{edge.importer} (line {edge.line}) imports {edge.imported}"
        low, high = layer_of(edge.importer, layers), layer_of(edge.imported, layers)
        if low is None or high is None:
            unknown = edge.importer if low is None else edge.imported
            problems.append(f"{where}: {unknown} is in no layer: add it to the layer table (LAYERS)")
        elif high < low:
            problems.append(f"{where}: up from layer {layers[low][0]} to layer {layers[high][0]}")
        for scope, banned in forbidden.items():
            if within(edge.importer, scope) and any(within(edge.imported, b) for b in banned):
                problems.append(f"{where}: no module under {scope} may import {', '.join(banned)}")
    return problems


def unplaced(modules: Iterable[str], layers: list[tuple[str, ...]] = LAYERS, pending: Iterable[str] = ()) -> list[str]:
    return [m for m in modules if layer_of(m, layers) is None and m not in set(pending)]


def cycles(edges: Iterable[Import]) -> list[list[str]]:
    """One circle (``a → b → … → a``) per strongly connected group of modules (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle_in(group, graph) for group in groups]


def _circle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, through the group only."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & group):
                if successor == start:
                    return [*paths[node], start]
                if successor not in paths:
                    paths[successor] = [*paths[node], successor]
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no circle through {start}")  # a strongly connected group always has one


@dataclass(frozen=True)
class Oversize:
    path: str
    what: str


def oversize(path: str, source: str) -> list[Oversize]:
    found = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(Oversize(path, f"{lines} lines (at most {MAX_MODULE_LINES} a module)"))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    Oversize(
                        path, f"{node.name}() at line {node.lineno}: {length} lines (at most {MAX_FUNCTION_LINES})"
                    )
                )
    return found


def all_oversize() -> list[Oversize]:
    return [
        item
        for path in sorted(PACKAGE.rglob("*.py"))
        for item in oversize(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
    ]


# --- the rules, on the real package ---


def test_every_module_has_a_layer() -> None:
    missing = unplaced(scanner_modules(), pending=PENDING_MOVES)
    assert not missing, "in no layer: add them to the layer table (LAYERS) in tests/test_architecture.py: " + (
        ", ".join(missing)
    )


def test_imports_point_down_the_layers() -> None:
    problems = layer_violations(import_graph(), pending=PENDING_MOVES)
    assert not problems, "\n".join(problems)


def test_no_import_circle() -> None:
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" → ".join(circle) for circle in found)


def test_no_module_or_function_over_the_limits() -> None:
    found = [item for item in all_oversize() if item.path not in PENDING_SPLITS]
    assert not found, "split these:\n" + "\n".join(f"{item.path}: {item.what}" for item in found)


def test_pending_lists_are_current() -> None:
    """An allowance nobody needs any more goes, so that the rules tighten as the moves land."""
    modules = scanner_modules()
    edges = import_graph()
    stale = [f"PENDING_MOVES: {m} no longer exists" for m in PENDING_MOVES if m not in modules]
    for module in set(PENDING_MOVES) & set(modules):
        own = [e for e in edges if module in (e.importer, e.imported)]
        others = set(PENDING_MOVES) - {module}
        if layer_of(module) is not None and not layer_violations(own, pending=others):
            stale.append(f"PENDING_MOVES: {module} keeps to its layer now")
    oversized = {item.path for item in all_oversize()}
    stale += [f"PENDING_SPLITS: {path} is within the limits now" for path in PENDING_SPLITS if path not in oversized]
    assert not stale, "remove these allowances from tests/test_architecture.py:\n" + "\n".join(stale)


def test_the_readme_runs_the_tests_as_ci_does() -> None:
    """The README's test command (coverage threshold included) is what .ci/run runs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    command = next(line for line in readme if line.startswith("python3 -m venv .venv") and "pytest" in line)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    steps = {part.strip() for line in ci if not line.lstrip().startswith("#") for part in line.split("&&")}
    missing = [part.strip() for part in command.split("&&") if part.strip() not in steps]
    assert not missing, f"README runs what .ci/run does not: {missing}"
    assert "--cov-fail-under=" in command


# --- the checks themselves, on made-up modules ---

TOY_LAYERS: list[tuple[str, ...]] = [("scanner.cli",), ("scanner.sources",), ("scanner.policy",), ("scanner.models",)]
TOY_FORBIDDEN = {"scanner.sources": ("scanner.policy",)}


def toy_edges(graph: dict[str, list[str]]) -> list[Import]:
    return [Import(importer, imported, 1) for importer, targets in graph.items() for imported in targets]


def test_an_upward_import_is_caught() -> None:
    edges = toy_edges({"scanner.cli": ["scanner.models"], "scanner.models": ["scanner.policy.gate"]})
    problems = layer_violations(edges, TOY_LAYERS, {})
    assert problems == [
        "scanner.models (line 1) imports scanner.policy.gate: up from layer scanner.models to layer scanner.policy"
    ]
    assert layer_violations(edges, TOY_LAYERS, {}, pending=["scanner.models"]) == []


def test_a_forbidden_import_is_caught_even_downwards() -> None:
    edges = toy_edges({"scanner.sources.git.walk": ["scanner.policy.config", "scanner.models"]})
    problems = layer_violations(edges, TOY_LAYERS, TOY_FORBIDDEN)
    assert problems == [
        "scanner.sources.git.walk (line 1) imports scanner.policy.config: no module under scanner.sources may import"
        " scanner.policy"
    ]


def test_a_module_in_no_layer_is_caught() -> None:
    assert unplaced(["scanner.cli.scan", "scanner.gadgets", "scanner.old"], TOY_LAYERS, pending=["scanner.old"]) == [
        "scanner.gadgets"
    ]
    problems = layer_violations(toy_edges({"scanner.cli": ["scanner.gadgets"]}), TOY_LAYERS, {})
    assert problems == [
        "scanner.cli (line 1) imports scanner.gadgets: scanner.gadgets is in no layer: add it to the layer table"
        " (LAYERS)"
    ]


def test_the_package_itself_is_not_everything_under_it() -> None:
    layers = [("scanner.report",), ("scanner",)]
    assert layer_of("scanner", layers) == 1
    assert layer_of("scanner.report.text", layers) == 0
    assert layer_of("scanner.reporting", layers) is None


def test_a_circle_is_caught_and_named() -> None:
    edges = toy_edges(
        {
            "scanner.a": ["scanner.b", "scanner.models"],
            "scanner.b": ["scanner.c"],
            "scanner.c": ["scanner.a", "scanner.models"],
            "scanner.d": ["scanner.e"],
            "scanner.e": ["scanner.d"],
            "scanner.models": [],
        }
    )
    assert cycles(edges) == [
        ["scanner.a", "scanner.b", "scanner.c", "scanner.a"],
        ["scanner.d", "scanner.e", "scanner.d"],
    ]
    assert cycles(toy_edges({"scanner.a": ["scanner.b"], "scanner.b": ["scanner.models"]})) == []


@pytest.mark.parametrize(
    ("name", "is_package", "source", "expected"),
    [
        ("scanner.x", False, "import scanner.models\nimport os", ["scanner.models"]),
        (
            "scanner.x",
            False,
            "from scanner.policy import baseline, Config",
            ["scanner.policy.baseline", "scanner.policy"],
        ),
        ("scanner.x", False, "def f():\n    from scanner.report.text import write_text", ["scanner.report.text"]),
        (
            "scanner.x",
            False,
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from scanner.pipeline import run",
            ["scanner.pipeline"],
        ),
        (
            "scanner.sources.git.walk",
            False,
            "from . import repo\nfrom ..base import Skips",
            ["scanner.sources.git.repo", "scanner.sources.base"],
        ),
        ("scanner.sources.git", True, "from .repo import open_repository", ["scanner.sources.git.repo"]),
        ("scanner.report.text", False, "import scanner", ["scanner"]),
    ],
)
def test_imports_are_found_at_any_depth(name: str, is_package: bool, source: str, expected: list[str]) -> None:
    known = ["scanner.models", "scanner.policy.baseline", "scanner.sources.git.repo", "scanner.sources.base"]
    assert [edge.imported for edge in imports_of(name, source, is_package, known)] == expected


def test_sizes_are_counted_from_def_to_last_line() -> None:
    def function(indent: str, body_lines: int) -> list[str]:
        return [f"{indent}def f():", *(f"{indent}    x{i} = {i}" for i in range(body_lines))]

    assert oversize("m.py", "\n".join(function("", MAX_FUNCTION_LINES - 1))) == []
    method = ["class C:", "    @staticmethod", *function("    ", MAX_FUNCTION_LINES)]
    assert [o.what for o in oversize("m.py", "\n".join(method))] == ["f() at line 3: 61 lines (at most 60)"]
    assert [o.what for o in oversize("m.py", "x = 1\n" * (MAX_MODULE_LINES + 1))] == [
        "401 lines (at most 400 a module)"
    ]
    assert oversize("m.py", "x = 1\n" * MAX_MODULE_LINES) == []
