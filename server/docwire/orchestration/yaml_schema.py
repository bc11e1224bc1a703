"""Which keys a Flow YAML file (and an executor YAML file) may hold, and the one error for those it may not.

docwire reads the incumbent's YAML unchanged where it means the same thing: ``jtype: Flow``,
``with:`` (the Flow's settings), ``executors:`` entries with ``uses``, ``name``, ``replicas``,
``uses_with``, ``py_modules``, the graph's ``needs``, ``when``, ``floating``, ``shards``, ``polling``
and ``reduce``, placement's ``host``, ``port``, ``external`` and ``env``, and executor YAML files with
``jtype`` (the class), ``with`` (its constructor's arguments) and ``py_modules`` (at the top or under
``metas``), and the observability keys (``monitoring``, ``port_monitoring``, ``tracing``,
``traces_exporter_host``, ``traces_exporter_port``) both in ``with:`` and in an executor. Every other key
(``gpus``, ``uses_requests``, ...) would
change what the Flow does if docwire served it, so it is never ignored: all of them, with
where each was found, make one ``UnsupportedConfig`` error before anything starts.

``SUPPORTED_KEYS`` is the one table of what is read; supporting a key means adding it there and
to the model in ``config`` (``tests/unit/test_config.py`` checks the two agree).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import yaml

__all__ = [
    "SUPPORTED_KEYS",
    "ExecutorYaml",
    "Findings",
    "Section",
    "UnsupportedConfig",
    "executor_yaml",
    "read_yaml",
]


class Section(enum.Enum):
    """Where in a YAML file a key is; the value is how messages name it."""

    FLOW = "the Flow"
    FLOW_WITH = "the Flow's with"
    EXECUTOR = "an executor"
    EXECUTOR_YAML = "an executor YAML"
    EXECUTOR_METAS = "an executor YAML's metas"


#: Every key docwire reads, by where it may appear. Keys of the incumbent not here are refused, not ignored.
SUPPORTED_KEYS: Final[Mapping[Section, frozenset[str]]] = MappingProxyType(
    {
        Section.FLOW: frozenset({"jtype", "version", "with", "executors"}),
        Section.FLOW_WITH: frozenset(
            {
                "port",
                "host",
                "protocol",
                "prefetch",
                "max_message_bytes",
                "timeout_ready",
                "ssl_certfile",
                "ssl_keyfile",
                "cors",
                "auth_tokens",
                "error_details",
                "restart_executors",
                "monitoring",
                "port_monitoring",
                "tracing",
                "traces_exporter_host",
                "traces_exporter_port",
                "executor_tls",
                "max_inflight",
                "http_read_timeout",
            }
        ),
        Section.EXECUTOR: frozenset(
            {"name", "uses", "replicas", "uses_with", "py_modules", "workspace"}
            | {"needs", "when", "floating", "shards", "polling", "reduce"}  # the graph (gateway.topology)
            | {"monitoring", "port_monitoring", "tracing", "traces_exporter_host", "traces_exporter_port"}
            | {"host", "port", "external", "env"}  # placement (orchestration.placement)
            | {"max_concurrency", "uses_dynamic_batching"}  # scheduling (runtime.invocation)
        ),
        Section.EXECUTOR_YAML: frozenset({"jtype", "with", "py_modules", "metas"}),
        Section.EXECUTOR_METAS: frozenset({"py_modules"}),
    }
)

#: ``uses`` values naming an image or a remote executor rather than a Python class.
_REMOTE_USES = ("jinaai://", "jinahub://", "jinaai+docker://", "jinahub+docker://", "docker://", "grpc://")


class UnsupportedConfig(ValueError):
    """A YAML file holds keys (or ``uses`` values) docwire does not serve; the message lists each with its place.

    Attributes:
        file: the file as the caller named it.
        findings: one line per place: where, and what is not supported there.
    """

    def __init__(self, file: str, findings: Sequence[str]) -> None:
        self.file = file
        self.findings = tuple(findings)
        lines = "\n".join(f"  - {finding}" for finding in self.findings)
        super().__init__(f"{file}: docwire does not support these keys, so nothing is started:\n{lines}")


class Findings:
    """What one file (with the executor YAML files it names) asks for that docwire does not support.

    Args:
        file: the file, as messages name it.
    """

    def __init__(self, file: str) -> None:
        self._file = file
        self._lines: list[str] = []

    def keys(self, data: Mapping[Any, Any], section: Section, where: str, prefix: str = "") -> None:
        """Records the keys of ``data`` that ``section`` does not support, found at ``where``."""
        supported = SUPPORTED_KEYS[section]
        unknown = [f"{prefix}{key}" for key in data if key not in supported]
        if unknown:
            known = ", ".join(f"{prefix}{key}" for key in sorted(supported))
            self._lines.append(f"{where}: {', '.join(unknown)} (supported in {section.value}: {known})")

    def value(self, where: str, problem: str) -> None:
        """Records a value docwire does not support."""
        self._lines.append(f"{where}: {problem}")

    def mapping(self, value: Any, where: str, what: str) -> dict[Any, Any]:
        """``value`` as a mapping (None is empty); anything else is recorded and read as empty."""
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return dict(value)
        self.value(where, f"{what} must be a mapping, not {type(value).__name__}")
        return {}

    def uses(self, uses: Any, where: str) -> None:
        """Records a ``uses`` that names a Hub or container image, or a remote executor."""
        if isinstance(uses, str) and uses.startswith(_REMOTE_USES):
            self.value(
                where,
                f"uses {uses!r}: docwire runs Executor classes from Python code ('module.Class', a class in "
                "py_modules, or an executor YAML file), not Hub or container images or remote executors",
            )

    def raise_if_any(self) -> None:
        """Raises what was recorded, all at once.

        Raises:
            UnsupportedConfig: something was recorded.
        """
        if self._lines:
            raise UnsupportedConfig(self._file, self._lines)


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping a YAML file holds.

    Raises:
        ValueError: the file is not YAML, or does not hold a mapping.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping at the top level")
    return data


@dataclass(frozen=True, slots=True)
class ExecutorYaml:
    """What an executor YAML file (or an inline ``uses:`` mapping) says.

    Attributes:
        uses: the Executor class (``jtype``).
        uses_with: its constructor's arguments (``with``).
        py_modules: files to import first, absolute (``py_modules``, at the top and under ``metas``).
    """

    uses: str | None
    uses_with: dict[str, Any]
    py_modules: tuple[str, ...]


def executor_yaml(data: Mapping[Any, Any], base: Path, where: str, findings: Findings) -> ExecutorYaml:
    """Reads an executor YAML mapping, recording in ``findings`` what docwire does not support.

    Args:
        data: the mapping.
        base: the folder its ``py_modules`` are relative to (its file's).
        where: how messages name it.
        findings: where unsupported keys go.
    """
    findings.keys(data, Section.EXECUTOR_YAML, where)
    metas = findings.mapping(data.get("metas"), where, "metas")
    findings.keys(metas, Section.EXECUTOR_METAS, where, prefix="metas.")
    modules = [*_names(data.get("py_modules")), *_names(metas.get("py_modules"))]
    uses = data.get("jtype")
    return ExecutorYaml(
        uses=None if uses is None else str(uses),
        uses_with=findings.mapping(data.get("with"), where, "with"),
        py_modules=tuple(str((base / module).resolve()) for module in modules),
    )


def _names(value: Any) -> list[str]:
    """A ``py_modules`` value: one file name or a list of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]
