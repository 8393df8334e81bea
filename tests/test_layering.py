"""The package's imports run one way, suite -> adapter -> capture -> signals -> boundaries ->
interventions -> predictions -> results -> views, and no two modules import each other.

Read from the source with ``ast`` (imports inside functions included), so a new upward import
or cycle fails here with the offending pair named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mspgt_bench

PACKAGE = Path(mspgt_bench.__file__).parent

LAYERS = [
    {"options", "registry", "atomic", "content", "png_memo"},
    {"stats"},
    {"suite"},
    {"stimuli", "corpora"},
    {"metrics"},
    {"models"},
    {"capture"},
    {"signals"},
    {"detectors"},
    {"interventions"},
    {"predictions"},
    {"result_schema", "results"},
    {"figures", "run"},
    {"report", "leaderboard"},
    {"cli"},
]
"""Top-level modules and folders of ``mspgt_bench``, lowest first; the plugin system
(``plugins``, ``hookspecs``, ``builtin``) is the registry's service side and sits outside."""

ALLOWED_UPWARD = {
    ("mspgt_bench.suite.loader", "mspgt_bench.interventions.generation"): "validates `generation:` options before a run, "
    "as it validates plugin options (those it reaches through the registry)",
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "mspgt_bench" or len(parts) < 2:
        return None
    return next((i for i, names in enumerate(LAYERS) if parts[1] in names), None)


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def _modules() -> dict[str, Path]:
    return {
        ".".join(("mspgt_bench", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): path
        for path in PACKAGE.rglob("*.py")
    }


def test_every_top_level_module_has_a_layer():
    tops = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.rglob("*.py")}
    unplaced = tops - set().union(*LAYERS) - {"__init__", "plugins", "hookspecs", "builtin", "py"}
    assert not unplaced, f"place these in LAYERS: {sorted(unplaced)}"


def test_no_import_runs_against_the_data_flow():
    upward = []
    for module, path in _modules().items():
        mine = _layer(module)
        for imported in _imports(path):
            theirs = _layer(imported)
            if mine is not None and theirs is not None and theirs > mine and (module, imported) not in ALLOWED_UPWARD:
                upward.append(f"{module} -> {imported}")
    assert not upward, "imports against the flow:\n" + "\n".join(sorted(upward))


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {m: {i for i in _imports(p, top_level_only=True) if i in modules and i != m} for m, p in modules.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
