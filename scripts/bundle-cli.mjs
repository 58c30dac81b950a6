#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js and what it imports) into dist/bin/: a handful of files instead of
// ~80 modules, which cuts ~60 ms from every start (measured: `bundle --version` 0.32 s → 0.26 s); commands
// still load their heavy parts on use (split chunks). dockerode and @kubernetes/client-node stay in
// node_modules: large, loaded only by the commands that need them, and dockerode's dependencies hold native code.
import { rmSync } from "node:fs";
import { build } from "esbuild";

// Chunk names carry content hashes: start from an empty folder so no stale chunk is left behind.
rmSync("dist/bin", { recursive: true, force: true });

await build({
  // The hash worker is a module of its own, beside the chunks that start it (src/bundle/tar-hasher.ts).
  entryPoints: { main: "dist/cli/main.js", "hash-worker": "dist/bundle/hash-worker.js" },
  outdir: "dist/bin",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["dockerode", "@kubernetes/client-node"],
  // CommonJS dependencies bundled into ESM need a require for Node's built-in modules.
  banner: { js: 'import { createRequire as __airgapRequire } from "node:module"; const require = __airgapRequire(import.meta.url);' },
  chunkNames: "[name]-[hash]",
  logLevel: "warning",
});
