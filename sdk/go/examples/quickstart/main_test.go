package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsThisExample keeps the README's example the code that
// conformance/quickstart_test.go runs against a live Flow.
func TestREADMEShowsThisExample(t *testing.T) {
	source, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if block := "```go\n" + string(source) + "```\n"; !strings.Contains(string(readme), block) {
		t.Errorf("sdk/go/README.md does not show examples/quickstart/main.go verbatim in a ```go block; paste it again")
	}
}
