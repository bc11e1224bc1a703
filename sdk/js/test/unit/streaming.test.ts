import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import { test } from "node:test";

import { create } from "@bufbuild/protobuf";

import { type DataRequest, DataRequestSchema } from "../../src/gen/docwire/v1/request_pb.js";
import { exchange, type OpenStream } from "../../src/streaming.js";

function request(id: number): DataRequest {
  return create(DataRequestSchema, { header: { requestId: `r${id}` } });
}

async function* requests(count: number, failAt?: number): AsyncGenerator<DataRequest> {
  for (let i = 0; i < count; i++) {
    if (i === failAt) {
      throw new Error("the input generator broke");
    }
    yield request(i);
  }
}

/** A server that answers the newest waiting request first, and records how many it held at once. */
class FakeServer {
  held = 0;
  mostHeld = 0;
  signal: AbortSignal | undefined;

  readonly open: OpenStream = (incoming, signal) => {
    this.signal = signal;
    return this.#serve(incoming, signal);
  };

  /** Like a real transport: reads requests while answering, and fails once the call is cancelled. */
  async *#serve(incoming: AsyncIterable<DataRequest>, signal: AbortSignal): AsyncGenerator<DataRequest> {
    const waiting: DataRequest[] = [];
    let done = false;
    const reader = (async () => {
      try {
        for await (const received of incoming) {
          waiting.push(received);
          this.held += 1;
          this.mostHeld = Math.max(this.mostHeld, this.held);
        }
      } finally {
        done = true;
      }
    })();
    reader.catch(() => {}); // the cancellation below reports it
    while (!done || waiting.length > 0) {
      await nextTurn();
      signal.throwIfAborted();
      const answer = waiting.pop();
      if (answer !== undefined) {
        this.held -= 1;
        yield answer;
      }
    }
    await reader;
  }
}

async function collect(replies: AsyncIterable<DataRequest>): Promise<string[]> {
  const ids: string[] = [];
  for await (const reply of replies) {
    ids.push(reply.header?.requestId ?? "");
  }
  return ids;
}

test("at most prefetch requests are in flight", async () => {
  const server = new FakeServer();
  const ids = await collect(exchange(server.open, requests(40), { prefetch: 3, inOrder: false }));
  assert.equal(ids.length, 40);
  assert.equal(server.mostHeld, 3);
});

test("replies come back in input order when asked, as they finish otherwise", async () => {
  const expected = Array.from({ length: 30 }, (_, i) => `r${i}`);
  const ordered = await collect(exchange(new FakeServer().open, requests(30), { prefetch: 5, inOrder: true }));
  assert.deepEqual(ordered, expected);
  const finished = await collect(exchange(new FakeServer().open, requests(30), { prefetch: 5, inOrder: false }));
  assert.notDeepEqual(finished, expected);
  assert.deepEqual([...finished].sort(), [...expected].sort());
});

test("an error of the inputs is the error raised", async () => {
  const replies = exchange(new FakeServer().open, requests(10, 4), { prefetch: 2, inOrder: false });
  await assert.rejects(collect(replies), /the input generator broke/);
});

test("stopping early cancels the stream", async () => {
  const server = new FakeServer();
  for await (const reply of exchange(server.open, requests(100), { prefetch: 4, inOrder: false })) {
    assert.ok(reply.header?.requestId);
    break;
  }
  assert.equal(server.signal?.aborted, true);
});

test("the caller's signal cancels the stream", async () => {
  const server = new FakeServer();
  const caller = new AbortController();
  const replies = exchange(server.open, requests(100), { prefetch: 4, inOrder: false, signal: caller.signal });
  await replies.next();
  caller.abort(new Error("enough"));
  assert.equal(server.signal?.aborted, true);
  assert.equal(server.signal?.reason.message, "enough");
  await replies.return();
});

test("prefetch must be positive", async () => {
  await assert.rejects(
    collect(exchange(new FakeServer().open, requests(1), { prefetch: 0, inOrder: false })),
    RangeError,
  );
});
