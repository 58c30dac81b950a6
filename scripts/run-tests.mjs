#!/usr/bin/env node
// Runs the test suite with node's built-in test runner (through tsx for TypeScript).
// Node 20's --test takes no globs, so this finds test/**/*.test.ts; pass file paths to run only those.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "helpers" || name === "fixtures" ? [] : find(path);
    return name.endsWith(".test.ts") ? [path] : [];
  });
}

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : find("test");
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
