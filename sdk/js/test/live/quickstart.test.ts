/** examples/quickstart.ts, run as a user would, against the live Flow. */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { liveFlow } from "./flow.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/quickstart.js", import.meta.url));

test("the quickstart example runs and prints the embedded documents", async () => {
  const { gateway } = liveFlow();
  const { stdout } = await promisify(execFile)(process.execPath, [EXAMPLE], {
    env: { ...process.env, DOCWIRE_GATEWAY: gateway },
    timeout: 30_000,
  });
  const lines = stdout.trim().split("\n");
  assert.equal(lines[0], "hello[first] Float32Array(4) [ 12, 0, 1, 2 ]");
  assert.equal(lines[1], "world[first] Float32Array(4) [ 12, 0, 1, 2 ]");
  const results = lines.slice(2).join("\n");
  assert.match(results, /^\{ 'first\/rep-[01]': \{/);
  assert.match(results, /parameters: \{ top_k: 3 \}/);
});
