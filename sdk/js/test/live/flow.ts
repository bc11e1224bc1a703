/**
 * The live Flow the scenario tests run against, from the environment that
 * tests/conformance/test_js_sdk.py sets: `first` (two Appender replicas), `embedder`,
 * `streamer` and `faulty`, behind one gateway.
 */

/** Addresses of the gateway and of every executor replica. */
export interface LiveFlow {
  /** `host:port` of the gateway. */
  gateway: string;
  /** `host:port` of every executor replica. */
  executors: string[];
}

const HOW = "run the JS SDK tests through `make test` (tests/conformance/test_js_sdk.py starts the Flow and sets them)";

/**
 * The Flow named by DOCWIRE_GATEWAY and DOCWIRE_EXECUTORS.
 *
 * @throws Error naming what is missing and how to run the tests; they never skip.
 */
export function liveFlow(): LiveFlow {
  const gateway = process.env["DOCWIRE_GATEWAY"] ?? "";
  const executors = (process.env["DOCWIRE_EXECUTORS"] ?? "").split(",").filter((address) => address !== "");
  if (gateway === "" || executors.length === 0) {
    throw new Error(`DOCWIRE_GATEWAY and DOCWIRE_EXECUTORS must name a live Flow: ${HOW}`);
  }
  return { gateway, executors };
}
