"""Code generated from proto/docwire/v1 by `make proto` (see sdk_gen/python/reroot.py). Do not edit."""
