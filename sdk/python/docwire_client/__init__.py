"""docwire Python client."""
