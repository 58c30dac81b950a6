#!/usr/bin/env node
// Runs the test suite with node's built-in test runner (through tsx for TypeScript).
// Node 20's --test takes no globs, so this finds test/**/*.test.ts; pass file paths to run only those.
// The whole suite then runs the save, load, referrer and delta tests a second time against distribution v3
// (built from Go modules by scripts/peers/build.sh), beside Debian's distribution 2.8.
// --unit runs only the tests that start nothing (no registry, cluster, engine or CLI process): seconds, not minutes.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "helpers" || name === "fixtures" ? [] : find(path);
    return name.endsWith(".test.ts") ? [path] : [];
  });
}

const run = (files, env = {}) =>
  spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", ...files], { stdio: "inherit", env: { ...process.env, ...env } }).status ?? 1;

/** Helpers that start real parts (registries, the cluster, a Docker engine, the built CLI): a test using one is not a unit test. */
const STARTS_PROCESSES = /helpers\/(registry|control-plane|node|node-agent|dockerd|cli|save-case|serve|token-issuer|fault-proxy|hostile-api|cosign|charts)\.js|node:child_process/;

const named = process.argv.slice(2);
if (named[0] === "--unit") process.exit(run(find("test").filter((f) => !STARTS_PROCESSES.test(readFileSync(f, "utf8")))));
if (named.length > 0) process.exit(run(named));
const first = run(find("test"));
console.log("\n# again against distribution v3 (AIRGAP_TEST_REGISTRY=v3)\n");
const second = run(["test/bundle/save.test.ts", "test/bundle/load.test.ts", "test/bundle/referrers.test.ts", "test/bundle/delta.test.ts"], { AIRGAP_TEST_REGISTRY: "v3" });
process.exit(first !== 0 ? first : second);
