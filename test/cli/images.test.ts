import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../helpers/cli.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/ai-devops-5.1.imagelist", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

describe("bundle images", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "airgap-cli-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("prints the fixture normalised and reports both duplicates with their line numbers", async () => {
    const r = await runCli(["images", "--imagelist", FIXTURE]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 68);
    assert.ok(lines.includes("docker.io/library/mysql:5.6"));
    assert.ok(lines.includes("docker.io/kfserving/alibi-explainer:v0.5.1"));
    assert.match(r.stderr, /ai-devops-5\.1\.imagelist:30: duplicate of line 29 \(docker\.io\/kubeflowkatib\/pytorch-mnist:v1beta1-45c5727\)/);
    assert.match(r.stderr, /ai-devops-5\.1\.imagelist:43: duplicate of line 42 \(gcr\.io\/knative-releases\/knative\.dev\/serving\/cmd\/queue@sha256:/);
  });

  test("--json gives source, normalized and line for every image, and nothing else on stdout", async () => {
    const r = await runCli(["images", "--imagelist", FIXTURE, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const items = JSON.parse(r.stdout) as Array<{ source: string; normalized: string; line: number }>;
    assert.equal(items.length, 68);
    assert.deepEqual(items.find((i) => i.source === "mysql:5.6"), { source: "mysql:5.6", normalized: "docker.io/library/mysql:5.6", line: 31 });
    assert.deepEqual(items[0], { source: "docker.io/istio/proxyv2:1.3.1", normalized: "docker.io/istio/proxyv2:1.3.1", line: 1 });
    assert.match(r.stderr, /duplicate of line 29/);
  });

  test("defaults to ./imagelist", async () => {
    const r = await runCli(["images"], { cwd: REPO });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").length, 68);
    assert.doesNotMatch(r.stderr, /duplicate/);
  });

  test("escape sequences from an imagelist line never reach the terminal; a folder as imagelist exits 2", async () => {
    const file = join(dir, "escape.imagelist");
    await writeFile(file, "nginx\u001b[2J\u001b]0;pwned\u0007:1\n");
    const r = await runCli(["images", "--imagelist", file]);
    assert.equal(r.code, 2);
    assert.ok(!r.stderr.includes("\u001b") && !r.stderr.includes("\u0007"), "no raw escape bytes");
    assert.match(r.stderr, /"nginx\\x1b\[2J\\x1b\]0;pwned\\x07:1"/);
    const folder = await runCli(["images", "--imagelist", dir]);
    assert.equal(folder.code, 2);
    assert.match(folder.stderr, /^error: --imagelist: .* is a folder, not a file$/m);
  });

  test("exits 2 and names every bad line, without a stack trace", async () => {
    const file = join(dir, "bad.imagelist");
    await writeFile(file, "UPPER/case:1\nmysql:8.0\nfoo:bar:baz\n\nx@sha256:123\n");
    const r = await runCli(["images", "--imagelist", file]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: .*bad\.imagelist: 3 invalid lines$/m);
    assert.match(r.stderr, /bad\.imagelist:1: "UPPER\/case:1": repository name must be lowercase/);
    assert.match(r.stderr, /bad\.imagelist:3: "foo:bar:baz": invalid tag "bar:baz"/);
    assert.match(r.stderr, /bad\.imagelist:5: "x@sha256:123": sha256 digest must have 64 hex digits, got 3/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });

  test("with --json a bad list gives a JSON error listing every line", async () => {
    const file = join(dir, "bad2.imagelist");
    await writeFile(file, "a//b\nUPPER/x\n");
    const r = await runCli(["images", "--imagelist", file, "--json"]);
    assert.equal(r.code, 2);
    const body = JSON.parse(r.stdout) as { error: { code: string; problems: Array<{ line: number }> } };
    assert.equal(body.error.code, "INVALID_IMAGELIST");
    assert.deepEqual(body.error.problems.map((p) => p.line), [1, 2]);
  });

  test("a missing file is a one-line error with a hint, exit 2", async () => {
    const r = await runCli(["images", "--imagelist", join(dir, "nope")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: imagelist not found: .*nope\nhint: /);
  });

  test("an empty list is an error", async () => {
    const file = join(dir, "empty.imagelist");
    await writeFile(file, "# only comments\n\n");
    const r = await runCli(["images", "--imagelist", file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /has no images/);
  });

  test("--quiet hides warnings but keeps the result", async () => {
    const r = await runCli(["images", "--imagelist", FIXTURE, "--quiet"]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout.trim().split("\n").length, 68);
  });
});

describe("bundle (global)", () => {
  test("--help lists the commands and global options", async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage:\n {2}bundle <command> \[options\]/);
    assert.match(r.stdout, /bundle images +Print the normalised/);
    assert.match(r.stdout, /--json/);
  });

  test("every command has --help with usage and examples", async () => {
    const r = await runCli(["images", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage:\n {2}bundle images \[options\]/);
    assert.match(r.stdout, /Examples:/);
    assert.match(r.stdout, /--imagelist/);
  });

  test("--version prints the package version", async () => {
    const { version } = JSON.parse(await import("node:fs/promises").then((fs) => fs.readFile(join(REPO, "package.json"), "utf8"))) as { version: string };
    const r = await runCli(["--version"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), version);
  });

  test("an unknown command is a usage error (exit 2) with a suggestion", async () => {
    const r = await runCli(["imagez"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: unknown command "imagez"\nhint: did you mean images\?/);
  });

  test("an unknown option is a usage error and the command does not run", async () => {
    const r = await runCli(["images", "--imagelist", FIXTURE, "--bogus"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: unknown option --bogus for images/);
  });

  test("no command prints help and exits 2", async () => {
    const r = await runCli([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Commands:/);
    assert.match(r.stderr, /error: name a command/);
  });
});
