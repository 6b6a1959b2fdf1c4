"""The product packages import each other in layers: no cycle between packages, and the model registry
depends on nothing above it. Read from the source (every import, at module level, inside functions and
under TYPE_CHECKING), so a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("livepeer_ai", "studio", "dashboard")
# What the registry may import of the product: itself and the htmx helpers every page uses.
REGISTRY_MAY_IMPORT = frozenset({"livepeer_ai.registry", "livepeer_ai.htmx"})


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # path:line of the import

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.where})"


def product_modules(root: Path) -> dict[str, Path]:
    modules = {}
    for top in PRODUCT:
        for path in (root / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterable[tuple[str, int]]:
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield base, node.lineno
            yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)


@functools.cache  # the product's tree is read once for the tests below (each parse of it is about a second)
def import_edges(root: Path = ROOT) -> tuple[Edge, ...]:
    modules = product_modules(root)
    edges = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for target, line in imported_names(tree, module, path.name == "__init__.py"):
            # `from pkg import name` names a module only when `pkg.name` is one.
            if target in modules and target != module:
                edges.append(Edge(module, target, f"{path.relative_to(root)}:{line}"))
    return tuple(edges)


def package_of(module: str) -> str:
    """livepeer_ai.gateway.models → livepeer_ai.gateway; studio.views.jobs → studio."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "livepeer_ai" and len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def graph_of(edges: Iterable[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    return graph


def package_edges(edges: Iterable[Edge]) -> list[Edge]:
    return [
        Edge(package_of(e.source), package_of(e.target), e.where)
        for e in edges
        if package_of(e.source) != package_of(e.target)
    ]


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_two_product_packages_import_each_other_even_through_others() -> None:
    edges = package_edges(import_edges())
    assert edges, "the product packages import each other somewhere"
    found = cycles(graph_of(edges))
    explained = ["\n".join(str(e) for e in edges if e.source in cycle and e.target in cycle) for cycle in found]
    assert not found, "import cycles between packages:\n" + "\n\n".join(explained)


def test_the_registry_depends_on_nothing_above_it() -> None:
    above = [
        e
        for e in import_edges()
        if package_of(e.source) == "livepeer_ai.registry" and package_of(e.target) not in REGISTRY_MAY_IMPORT
    ]
    assert not above, "the registry imports:\n" + "\n".join(map(str, above))


def test_no_module_imports_itself_through_others() -> None:
    edges = import_edges()
    unexpected = cycles(graph_of(edges))
    assert not unexpected, "module import cycles:\n" + "\n\n".join(
        "\n".join(str(e) for e in edges if e.source in cycle and e.target in cycle) for cycle in unexpected
    )


def test_the_job_model_does_not_import_the_queue() -> None:
    """Job's queue place and cancel reach gateway.queue through the app's start-up, not an import."""
    imports = {e.target for e in import_edges() if e.source == "livepeer_ai.gateway.models"}
    assert "livepeer_ai.gateway.queue" not in imports


def test_the_gateway_and_the_node_share_rules_only_through_the_protocol_package() -> None:
    sides = {"livepeer_ai.gateway", "livepeer_ai.orchestrator"}
    across = [e for e in package_edges(import_edges()) if {e.source, e.target} == sides]
    assert not across, "the gateway and the node import each other:\n" + "\n".join(map(str, across))
