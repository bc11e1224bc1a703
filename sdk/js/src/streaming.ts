/**
 * Requests over one bidirectional stream: sending and receiving at once, at most
 * `prefetch` requests in flight, so memory stays bounded however long the input is.
 */

import type { DataRequest } from "./gen/docwire/v1/request_pb.js";

/** Opens the stream: sends `requests`, returns the replies. */
export type OpenStream = (requests: AsyncIterable<DataRequest>, signal: AbortSignal) => AsyncIterable<DataRequest>;

/** How one exchange runs. */
export interface ExchangeOptions {
  /** The most requests sent and not yet answered. */
  prefetch: number;
  /** Yield replies in the order the requests were sent, not as they finish. */
  inOrder: boolean;
  /** Cancels the exchange. */
  signal?: AbortSignal | undefined;
}

/**
 * Sends `requests` over the stream `open` starts and yields every reply.
 *
 * Stopping early (breaking out of the loop) or aborting `options.signal` cancels the
 * stream. An error the inputs raise is the error this raises, not the cancelled call's.
 *
 * @throws RangeError when `prefetch` is not a positive integer.
 */
export async function* exchange(
  open: OpenStream,
  requests: AsyncIterable<DataRequest>,
  options: ExchangeOptions,
): AsyncGenerator<DataRequest, void, undefined> {
  const { prefetch, inOrder, signal } = options;
  if (!Number.isInteger(prefetch) || prefetch < 1) {
    throw new RangeError(`prefetch must be a positive integer, not ${prefetch}`);
  }
  const cancel = new AbortController();
  const forward = (): void => cancel.abort(signal?.reason);
  signal?.addEventListener("abort", forward, { once: true });
  if (signal?.aborted) {
    forward();
  }
  const slots = new Slots(prefetch, cancel.signal);
  const positions = new Map<string, number>();
  let sent = 0;
  let inputFailure: { error: unknown } | undefined;

  async function* outgoing(): AsyncGenerator<DataRequest, void, undefined> {
    try {
      for await (const request of requests) {
        await slots.acquire();
        positions.set(request.header?.requestId ?? "", sent++);
        yield request;
      }
    } catch (error) {
      if (!cancel.signal.aborted) {
        inputFailure = { error };
        cancel.abort(error);
      }
      throw error;
    }
  }

  const waiting = new Map<number, DataRequest>();
  let next = 0;
  let finished = false;
  try {
    for await (const reply of open(outgoing(), cancel.signal)) {
      slots.release();
      const position = positions.get(reply.header?.requestId ?? "");
      if (!inOrder || position === undefined) {
        yield reply;
        continue;
      }
      positions.delete(reply.header?.requestId ?? "");
      waiting.set(position, reply);
      for (let ready = waiting.get(next); ready !== undefined; ready = waiting.get(next)) {
        waiting.delete(next);
        next += 1;
        yield ready;
      }
    }
    finished = true;
  } catch (error) {
    throw inputFailure === undefined ? error : inputFailure.error;
  } finally {
    signal?.removeEventListener("abort", forward);
    if (!finished) {
      cancel.abort(new Error("the exchange stopped before its stream ended"));
    }
  }
}

/** A counting semaphore whose waiters fail once `signal` aborts. */
class Slots {
  #free: number;
  readonly #waiters: Array<{ resolve: () => void; reject: (reason: unknown) => void }> = [];
  readonly #signal: AbortSignal;

  constructor(count: number, signal: AbortSignal) {
    this.#free = count;
    this.#signal = signal;
    signal.addEventListener(
      "abort",
      () => {
        for (const waiter of this.#waiters.splice(0)) {
          waiter.reject(signal.reason);
        }
      },
      { once: true },
    );
  }

  /** Takes a slot, waiting for one to be released. */
  acquire(): Promise<void> {
    if (this.#signal.aborted) {
      return Promise.reject(this.#signal.reason);
    }
    if (this.#free > 0) {
      this.#free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Gives a slot back, to the longest waiter if there is one. */
  release(): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#free += 1;
    } else {
      waiter.resolve();
    }
  }
}
