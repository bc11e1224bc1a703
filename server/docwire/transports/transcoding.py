"""HTTP bindings read from a service's ``google.api.http`` annotations, with grpc-gateway's path templates.

Pure logic, no I/O: ``bindings(service)`` lists every (verb, path template, body)
an rpc is annotated with, additional bindings included; ``Binding.match`` tells
whether a request path fits and which request fields the path sets.

Template grammar (google/api/http.proto)::

    Template = "/" Segments [ ":" Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

__all__ = ["Binding", "PathTemplate", "bindings"]

_VARIABLE = re.compile(r"\{([A-Za-z_][\w.]*)(?:=([^}]*))?\}")
_VERBS = ("get", "put", "post", "delete", "patch")


def _segments_pattern(segments: str) -> str:
    parts = []
    for segment in segments.split("/"):
        if segment == "**":
            parts.append(".+")
        elif segment == "*":
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment))
    return "/".join(parts)


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed path template: a regular expression and the field paths its variables bind."""

    template: str
    pattern: re.Pattern[str]
    fields: tuple[str, ...]
    literal_segments: int
    greedy: bool

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        """Parses ``template``.

        Raises:
            ValueError: the template does not start with "/".
        """
        if not template.startswith("/"):
            raise ValueError(f"path template {template!r} must start with '/'")
        head, colon, tail = template.rpartition(":")
        # A verb is a ":name" after the last segment, not a colon inside a variable or a segment.
        path, verb = (head, tail) if colon and not {"/", "}"} & set(tail) else (template, "")
        fields: list[str] = []
        regex = ""
        position = 0
        for variable in _VARIABLE.finditer(path):
            regex += _segments_pattern(path[position : variable.start()])
            name, segments = variable.group(1), variable.group(2) or "*"
            fields.append(name)
            regex += f"(?P<v{len(fields) - 1}>{_segments_pattern(segments)})"
            position = variable.end()
        regex += _segments_pattern(path[position:])
        if verb:
            regex += re.escape(f":{verb}")
        literal = sum(1 for s in _VARIABLE.sub("", path).split("/") if s and s not in ("*", "**"))
        return cls(template, re.compile(f"^{regex}$"), tuple(fields), literal, "**" in path)

    def match(self, path: str) -> dict[str, str] | None:
        """The field values the path sets, or None when it does not fit the template."""
        found = self.pattern.match(path)
        if found is None:
            return None
        return {name: found.group(f"v{i}") for i, name in enumerate(self.fields)}

    @property
    def is_literal(self) -> bool:
        """Whether the template has no variables and no wildcards (an OpenAPI path as it is)."""
        return not self.fields and "*" not in self.template


@dataclass(frozen=True, slots=True)
class Binding:
    """One HTTP spelling of an rpc."""

    method: MethodDescriptor
    verb: str
    path: PathTemplate
    body: str

    def sort_key(self) -> tuple[int, int, int]:
        """Literal paths first, then the most specific templates, greedy (``**``) ones last."""
        return (int(self.path.greedy), -self.path.literal_segments, -len(self.path.template))


def _rule_bindings(method: MethodDescriptor, rule: http_pb2.HttpRule) -> list[Binding]:
    found = []
    pattern = rule.WhichOneof("pattern")
    if pattern in _VERBS:
        found.append(Binding(method, pattern.upper(), PathTemplate.parse(getattr(rule, pattern)), rule.body))
    elif pattern == "custom":
        found.append(Binding(method, rule.custom.kind.upper(), PathTemplate.parse(rule.custom.path), rule.body))
    for extra in rule.additional_bindings:
        found.extend(_rule_bindings(method, extra))
    return found


def bindings(service: ServiceDescriptor) -> list[Binding]:
    """Every HTTP binding of the service's rpcs, most specific first (the order to match in)."""
    found: list[Binding] = []
    for method in service.methods:
        options = method.GetOptions()
        if options.HasExtension(annotations_pb2.http):
            found.extend(_rule_bindings(method, options.Extensions[annotations_pb2.http]))
    return sorted(found, key=Binding.sort_key)
