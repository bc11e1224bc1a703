"""docwire: serve multimodal document pipelines over gRPC."""

import pkgutil

# The generated contract (`docwire.v1`) ships with the docwire-client
# distribution; let it live beside this package in the `docwire` namespace.
__path__ = pkgutil.extend_path(__path__, __name__)
