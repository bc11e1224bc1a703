package docwire

// Version is the SDK's version. It moves together with the contract (proto/docwire/v1)
// and the Python and JS/TS SDKs; tests/unit/test_versions.py checks that they agree.
const Version = "0.1.0"
