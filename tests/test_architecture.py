"""Imports flow one way: config/errors/io -> specimen -> imaging -> scenes | distort -> pairs ->
dataset -> analysis -> restoration -> cli, with no cycles (every import statement, also
inside functions)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("emsim", "restoration", "cli")
# rank of each stage; equal ranks are peers that must not import each other
LAYERS = {
    "emsim.config": 0, "emsim.errors": 0, "emsim.io": 0, "emsim._version": 0, "emsim.resources": 0,
    "emsim.specimen": 1,
    "emsim.imaging": 2,
    "emsim.scenes": 3, "emsim.distort": 3,
    "emsim.pairs": 4,
    "emsim.dataset": 5,
    "emsim.analysis": 6,
    "restoration": 7,
    "cli": 8,
}  # fmt: skip
# entry points above every stage; no module of a stage may import them
FACADES = {"emsim", "emsim.pipeline", "emsim.data"}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = f.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(name: str, path: Path, modules, implicit: bool = False) -> set[str]:
    """Internal modules ``name`` imports by name; with ``implicit`` also their parent
    packages (which Python imports first), except the importer's own ancestors."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            if t in modules:
                found.add(t)
                parts = t.split(".")
                if implicit:
                    found.update(".".join(parts[:k]) for k in range(1, len(parts)) if not name.startswith(".".join(parts[:k])))
    found.discard(name)
    return found & set(modules)


def _layer(name: str):
    for k in range(len(name.split(".")), 0, -1):
        prefix = ".".join(name.split(".")[:k])
        if prefix in LAYERS:
            return prefix, LAYERS[prefix]
    return None, None


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


@pytest.fixture(scope="module")
def full_graph():
    modules = _modules()
    return {m: _imports(m, p, modules, implicit=True) for m, p in modules.items()}


def test_no_upward_or_sideways_import(graph):
    bad = []
    for mod, targets in graph.items():
        if mod in FACADES:
            continue
        stage, rank = _layer(mod)
        assert stage is not None, f"{mod} belongs to no stage: add it to LAYERS"
        for t in targets:
            t_stage, t_rank = _layer(t)
            if t in FACADES or t_rank is None or t_rank > rank or (t_rank == rank > 0 and t_stage != stage):
                bad.append(f"{mod} -> {t}")
    assert not bad, "imports against the flow: " + ", ".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles(full_graph):
    cycles = _cycles(full_graph)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The rules above can fail: a planted cycle and an upward import are found."""
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import g\n")
    mods = {"emsim.distort.a": tmp_path / "a.py", "emsim.distort.b": tmp_path / "b.py", "emsim.pairs": tmp_path / "a.py"}
    assert _imports("emsim.distort.a", mods["emsim.distort.a"], mods) == {"emsim.distort.b"}
    assert _imports("emsim.distort.b", mods["emsim.distort.b"], mods) == {"emsim.distort.a"}
    assert _cycles({m: _imports(m, p, mods) for m, p in mods.items()}) == [["emsim.distort.a", "emsim.distort.b"]]
    (tmp_path / "c.py").write_text("import emsim.pairs\n")
    assert _layer("emsim.pairs")[1] > _layer("emsim.distort.c")[1]
    assert _imports("emsim.distort.c", tmp_path / "c.py", mods) == {"emsim.pairs"}
