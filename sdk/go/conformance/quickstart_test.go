package conformance

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const buildTimeout = 5 * time.Minute

// TestQuickstart builds the README's example and runs it against the Flow.
func TestQuickstart(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "quickstart")
	// Building may compile more than a call may take: it gets its own, longer, limit.
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "../examples/quickstart")
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ../examples/quickstart: %v\n%s", err, output)
	}
	output, err := exec.CommandContext(testContext(t), binary, "-addr", "grpc://"+gateway).CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, output)
	}
	// The Flow's first appends "[first]"; embedder embeds [len(text), 0, 1, 2].
	if want := "hello[first] [12 0 1 2]\nworld[first] [12 0 1 2]\n"; string(output) != want {
		t.Errorf("quickstart printed:\n%s\nwant:\n%s", output, want)
	}
}
