import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CommandSpec } from "../../src/cli/command.js";
import { COMMANDS } from "../../src/cli/commands.js";
import { GLOBAL_OPTIONS, parseFast } from "../../src/cli/fast-args.js";
import { runYargs } from "../../src/cli/yargs-cli.js";

/** What yargs hands the command for `argv` (the command is not run). */
async function viaYargs(argv: string[]): Promise<{ spec: CommandSpec; args: Record<string, unknown> } | undefined> {
  let got: { spec: CommandSpec; args: Record<string, unknown> } | undefined;
  const stderr = process.stderr.write;
  process.stderr.write = () => true;
  try {
    await runYargs(argv, COMMANDS, "0.0.0", async (spec, args) => {
      got = { spec, args };
      return 0;
    });
  } finally {
    process.stderr.write = stderr;
  }
  return got;
}

/** Every key a command reads: its positionals, its options (with aliases) and the global options. */
function keysOf(spec: CommandSpec): string[] {
  const options = { ...GLOBAL_OPTIONS, ...spec.options };
  return [...Object.keys(spec.positionals ?? {}), ...Object.keys(options), ...Object.values(options).flatMap((o) => (o.alias ? [o.alias] : []))];
}

// Lines users type every day: the quick path must take them and read them exactly as yargs does.
const QUICK = [
  ["load", "b.tar", "--registry", "10.0.0.5:5000"],
  ["load", "b.tar", "--registry=10.0.0.5:5000/proj", "--target-layout", "strip-host", "--quiet"],
  ["load", "--registry", "r:5000", "b.tar", "--no-install", "--concurrency", "4", "--retries", "0", "-q"],
  ["load", "b.tar", "--registry", "r:5000", "--ca-file", "a.pem", "--ca-file=b.pem", "--chunk-size", "50M", "--json"],
  ["load", "b.tar", "--registry", "r:5000", "--set=A=1", "--set=B=2", "--kubeconfig", "k", "--timeout", "5m", "--deep"],
  ["load", "b.tar", "--docker", "--docker-host", "unix:///x.sock"],
  ["save", "--name", "ai", "--version", "5.1.0", "--imagelist", "list", "--out", "bundles", "--platform=linux/arm64"],
  ["save", "--name", "ai", "--version", "1", "--all-platforms", "--split-size", "4G", "--force", "--debug"],
  ["verify", "b.tar", "--deep"],
  ["inspect", "b.tar", "--json"],
  ["images", "--imagelist", "x"],
  ["export", "b.tar", "nginx:1", "--format", "oci-archive", "-o", "out.tar"],
  ["install", "b.tar", "--registry", "r:5000", "--dry-run", "--no-wait"],
  ["uninstall", "b.tar", "--registry", "r:5000"],
  ["scan"],
];

// Lines the quick path must leave to yargs: help, version, typos, forms it reads differently.
const TO_YARGS = [
  [],
  ["--help"],
  ["--version"],
  ["load", "--help"],
  ["lod", "b.tar"],
  ["load"],
  ["load", "a.tar", "b.tar", "--registry", "r"],
  ["load", "b.tar", "--registy", "r"],
  ["load", "b.tar", "--registry"],
  ["load", "b.tar", "--registry", "r", "--registry", "s"],
  ["load", "b.tar", "--target-layout", "flat"],
  ["load", "b.tar", "--concurrency", "many"],
  ["load", "b.tar", "--concurrency", "0x10"],
  ["load", "--ca-file", "a.pem", "b.tar", "--registry", "r"],
  ["load", "b.tar", "--no-json"],
  ["load", "b.tar", "--registry", "r", "--", "x"],
  ["load", "b.tar", "--targetLayout", "host"],
  ["save", "--install=false"],
];

describe("the quick command-line path", () => {
  for (const argv of QUICK) {
    test(`reads \`${argv.join(" ")}\` as yargs does`, async () => {
      const fast = parseFast(argv, COMMANDS);
      assert.ok(fast, "the quick path declined a plain line");
      const slow = await viaYargs(argv);
      assert.ok(slow, "yargs did not run the command");
      assert.equal(fast.spec, slow.spec);
      for (const key of keysOf(fast.spec)) assert.deepEqual(fast.args[key], slow.args[key], `--${key}`);
    });
  }

  for (const argv of TO_YARGS) {
    test(`leaves \`${argv.join(" ")}\` to yargs`, () => {
      assert.equal(parseFast(argv, COMMANDS), undefined);
    });
  }
});
