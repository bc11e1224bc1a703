/** The SDK scenario table, against the live Flow of tests/conformance (see flow.ts). */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  type Client,
  connect,
  type Document,
  EndpointNotFoundError,
  ExecutorError,
  GatewayUnavailableError,
  HEALTH_SERVICE,
} from "@docwire/client";

import { type LiveFlow, liveFlow } from "./flow.js";

const GATEWAY_SERVICE = "docwire.v1.GatewayService";
const EXECUTOR_SERVICE = "docwire.v1.ExecutorService";
const FIRST_REPLICAS = ["first/rep-0", "first/rep-1"];

function texts(count: number): Document[] {
  return Array.from({ length: count }, (_, i) => ({ text: `doc ${i}` }));
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const found: T[] = [];
  for await (const item of items) {
    found.push(item);
  }
  return found;
}

describe("scenarios against a live gateway", () => {
  let flow: LiveFlow;
  let client: Client;

  before(() => {
    flow = liveFlow();
    client = connect(`grpc://${flow.gateway}`);
  });

  after(() => client?.close());

  test("post: text documents through two executors come back embedded, in order", async () => {
    const inputs = ["x", "hello", "a longer text"];
    const { docs, routes } = await client.post(
      "/embed",
      inputs.map((text) => ({ text })),
    );
    assert.deepEqual(
      docs.map((doc) => doc.text),
      inputs.map((text) => `${text}[first]`),
    );
    for (const doc of docs) {
      const embedding = doc.embedding;
      assert.ok(embedding?.data instanceof Float32Array, "the embedding is a Float32Array");
      assert.deepEqual(embedding.shape, [4]);
      assert.deepEqual([...embedding.data], [doc.text?.length, 0, 1, 2]);
      assert.match(doc.id ?? "", /^[0-9a-f]{32}$/);
    }
    assert.deepEqual(
      routes.map((route) => route.executor),
      ["gateway", "first", "embedder"],
    );
    for (const route of routes) {
      assert.ok(route.start instanceof Date && route.end instanceof Date && route.start <= route.end);
    }
  });

  test("parameters reach the executors and their results come back under __results__", async () => {
    const { parameters } = await client.post("/default", [{ text: "p" }], { parameters: { top_k: 3, tag: "x" } });
    assert.equal(parameters["top_k"], 3);
    assert.equal(parameters["tag"], "x");
    const results = parameters["__results__"] as Record<string, { replica: number; pid: number; parameters: object }>;
    const [name, result] = Object.entries(results)[0] ?? [];
    assert.ok(name !== undefined && FIRST_REPLICAS.includes(name), `a result of a first replica: ${name}`);
    assert.deepEqual(result?.parameters, { top_k: 3, tag: "x" });
    assert.equal(typeof result?.pid, "number");
  });

  test("targetExecutor sends the request to that executor alone", async () => {
    const { docs, routes } = await client.post("/embed", [{ text: "abc" }], { targetExecutor: "embedder" });
    assert.deepEqual(
      routes.map((route) => route.executor),
      ["gateway", "embedder"],
    );
    assert.equal(docs[0]?.text, "abc");
    assert.deepEqual([...(docs[0]?.embedding?.data ?? [])], [3, 0, 1, 2]);
  });

  test("an executor's exception becomes an ExecutorError naming it", async () => {
    const error = await client.post("/fail", [{ text: "a" }]).then(
      () => assert.fail("post to /fail succeeded"),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ExecutorError, String(error));
    assert.equal(error.name, "NotImplementedError");
    assert.equal(error.executor, "faulty");
    assert.deepEqual(error.args, ["no time for it"]);
    assert.ok(error.stacks.join("\n").includes("NotImplementedError"), "the executor's traceback");
    // The executor keeps serving.
    assert.deepEqual(
      (await client.post("/ok", [{ text: "a" }])).docs.map((doc) => doc.text),
      ["ok"],
    );
  });

  test("an executor's exception on the stream is an ExecutorError too", async () => {
    await assert.rejects(collect(client.stream("/fail", texts(3), { requestSize: 1 })), (error: unknown) => {
      assert.ok(error instanceof ExecutorError);
      assert.equal(error.executor, "faulty");
      return true;
    });
  });

  test("an unknown endpoint is EndpointNotFoundError, on the unary call and on the stream", async () => {
    await assert.rejects(client.post("/nowhere", [{ text: "a" }], { targetExecutor: "embedder" }), (error: unknown) => {
      assert.ok(error instanceof EndpointNotFoundError, String(error));
      assert.match(error.message, /\/nowhere/);
      return true;
    });
    const replies = await collect(
      client.stream("/nowhere", texts(2), { targetExecutor: "embedder", requestSize: 1, continueOnError: true }),
    );
    assert.equal(replies.length, 2);
    for (const reply of replies) {
      assert.ok(reply.isError);
      assert.ok(reply.error() instanceof EndpointNotFoundError);
      assert.equal(reply.status?.exception?.executor, "");
    }
    await assert.rejects(
      collect(client.stream("/nowhere", texts(1), { targetExecutor: "embedder" })),
      EndpointNotFoundError,
    );
  });

  test("streaming many requests: 500 documents in requests of 7 keep their input order", async () => {
    const inputs = texts(500);
    const result = await client.post("/default", inputs, { requestSize: 7, prefetch: 5 });
    assert.equal(result.responses.length, Math.ceil(500 / 7));
    assert.deepEqual(
      result.docs.map((doc) => doc.text),
      inputs.map((doc) => `${doc.text}[first]`),
    );
    const replicas = new Set(
      result.responses.flatMap((response) => Object.keys(response.parameters["__results__"] ?? {})),
    );
    assert.deepEqual([...replicas].sort(), FIRST_REPLICAS, "both replicas served");
  });

  test("stream: an async generator goes through the bidi call, replies as they finish", async () => {
    async function* generated(): AsyncGenerator<Document> {
      for (let i = 0; i < 50; i++) {
        yield { text: `g${i}` };
      }
    }
    const replies = await collect(client.stream("/default", generated(), { requestSize: 5, prefetch: 2 }));
    assert.equal(replies.length, 10);
    const seen = replies.flatMap((reply) => reply.docs.map((doc) => doc.text)).sort();
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => `g${i}[first]`).sort());
    const ordered = await collect(client.stream("/default", generated(), { requestSize: 5, resultsInOrder: true }));
    assert.deepEqual(
      ordered.flatMap((reply) => reply.docs.map((doc) => doc.text)),
      Array.from({ length: 50 }, (_, i) => `g${i}[first]`),
    );
  });

  test("streamDoc: a generator endpoint yields each document", async () => {
    const docs = await collect(client.streamDoc("/hello", { text: "hi" }, { parameters: { count: 4 } }));
    assert.deepEqual(
      docs.map((doc) => doc.text),
      ["hi 0", "hi 1", "hi 2", "hi 3"],
    );
    await assert.rejects(
      collect(client.streamDoc("/nowhere", { text: "hi" }, { targetExecutor: "embedder" })),
      EndpointNotFoundError,
    );
    await assert.rejects(collect(client.streamDoc("/fail", { text: "hi" })), (error: unknown) => {
      assert.ok(error instanceof ExecutorError && error.executor === "faulty", String(error));
      return true;
    });
  });

  test("ready() is true, and false where nothing listens", async () => {
    assert.equal(await client.ready(), true);
    const status = await client.dryRun();
    assert.equal(status.description, "ready");
    const nowhere = connect("grpc://127.0.0.1:1");
    try {
      assert.equal(await nowhere.ready(), false);
      await assert.rejects(nowhere.post("/default", [{ text: "a" }]), (error: unknown) => {
        assert.ok(error instanceof GatewayUnavailableError, String(error));
        assert.match(error.message, /grpc:\/\/127\.0\.0\.1:1/);
        return true;
      });
    } finally {
      nowhere.close();
    }
  });

  test("health: the gateway and every executor replica are SERVING", async () => {
    assert.equal(HEALTH_SERVICE, "grpc.health.v1.Health");
    assert.equal(await client.health(), "SERVING");
    assert.equal(await client.health(GATEWAY_SERVICE), "SERVING");
    await assert.rejects(client.health(EXECUTOR_SERVICE), EndpointNotFoundError);
    assert.equal(flow.executors.length, 5);
    for (const address of flow.executors) {
      const executor = connect(`grpc://${address}`);
      try {
        assert.equal(await executor.health(), "SERVING", address);
        assert.equal(await executor.health(EXECUTOR_SERVICE), "SERVING", address);
      } finally {
        executor.close();
      }
    }
  });

  test("endpoints() lists every endpoint with its schemas", async () => {
    const endpoints = await client.endpoints();
    for (const endpoint of ["/default", "/embed", "/fail", "/hello", "/ok"]) {
      assert.ok(endpoint in endpoints, `${endpoint} in ${Object.keys(endpoints).join(", ")}`);
    }
    assert.equal(endpoints["/hello"]?.["is_generator"], true);
    assert.equal(typeof endpoints["/embed"]?.["output"], "object");
  });
});
