"""Code generated from proto/docwire/v1 by `make proto`. Do not edit."""
