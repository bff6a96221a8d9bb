"""The import graph of fastlabel has no circles and no import that points up the layer order.

Every import statement counts: at module level, inside a function, and under TYPE_CHECKING, and
so does `importlib.import_module("fastlabel....")` with a literal name. A type-only import still
means one module has to know the other, so a circle of them is a circle in the design even though
Python never runs it (lint-imports counts them too: `exclude_type_checking_imports = false`).
The layers are read from pyproject.toml's import-linter contracts, so there is one list of them;
this test adds what lint-imports does not check: circles inside a layer, literal `import_module`
calls, imports of the package root (the public face, above every layer), and a module that no
layer of its contract names.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import grimp
import pytest

ROOT = "fastlabel"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@dataclass(frozen=True)
class Layers:
    """One import-linter layers contract: top first; each layer a list of independent siblings
    (`a | b`, which may not import each other) or of modules that may (`a : b`)."""

    name: str
    root: str
    container: str | None
    layers: tuple[tuple[tuple[str, ...], bool], ...]  # (modules, independent)

    def place(self, module: str) -> tuple[int, str] | None:
        """(layer index, layer module) that holds `module`, or None when outside this contract."""
        for index, (modules, _) in enumerate(self.layers):
            for name in modules:
                if module == name or module.startswith(name + "."):
                    return index, name
        return None

    def covers(self, module: str) -> bool:
        """Whether `module` is one this contract should place (the container's own `__init__` is not)."""
        if self.container is None:
            return module != self.root
        return module.startswith(self.container + ".")


def layer_contracts(pyproject: Path = PYPROJECT) -> list[Layers]:
    """Every layers contract in pyproject.toml, one per container (a contract without one is global)."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]
    root = config["root_package"]
    found = []
    for contract in config["contracts"]:
        if contract["type"] != "layers":
            continue
        for container in contract.get("containers") or [None]:
            layers = []
            for line in contract["layers"]:
                independent = ":" not in line
                names = [part.strip().strip("()") for part in line.replace(":", "|").split("|")]
                prefix = f"{container}." if container else ""
                layers.append((tuple(prefix + name for name in names if name), independent))
            found.append(Layers(contract["name"], root, container, tuple(layers)))
    return found


def import_lines(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    lines = ", ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
    return f"{importer} -> {imported}" + (f" ({lines})" if lines else "")


def edges(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return sorted((m, t) for m in graph.modules for t in graph.find_modules_directly_imported_by(m))


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan, iterative), each sorted."""
    successors = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(successors):
        if start in index:
            continue
        work = [(start, iter(successors[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def cycle_report(graph: grimp.ImportGraph) -> list[str]:
    report = []
    for group in cycles(graph):
        inside = [import_lines(graph, a, b) for a, b in edges(graph) if a in group and b in group]
        report.append("circle among " + ", ".join(group) + ":\n    " + "\n    ".join(inside))
    return report


def wrong_way_imports(graph: grimp.ImportGraph, contracts: list[Layers], root: str = ROOT) -> list[str]:
    """Imports of the package root, imports up a contract's layers or between independent siblings,
    and modules that a contract covers but no layer of it names."""
    found = []
    for importer, imported in edges(graph):
        if imported == root:
            found.append(f"the package root is above every layer: {import_lines(graph, importer, imported)}")
            continue
        for contract in contracts:
            here, there = contract.place(importer), contract.place(imported)
            if here is None or there is None or here[1] == there[1]:
                continue
            if here[0] > there[0]:
                found.append(f"up the layers of {contract.name!r}: {import_lines(graph, importer, imported)}")
            elif here[0] == there[0] and contract.layers[here[0]][1]:
                found.append(f"between independent siblings of {contract.name!r}: "
                             f"{import_lines(graph, importer, imported)}")
    for contract in contracts:
        for module in sorted(graph.modules):
            if contract.covers(module) and contract.place(module) is None:
                found.append(f"{module} is in no layer of {contract.name!r}: name it in pyproject.toml")
    return found


def module_file(module: str, package_dir: Path) -> Path:
    parts = module.split(".")[1:]
    plain = package_dir.joinpath(*parts).with_suffix(".py") if parts else package_dir / "__init__.py"
    return plain if plain.is_file() else package_dir.joinpath(*parts, "__init__.py")


def add_dynamic_imports(graph: grimp.ImportGraph, package_dir: Path) -> None:
    """Add the `import_module("<root>...")` calls with a literal name, which grimp does not see."""
    for module in list(graph.modules):
        path = module_file(module, package_dir)
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            target = node.args[0].value
            if name == "import_module" and isinstance(target, str) and target in graph.modules:
                graph.add_import(importer=module, imported=target, line_number=node.lineno,
                                 line_contents=source.splitlines()[node.lineno - 1].strip())


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    built = grimp.build_graph(ROOT, include_external_packages=False, cache_dir=None)
    add_dynamic_imports(built, Path(__file__).resolve().parents[1] / ROOT)
    return built


def test_no_import_circles(graph):
    assert cycle_report(graph) == []


def test_no_import_points_up_the_layers(graph):
    contracts = layer_contracts()
    assert {"fastlabel.data", "fastlabel.learner", "fastlabel.session", "fastlabel.server"} <= {
        c.container for c in contracts}
    assert wrong_way_imports(graph, contracts) == []


def synthetic(imports: list[tuple[str, str]]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for module in ["pkg", "pkg.top", "pkg.mid", "pkg.low", "pkg.low.a", "pkg.low.b"]:
        graph.add_module(module)
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    return graph


def test_the_checks_catch_a_circle_a_wrong_way_import_and_an_unplaced_module(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.importlinter]\nroot_package = "pkg"\n'
        '[[tool.importlinter.contracts]]\nname = "outer"\ntype = "layers"\nlayers = ["pkg.top", "pkg.mid", "pkg.low"]\n'
        '[[tool.importlinter.contracts]]\nname = "inner"\ntype = "layers"\ncontainers = ["pkg.low"]\nlayers = ["a | b"]\n',
        encoding="utf-8")
    contracts = layer_contracts(pyproject)
    clean = synthetic([("pkg.top", "pkg.mid"), ("pkg.mid", "pkg.low.a")])
    assert cycles(clean) == [] and wrong_way_imports(clean, contracts, "pkg") == []

    circle = synthetic([("pkg.top", "pkg.mid"), ("pkg.mid", "pkg.low.a"), ("pkg.low.a", "pkg.top")])
    assert cycles(circle) == [["pkg.low.a", "pkg.mid", "pkg.top"]]
    assert "pkg.low.a -> pkg.top (line 1: import pkg.top)" in cycle_report(circle)[0]

    upward = synthetic([("pkg.low.b", "pkg.mid")])
    assert wrong_way_imports(upward, contracts, "pkg") == [
        "up the layers of 'outer': pkg.low.b -> pkg.mid (line 1: import pkg.mid)"]
    sideways = synthetic([("pkg.low.a", "pkg.low.b")])
    assert wrong_way_imports(sideways, contracts, "pkg") == [
        "between independent siblings of 'inner': pkg.low.a -> pkg.low.b (line 1: import pkg.low.b)"]
    to_root = synthetic([("pkg.mid", "pkg")])
    assert wrong_way_imports(to_root, contracts, "pkg")[0].startswith("the package root is above every layer")

    unplaced = synthetic([])
    unplaced.add_module("pkg.stray")
    assert wrong_way_imports(unplaced, contracts, "pkg") == ["pkg.stray is in no layer of 'outer': name it in pyproject.toml"]


def test_a_literal_import_module_call_is_an_edge(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "top.py").write_text("import importlib\n\ndef load():\n    return importlib.import_module('pkg.mid')\n")
    (package / "mid.py").write_text("from pkg import top\n")
    graph = grimp.ImportGraph()
    for module in ["pkg", "pkg.top", "pkg.mid"]:
        graph.add_module(module)
    graph.add_import(importer="pkg.mid", imported="pkg.top", line_number=1, line_contents="from pkg import top")
    add_dynamic_imports(graph, package)
    assert cycles(graph) == [["pkg.mid", "pkg.top"]]
    assert "line 4: return importlib.import_module('pkg.mid')" in cycle_report(graph)[0]
