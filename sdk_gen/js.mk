# The JS/TS SDK (sdk/js): its pinned npm packages (protoc-gen-es among them), the
# generated code and lint. Included by the main Makefile (`include sdk_gen/js.mk`),
# which provides BUF, the google/api protos (.build/googleapis) and the `##` help
# convention. Needs node >= 20 with npm.
BUF ?= .venv/bin/buf
JS_SDK := sdk/js
GEN_TS := $(JS_SDK)/src/gen
# npm ci empties node_modules first, so this stamp goes with every reinstall.
JS_INSTALLED := $(JS_SDK)/node_modules/.docwire-installed

.PHONY: tools-js proto-ts lint-js

tools-js: $(JS_INSTALLED) ## install the JS SDK's pinned npm packages (npm ci from its package-lock.json)

$(JS_INSTALLED): $(JS_SDK)/package.json $(JS_SDK)/package-lock.json
	npm ci --prefix $(JS_SDK) --no-audit --no-fund
	touch $@

proto-ts: .build/googleapis/google/api/annotations.proto $(JS_INSTALLED) ## regenerate sdk/js/src/gen from proto/ (reproducible)
	$(BUF) generate --template sdk_gen/buf.gen.ts.yaml

lint-js: $(JS_INSTALLED) ## prettier --check and strict tsc --noEmit over the JS SDK
	npm run lint --prefix $(JS_SDK)
