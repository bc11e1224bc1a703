// Quickstart posts two texts to a Flow's /embed endpoint and prints what comes back.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/docwire/docwire/sdk/go/docwire"
)

func main() {
	addr := flag.String("addr", "grpc://localhost:12345", "the gateway's URI")
	flag.Parse()
	ctx := context.Background()

	client, err := docwire.Dial(ctx, *addr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	result, err := client.Post(ctx, "/embed", docwire.Texts("hello", "world"))
	if err != nil {
		log.Fatal(err) // a *docwire.ExecutorError if an executor raised
	}
	for _, doc := range result.Docs {
		fmt.Println(doc.Text, doc.Embedding.Values)
	}
}
