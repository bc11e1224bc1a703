"""Code generated from proto/jina by `make proto` (see sdk_gen/python/reroot.py). Do not edit."""
