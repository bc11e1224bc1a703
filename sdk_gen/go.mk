# The Go SDK (sdk/go): pinned protoc plugins, generated code, module downloads, lint.
# Included by the main Makefile (`include sdk_gen/go.mk`), which provides BUF, the
# google/api protos (.build/googleapis) and the `##` help convention.
GO ?= go
BUF ?= .venv/bin/buf
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GO_SDK := sdk/go
GEN_GO := $(GO_SDK)/gen/docwire/v1
GO_PLUGINS := .build/bin/protoc-gen-go .build/bin/protoc-gen-go-grpc

.PHONY: tools-go proto-go lint-go

tools-go: $(GO_PLUGINS) ## install the pinned Go protoc plugins and download the Go SDK's modules
	cd $(GO_SDK) && $(GO) mod download

# Each plugin is reinstalled when this file (its pinned version) changes.
.build/bin/protoc-gen-go: sdk_gen/go.mk
	GOBIN=$(CURDIR)/.build/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	touch $@

.build/bin/protoc-gen-go-grpc: sdk_gen/go.mk
	GOBIN=$(CURDIR)/.build/bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	touch $@

proto-go: .build/googleapis/google/api/annotations.proto $(GO_PLUGINS) ## regenerate sdk/go/gen from proto/ (reproducible)
	$(BUF) generate --template sdk_gen/buf.gen.go.yaml

lint-go: ## gofmt + go vet of the Go SDK
	@test -z "$$(gofmt -l $(GO_SDK))" || { gofmt -l $(GO_SDK); echo "Go files are not gofmt-ed: run 'gofmt -w $(GO_SDK)'"; exit 1; }
	cd $(GO_SDK) && $(GO) vet ./...
