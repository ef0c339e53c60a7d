"""The import graph matches DESIGN.md: arrows point one way and nothing imports in a circle.

Function-level ("lazy") imports and ``TYPE_CHECKING`` imports count like any other: a cycle
hidden inside a function is still a cycle for a reader, and a type-only import from a channel
into the case store is still a channel that knows about cases.
"""

from __future__ import annotations

import grimp

PACKAGES = ("config", "normalizer", "channels", "complaints", "workers", "gateway")

# Who may import whom (DESIGN.md, "Layout"): data flows down this table only.
ALLOWED: dict[str, frozenset[str]] = {
    "config": frozenset(),
    "normalizer": frozenset({"config"}),
    "channels": frozenset({"normalizer", "config"}),
    "complaints": frozenset({"normalizer", "config"}),
    "workers": frozenset({"complaints", "channels", "normalizer", "config"}),
    "gateway": frozenset({"workers", "complaints", "channels", "normalizer", "config"}),
}


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_every_import_follows_the_layers_of_the_design() -> None:
    """No module imports a package above its own layer (e.g. channels/ never imports complaints/ or workers/)."""
    graph = _graph()
    wrong = sorted(
        f"{importer} -> {imported}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if _top(imported) != _top(importer) and _top(imported) not in ALLOWED[_top(importer)]
    )
    assert not wrong, "imports against the layers of DESIGN.md:\n" + "\n".join(wrong)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_import_cycles() -> None:
    """No group of modules imports each other in a circle, however deep inside a function the import hides."""
    graph = _graph()
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    # A package's __init__ re-exporting its own submodules is how Python packages work, not a cycle.
    for module, imported in edges.items():
        edges[module] = {m for m in imported if not module.startswith(m + ".")}
    cycles = _cycles(edges)
    described = []
    for component in cycles:
        members = set(component)
        links = sorted(f"  {a} -> {b}" for a in component for b in edges[a] if b in members)
        described.append(" / ".join(component) + "\n" + "\n".join(links))
    assert not cycles, "import cycles:\n" + "\n".join(described)


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The checker itself sees a three-module circle and ignores a straight line."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
