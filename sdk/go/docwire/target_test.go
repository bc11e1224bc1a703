package docwire

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		target string
		tls    bool
		want   Target
	}{
		{"grpc://localhost:12345", false, Target{"localhost", 12345, false}},
		{"grpcs://example.com:8443", false, Target{"example.com", 8443, true}},
		{"GRPC://localhost:1", false, Target{"localhost", 1, false}},
		{"grpc://localhost", false, Target{"localhost", 80, false}},
		{"grpcs://example.com", false, Target{"example.com", 443, true}},
		{"grpc://:5000", false, Target{DefaultHost, 5000, false}},
		{"grpc://[::1]:5000", false, Target{"::1", 5000, false}},
		{"localhost:12345", false, Target{"localhost", 12345, false}},
		{"localhost", false, Target{"localhost", 80, false}},
		{"localhost", true, Target{"localhost", 443, true}},
		{"localhost:8443", true, Target{"localhost", 8443, true}},
		{"", false, Target{DefaultHost, 80, false}},
		{"::1", false, Target{"::1", 80, false}},
		{"[::1]", false, Target{"::1", 80, false}},
		{"[::1]:9000", false, Target{"::1", 9000, false}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := ParseTarget(tt.target, tt.tls)
			if err != nil {
				t.Fatalf("ParseTarget(%q, %v): %v", tt.target, tt.tls, err)
			}
			if got != tt.want {
				t.Errorf("ParseTarget(%q, %v) = %+v, want %+v", tt.target, tt.tls, got, tt.want)
			}
		})
	}
}

func TestParseTargetRejects(t *testing.T) {
	tests := []struct {
		target string
		tls    bool
		says   string
	}{
		{"grpc://localhost:1", true, "TLS given twice"},
		{"grpcs://localhost:1", true, "TLS given twice"},
		{"http://localhost:1", false, "gRPC only"},
		{"wss://localhost:1", false, "gRPC only"},
		{"ftp://localhost:1", false, "unknown scheme"},
		{"grpc://localhost:http", false, "invalid"},
		{"grpc://localhost:0", false, "out of range"},
		{"grpc://localhost:70000", false, "out of range"},
		{"localhost:", false, "invalid port"},
		{"localhost:abc", false, "invalid port"},
		{"localhost:+80", false, "invalid port"},
		{"localhost:0", false, "out of range"},
		{"[::1]:x", false, "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := ParseTarget(tt.target, tt.tls)
			if err == nil {
				t.Fatalf("ParseTarget(%q, %v) = %+v, want an error", tt.target, tt.tls, got)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("ParseTarget(%q, %v) error %q does not say %q", tt.target, tt.tls, err, tt.says)
			}
		})
	}
}

func TestTargetAddressAndURI(t *testing.T) {
	tests := []struct {
		target       Target
		address, uri string
	}{
		{Target{"localhost", 80, false}, "localhost:80", "grpc://localhost:80"},
		{Target{"example.com", 443, true}, "example.com:443", "grpcs://example.com:443"},
		{Target{"::1", 9000, false}, "[::1]:9000", "grpc://[::1]:9000"},
	}
	for _, tt := range tests {
		if got := tt.target.Address(); got != tt.address {
			t.Errorf("%+v.Address() = %q, want %q", tt.target, got, tt.address)
		}
		if got := tt.target.URI(); got != tt.uri {
			t.Errorf("%+v.URI() = %q, want %q", tt.target, got, tt.uri)
		}
	}
}
