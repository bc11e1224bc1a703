"""Prometheus metrics and OpenTelemetry traces for the gateway and the executor replicas.

Off by default, and then nothing of it is imported past ``spec`` and ``observer`` (plain
Python): ``launch`` imports ``prometheus_client`` and the OpenTelemetry SDK only in a
process started with ``monitoring=True`` or ``tracing=True``.

Modules: ``spec`` (what a process is told), ``observer`` (the interface the gateway core
and the executor servicer call, one hook per request), ``launch`` (builds the observers a
process asks for), ``metrics`` (the Prometheus families and the monitoring port),
``tracing`` (spans and the W3C ``traceparent``), ``gateway`` and ``executor`` (the two
observers), ``doc_count`` (documents in a request without decoding them).
"""
