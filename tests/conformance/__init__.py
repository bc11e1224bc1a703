"""Conformance tests: the real grpcurl and grpc-health-probe binaries against a real Flow."""
