import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/** sdk/js, from dist/test/unit. */
const PACKAGE_DIR = fileURLToPath(new URL("../../../", import.meta.url));

test("the Node entry exports exactly the public API", async () => {
  const entry = await import("@docwire/client");
  assert.deepEqual(Object.keys(entry).sort(), [
    "BadRequestError",
    "Client",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DocumentSchemaError",
    "DocwireError",
    "EndpointNotFoundError",
    "ExecutorError",
    "ExecutorUnavailableError",
    "GatewayUnavailableError",
    "HEALTH_SERVICE",
    "MessageTooLargeError",
    "RequestTimeoutError",
    "Response",
    "connect",
    "decodeDoc",
    "decodeDocs",
    "encodeDoc",
    "encodeDocs",
    "isTensor",
    "parseTarget",
    "tensor",
  ]);
});

test("the browser entry is the Node entry less the gRPC client", async () => {
  const browser = await import("@docwire/client/browser");
  const node: Record<string, unknown> = await import("@docwire/client");
  const nodeOnly = ["Client", "DEFAULT_MAX_MESSAGE_BYTES", "HEALTH_SERVICE", "Response", "connect"];
  assert.deepEqual(
    Object.keys(browser).sort(),
    Object.keys(node)
      .filter((name) => !nodeOnly.includes(name))
      .sort(),
  );
});

test("the v1 entry exports the generated contract", async () => {
  const v1 = await import("@docwire/client/v1");
  assert.equal(v1.GatewayService.typeName, "docwire.v1.GatewayService");
  assert.equal(v1.ExecutorService.typeName, "docwire.v1.ExecutorService");
  assert.equal(v1.DataRequestSchema.typeName, "docwire.v1.DataRequest");
});

/** The bare module specifiers a built module imports, following its relative imports. */
function bareImports(file: string, seen = new Set<string>()): Set<string> {
  const found = new Set<string>();
  if (seen.has(file)) {
    return found;
  }
  seen.add(file);
  const source = readFileSync(file, "utf8");
  for (const [, specifier = ""] of source.matchAll(/(?:^|;|\s)(?:import|export)\s[^;]*?from\s*"([^"]+)"/g)) {
    if (specifier.startsWith(".")) {
      for (const nested of bareImports(resolve(dirname(file), specifier), seen)) {
        found.add(nested);
      }
    } else {
      found.add(specifier);
    }
  }
  return found;
}

test("the browser entry imports no Node module", () => {
  const imports = [...bareImports(join(PACKAGE_DIR, "dist/src/browser.js"))].sort();
  assert.deepEqual(imports, [
    "@bufbuild/protobuf",
    "@bufbuild/protobuf/codegenv2",
    "@bufbuild/protobuf/wkt",
    "@connectrpc/connect",
  ]);
  assert.ok(bareImports(join(PACKAGE_DIR, "dist/src/index.js")).has("@connectrpc/connect-node"));
});

test("the README shows the quickstart example as it is tested", () => {
  const readme = readFileSync(join(PACKAGE_DIR, "README.md"), "utf8");
  const example = readFileSync(join(PACKAGE_DIR, "examples/quickstart.ts"), "utf8");
  assert.ok(readme.includes("```ts\n" + example + "```"), "README.md must contain examples/quickstart.ts verbatim");
  assert.ok(example.trim().split("\n").length <= 10, "the quickstart stays ten lines or fewer");
});

test("the package ships the built library and nothing else", () => {
  const output = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: PACKAGE_DIR,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [packed] = JSON.parse(output) as Array<{ files: Array<{ path: string }> }>;
  const files = (packed?.files ?? []).map((file) => file.path);
  assert.ok(files.includes("dist/src/index.js"));
  assert.ok(files.includes("dist/src/index.d.ts"));
  assert.ok(files.includes("dist/src/gen/docwire/v1/request_pb.js"));
  const stray = files.filter((path) => !path.startsWith("dist/src/") && !["package.json", "README.md"].includes(path));
  assert.deepEqual(stray, []);
});
