"""The package's import graph: no cycle, the test kit stands alone, services never reach an edge.

The graph is read from the source with ``ast``, so it holds every import wherever it is written:
at module level, inside functions and methods (the imports that hide a cycle from Python's own
import machinery), under ``if TYPE_CHECKING:``. An edge goes to the module an import names,
as import-linter counts it: ``from .client import transport`` is an edge to
``django_fastpix.client.transport``, ``from .client import Transport`` one to the package
``django_fastpix.client``; the parent packages Python initialises on the way are not edges.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "django_fastpix"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

# The test kit: the fake FastPix that users' tests run against. It must not share the code
# it fakes for (DESIGN: "a fake that shares the client's code shares its mistakes").
TEST_KIT = f"{PACKAGE}.testing"
FAKED = (f"{PACKAGE}.client", f"{PACKAGE}.services", f"{PACKAGE}.models")

SERVICES = f"{PACKAGE}.services"
# DESIGN's edges: they call services, and services never import them.
EDGES = (
    f"{PACKAGE}.admin",
    f"{PACKAGE}.management",
    f"{PACKAGE}.views",
    f"{PACKAGE}.views_uploads",
    f"{PACKAGE}.upload_widget",
    f"{PACKAGE}.receivers",
    f"{PACKAGE}.tasks",
    f"{PACKAGE}.templatetags",
)

# More cycles than this in one run are counted, not all listed.
MAX_CYCLES_SHOWN = 200


@dataclass(frozen=True)
class Import:
    """One intra-package import statement, as a graph edge with where it was written."""

    source: str
    target: str
    path: str
    line: int
    where: str  # "module level", "in f()", "type-checking only"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}  ({self.path}:{self.line}, {self.where})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


class _Collector(ast.NodeVisitor):
    """Every import in one module, with the function it sits in or its ``TYPE_CHECKING`` guard."""

    def __init__(self, module: str, is_package: bool, path: str, modules: set[str]) -> None:
        self.module = module
        # The package a relative import with one dot is relative to.
        self.package = module if is_package else module.rpartition(".")[0]
        self.path = path
        self.modules = modules
        self.scope: list[str] = []
        self.type_checking = 0
        self.found: list[Import] = []

    def _where(self) -> str:
        if self.type_checking:
            return "type-checking only"
        if self.scope:
            return "in " + ".".join(self.scope) + "()"
        return "module level"

    def _add(self, target: str, node: ast.stmt) -> None:
        found = Import(self.module, target, self.path, node.lineno, self._where())
        # ``from .x import a, b`` is one edge, not one per name.
        if is_under(target, PACKAGE) and target != self.module and found not in self.found:
            self.found.append(found)

    def _resolve(self, name: str) -> str:
        """The deepest module of the package that ``name`` (dotted) is or lies in."""
        while name and name not in self.modules:
            name = name.rpartition(".")[0]
        return name

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if is_under(alias.name, PACKAGE):
                self._add(self._resolve(alias.name), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            origin = f"{base}.{node.module}" if node.module else base
        else:
            origin = node.module or ""
        if not is_under(origin, PACKAGE):
            return
        for alias in node.names:
            # ``from pkg import sub`` names the submodule when there is one.
            candidate = f"{origin}.{alias.name}"
            self._add(candidate if candidate in self.modules else self._resolve(origin), node)

    def _visit_scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = _visit_scope
    visit_AsyncFunctionDef = _visit_scope
    visit_ClassDef = _visit_scope

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        self.visit(test)
        self.type_checking += guarded
        for child in node.body:
            self.visit(child)
        self.type_checking -= guarded
        for child in node.orelse:
            self.visit(child)


def read_graph() -> tuple[set[str], list[Import]]:
    files = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}
    modules = set(files)
    imports: list[Import] = []
    for module, path in files.items():
        collector = _Collector(
            module,
            path.name == "__init__.py",
            str(path.relative_to(ROOT.parent)),
            modules,
        )
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        imports.extend(collector.found)
    return modules, imports


MODULES, IMPORTS = read_graph()


def adjacency(imports: Iterable[Import], keep: set[str]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in keep}
    for imp in imports:
        if imp.source in keep and imp.target in keep:
            graph[imp.source].add(imp.target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (no module imports itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def simple_cycles(graph: dict[str, set[str]], limit: int) -> tuple[list[list[str]], bool]:
    """Each elementary cycle once, from its smallest module (at most ``limit``; True if cut)."""
    cycles: list[list[str]] = []
    for component in strongly_connected(graph):
        members = set(component)
        for start in component:
            allowed = {m for m in members if m >= start}
            path = [start]
            # Depth-first over (node, its remaining successors); a path back to start closes one.
            todo = [iter(sorted(graph[start] & allowed))]
            while todo:
                nxt = next(todo[-1], None)
                if nxt is None:
                    todo.pop()
                    path.pop()
                elif nxt == start:
                    cycles.append([*path, start])
                    if len(cycles) >= limit:
                        return cycles, True
                elif nxt not in path:
                    path.append(nxt)
                    todo.append(iter(sorted(graph[nxt] & allowed)))
    return cycles, False


def edge_lines(cycle: list[str]) -> list[str]:
    lines = []
    for source, target in itertools.pairwise(cycle):
        for imp in IMPORTS:
            if imp.source == source and imp.target == target:
                lines.append(f"    {imp}")
    return lines


def paths_from(start: set[str], stop: set[str]) -> dict[str, list[Import]]:
    """For each module of ``stop`` reachable from ``start``: one shortest chain of imports."""
    by_source: dict[str, list[Import]] = {}
    for imp in IMPORTS:
        by_source.setdefault(imp.source, []).append(imp)
    chains: dict[str, list[Import]] = {module: [] for module in start}
    frontier = sorted(start)
    while frontier:
        following = []
        for module in frontier:
            for imp in by_source.get(module, ()):
                if imp.target not in chains:
                    chains[imp.target] = [*chains[module], imp]
                    following.append(imp.target)
        frontier = following
    return {module: chain for module, chain in chains.items() if module in stop and chain}


def describe_chains(chains: dict[str, list[Import]]) -> str:
    return "\n".join(
        f"  {target}:\n" + "\n".join(f"    {imp}" for imp in chain)
        for target, chain in sorted(chains.items())
    )


# --- the graph itself is read right ---


def test_the_walk_sees_the_whole_package() -> None:
    assert f"{PACKAGE}.services" in MODULES
    assert f"{PACKAGE}.client.transport" in MODULES
    assert f"{PACKAGE}.testing" in MODULES
    # Relative imports resolve, and ``from pkg import submodule`` names the submodule.
    transport = {i.target for i in IMPORTS if i.source == f"{PACKAGE}.client.transport"}
    assert {f"{PACKAGE}.exceptions", f"{PACKAGE}.client.credentials"} <= transport
    assert all(target in MODULES for target in {i.target for i in IMPORTS})


def test_function_level_and_type_checking_imports_are_edges() -> None:
    source = """
from __future__ import annotations
from typing import TYPE_CHECKING
from . import conf
if TYPE_CHECKING:
    from .models import Media
def later():
    from .services import media
    import django_fastpix.tasks
"""
    collector = _Collector(
        f"{PACKAGE}.example", False, "example.py", {*MODULES, f"{PACKAGE}.example"}
    )
    collector.visit(ast.parse(source))
    assert [(i.target, i.where) for i in collector.found] == [
        (f"{PACKAGE}.conf", "module level"),
        (f"{PACKAGE}.models", "type-checking only"),
        (f"{PACKAGE}.services.media", "in later()"),
        (f"{PACKAGE}.tasks", "in later()"),
    ]


def test_cycle_finder_finds_each_cycle_once() -> None:
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"a"}, "d": {"a"}}
    cycles, cut = simple_cycles(graph, 10)
    assert sorted(cycles) == [["a", "b", "a"], ["a", "b", "c", "a"]]
    assert not cut


# --- the rules ---


def test_no_import_cycle_in_the_package() -> None:
    keep = {m for m in MODULES if not is_under(m, TEST_KIT)}
    cycles, cut = simple_cycles(adjacency(IMPORTS, keep), MAX_CYCLES_SHOWN)
    report = []
    for number, cycle in enumerate(cycles, 1):
        report.append(f"cycle {number}: " + " -> ".join(cycle))
        report.extend(edge_lines(cycle))
    if cut:
        report.append(f"... listing stopped at {MAX_CYCLES_SHOWN} cycles")
    text = "\n".join(report)
    print(text or "no import cycle")  # shown with -s, and under the failure otherwise
    assert not cycles, f"{len(cycles)}{'+' if cut else ''} import cycle(s):\n{text}"


def test_the_test_kit_imports_nothing_it_fakes() -> None:
    kit = {m for m in MODULES if is_under(m, TEST_KIT)}
    reached = paths_from(kit, {m for m in MODULES if any(is_under(m, f) for f in FAKED)})
    assert not reached, "testing/ reaches the code it fakes:\n" + describe_chains(reached)


def test_services_never_import_an_edge() -> None:
    services = {m for m in MODULES if is_under(m, SERVICES)}
    edges = {m for m in MODULES if any(is_under(m, e) for e in EDGES)}
    # Through any chain: a helper that services use must not pull an edge in either.
    reached = paths_from(services, edges)
    assert not reached, "services/ reaches an edge:\n" + describe_chains(reached)
