package conformance

import (
	"errors"
	"slices"
	"testing"

	"github.com/docwire/docwire/sdk/go/docwire"
)

func TestStreamDocYieldsWhatTheGeneratorProduces(t *testing.T) {
	client := dial(t)
	var got []string
	for doc, err := range client.StreamDoc(testContext(t), "/hello", &docwire.Document{Text: "hi"}, docwire.WithParameters(map[string]any{"count": 4})) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, doc.Text)
	}
	if want := []string{"hi 0", "hi 1", "hi 2", "hi 3"}; !slices.Equal(got, want) {
		t.Errorf("StreamDoc yielded %v, want %v", got, want)
	}
}

func TestStreamDocOfAnUnknownEndpoint(t *testing.T) {
	client := dial(t)
	for _, err := range client.StreamDoc(testContext(t), "/nope", &docwire.Document{Text: "hi"}, docwire.WithTargetExecutor("streamer")) {
		if !errors.Is(err, docwire.ErrEndpointNotFound) {
			t.Errorf("error %v, want ErrEndpointNotFound", err)
		}
	}
}
