"""The import graph of the three packages: who may import whom, and no cycles.

* ``docwire_contract`` (the wire kernel) imports neither the server nor the client;
* ``docwire_client`` never imports the server;
* the server imports the client only through its public facade (``from docwire_client import Client``);
* no module imports itself back through others, counting imports inside functions (run time)
  and leaving out those under ``if TYPE_CHECKING:`` (annotations only);
* the gateway core is protocol-neutral: no module of ``docwire.gateway`` but the process entry
  point imports a transport (save the channel options it dials executors with) or names grpc's
  ``ServicerContext``;
* the replica pool and the replica streams import neither the other, not even for annotations.

Read from the source with ``ast``, so no module is executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Set
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "docwire": ROOT / "server" / "docwire",
    "docwire_client": ROOT / "sdk" / "python" / "docwire_client",
    "docwire_contract": ROOT / "sdk" / "python" / "docwire_contract",
}
GENERATED = "docwire_contract.v1"


def _module_name(package: str, path: Path) -> str:
    parts = [package, *path.relative_to(PACKAGES[package]).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {
        _module_name(package, path): path for package, root in PACKAGES.items() for path in sorted(root.rglob("*.py"))
    }
    return {name: path for name, path in found.items() if not name.startswith(GENERATED + ".")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, annotations: bool = False) -> Iterator[str]:
    """Every module ``module`` imports (absolute names), skipping ``if TYPE_CHECKING:`` blocks
    unless ``annotations``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node) and not annotations:
            yield from (name for child in node.orelse for name in _imports(child, module, is_package))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
        else:
            yield from _imports(node, module, is_package, annotations)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = set(_imports(tree, name, path.name == "__init__.py"))
        graph[name] = {target for target in targets if target in modules and target != name}
        graph[name] |= {f"{GENERATED}" for target in targets if target.startswith(GENERATED)}
    return graph


def _raw_imports(annotations: bool = False) -> dict[str, set[str]]:
    """Every imported name per module, including those outside the three packages (and, with
    ``annotations``, those under ``if TYPE_CHECKING:``)."""
    result: dict[str, set[str]] = {}
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(), str(path))
        result[name] = set(_imports(tree, name, path.name == "__init__.py", annotations))
    return result


def _top(name: str) -> str:
    return name.partition(".")[0]


def test_the_kernel_imports_neither_the_server_nor_the_client() -> None:
    wrong = {
        module: sorted(target for target in targets if _top(target) in ("docwire", "docwire_client"))
        for module, targets in _raw_imports().items()
        if _top(module) == "docwire_contract"
    }
    assert {module: targets for module, targets in wrong.items() if targets} == {}


def test_the_client_never_imports_the_server() -> None:
    wrong = {
        module: sorted(target for target in targets if _top(target) == "docwire")
        for module, targets in _raw_imports().items()
        if _top(module) == "docwire_client"
    }
    assert {module: targets for module, targets in wrong.items() if targets} == {}


def test_the_server_uses_only_the_clients_public_facade() -> None:
    facade = __import__("docwire_client").__all__
    allowed = {"docwire_client", *(f"docwire_client.{name}" for name in facade)}
    wrong = {
        module: sorted(target for target in targets if _top(target) == "docwire_client" and target not in allowed)
        for module, targets in _raw_imports().items()
        if _top(module) == "docwire"
    }
    assert {module: targets for module, targets in wrong.items() if targets} == {}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
    return found


def _without_package_facades(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph less the edges into a package's own ``__init__`` from inside it.

    ``from docwire_client.errors import X`` runs ``docwire_client/__init__`` first, which
    imports the package's modules back: that is how Python loads a facade, not a cycle
    between two pieces of code.
    """
    packages = {name for name, path in _modules().items() if path.name == "__init__.py"}
    return {
        module: {target for target in targets if not (target in packages and module.startswith(target + "."))}
        for module, targets in graph.items()
    }


def test_no_import_cycles() -> None:
    assert _cycles(_without_package_facades(_graph())) == []


#: What the gateway core may take from the transports: the options its channels to executors use
#: (message sizes, and the mutual TLS it dials executors served elsewhere with).
_GATEWAY_TRANSPORT_IMPORTS = {
    "docwire.transports",
    "docwire.transports.grpc_server",
    "docwire.transports.grpc_server.PROCESS_STREAM_FRAMING_BYTES",
    "docwire.transports.grpc_server.channel_options",
    "docwire.transports.tls",
    "docwire.transports.tls.MutualTls",
}


def _gateway_modules() -> dict[str, Path]:
    """The gateway core: ``docwire.gateway`` less ``app``, the process that starts the transports."""
    return {
        name: path
        for name, path in _modules().items()
        if name.startswith("docwire.gateway.") and name != "docwire.gateway.app"
    }


def test_the_gateway_core_imports_no_transport() -> None:
    imports = _raw_imports(annotations=True)
    wrong = {
        module: sorted(
            target
            for target in imports[module]
            if target.startswith("docwire.transports") and target not in _GATEWAY_TRANSPORT_IMPORTS
        )
        for module in _gateway_modules()
    }
    assert {module: targets for module, targets in wrong.items() if targets} == {}


def _names(tree: ast.AST) -> Set[str]:
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} | {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
    }


def test_the_gateway_core_never_sees_a_grpc_servicer_context() -> None:
    wrong = [
        name
        for name, path in _gateway_modules().items()
        if "ServicerContext" in _names(ast.parse(path.read_text(), str(path)))
    ]
    assert wrong == []


def test_the_replica_pool_and_the_replica_streams_import_neither_other() -> None:
    """``gateway.forwarding`` picks one of them per request; both report errors through ``gateway.call_errors``."""
    imports = _raw_imports(annotations=True)
    pool, streams = "docwire.gateway.upstream", "docwire.gateway.replica_streams"
    assert {target for target in imports[pool] if target.startswith(streams)} == set()
    assert {target for target in imports[streams] if target.startswith(pool)} == set()
    assert "docwire.gateway.call_errors" in imports[pool] & imports[streams]
    assert {target for target in imports["docwire.gateway.call_errors"] if target.startswith("docwire.")} == set()


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_package_is_read(package: str) -> None:
    """Guards the checks above against reading nothing (a moved folder)."""
    assert sum(1 for name in _modules() if _top(name) == package) >= 5


def _declared_all(path: Path) -> set[str] | None:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {ast.literal_eval(item) for item in node.value.elts}  # type: ignore[attr-defined]
    return None


def test_modules_share_only_declared_names() -> None:
    """No module imports another's private name; a private module (``_x.py``) offers only its ``__all__``.

    The codec's modules, say, form one package behind ``docwire_contract.codec``: each
    one's ``__all__`` is the interface it offers the others.
    """
    modules = _modules()
    wrong: list[str] = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.module not in modules:
                continue
            offered = _declared_all(modules[node.module])
            private_module = node.module.rpartition(".")[2].startswith("_")
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    continue  # a submodule
                if alias.name.startswith("_") or (private_module and alias.name not in (offered or set())):
                    wrong.append(f"{name} imports {node.module}.{alias.name}")
    assert wrong == []


def test_only_the_grpc_transport_loads_jinas_descriptors() -> None:
    """``docwire_contract.jina`` registers the ``jina.*`` services in protobuf's default pool, where the real
    ``jina`` package registers the same names: only the gateway process's gRPC transport may load it, never
    the client (which a user may import beside jina while migrating)."""
    importers = sorted(
        module
        for module, targets in _raw_imports(annotations=True).items()
        if any(target == "docwire_contract.jina" or target.startswith("docwire_contract.jina.") for target in targets)
        and not module.startswith("docwire_contract.jina")
    )
    assert importers == ["docwire.transports.grpc_gateway"]
