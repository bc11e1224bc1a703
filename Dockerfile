# The image the Kubernetes manifests and compose files run (`docwire export kubernetes|compose`):
# one `docwire` entrypoint; a container is a gateway (`gateway serve ...`) or an executor
# (`executor serve --uses module.Class ...`). Build the two wheels first, then the image:
#   .venv/bin/pip wheel --no-deps -w dist ./sdk/python . && docker build -t docwire:0.1.0 .
# Executors' own code goes in /app (the working directory, on the import path) in an image built FROM this one.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

COPY dist/docwire_client-*.whl dist/docwire-*.whl /tmp/wheels/
RUN pip install --no-cache-dir /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels

# The manifests' securityContext runs as this uid (runAsNonRoot).
RUN groupadd --system --gid 10001 docwire \
    && useradd --system --uid 10001 --gid docwire --home-dir /app --create-home docwire
WORKDIR /app
USER 10001

# The gateway's and the executors' default ports in the manifests (docwire.orchestration.export_plan).
EXPOSE 8080 8100
ENTRYPOINT ["docwire"]
CMD ["--help"]
