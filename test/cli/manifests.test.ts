import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../helpers/cli.js";

const DEMO = fileURLToPath(new URL("../../examples/demo", import.meta.url));

describe("bundle scan and bundle rewrite", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "airgap-manifests-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("scan lists every reference of the demo with file:line, and nothing is missing", async () => {
    const r = await runCli(["scan", "--manifests", join(DEMO, "manifests"), "--imagelist", join(DEMO, "imagelist")]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 8);
    assert.match(lines[0]!, /^3-config\.yaml:12 +localhost:5001\/demo\/model-server \(repository\) +data\.inferenceservice\.json>predictors\.tensorflow\.image$/);
    assert.match(lines.at(-1)!, /^10-modelserver\.yaml:18 +localhost:5001\/demo\/model-server:0\.9 +spec\.image$/, "natural order: 10 after 5");
    assert.match(r.stderr, /8 references in 6 files; 0 missing from the imagelist, 0 imagelist entries unused/);
  });

  test("scan exits 1 and names what the imagelist lacks, with the nearest entry; --json too", async () => {
    const list = join(dir, "short.imagelist");
    await writeFile(list, "localhost:5001/demo/web:0.9\nlocalhost:5001/demo/api:2.3\nlocalhost:5001/library/redis:7.2\nlocalhost:5001/demo/operator:1.1\nlocalhost:5001/demo/model-server:0.9\nlocalhost:5001/demo/queue-proxy:1.0\nlocalhost:5001/demo/unused:1\n");
    const r = await runCli(["scan", "--manifests", join(DEMO, "manifests"), "--imagelist", list]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /missing from the imagelist \(2\):\n {2}4-web\.yaml:16 +localhost:5001\/demo\/web:1\.0 +nearest: localhost:5001\/demo\/web:0\.9 \(.*short\.imagelist:1\)/);
    assert.match(r.stdout, /not used by any manifest \(2\):\n.*demo\/web:0\.9\n.*demo\/unused:1/);
    const json = JSON.parse((await runCli(["scan", "--manifests", join(DEMO, "manifests"), "--imagelist", list, "--json"])).stdout);
    assert.deepEqual(json.missing.map((m: { line: number; nearest: { line: number } }) => [m.line, m.nearest.line]), [[16, 1], [20, 1]]);
    assert.equal(json.findings.length, 8);
  });

  test("rewrite writes the manifests with only their image references changed", async () => {
    const out = join(dir, "rendered");
    const r = await runCli(["rewrite", "--registry", "10.0.0.5:5000", "--manifests", join(DEMO, "manifests"), "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const before = await readFile(join(DEMO, "manifests", "4-web.yaml"), "utf8");
    const after = await readFile(join(out, "4-web.yaml"), "utf8");
    assert.equal(after, before.replaceAll("localhost:5001/demo/web:1.0", "10.0.0.5:5000/localhost-5001/demo/web:1.0"));
    const config = await readFile(join(out, "3-config.yaml"), "utf8");
    assert.match(config, /"image": "10\.0\.0\.5:5000\/localhost-5001\/demo\/model-server",/);
    assert.match(r.stdout, /^4-web\.yaml:16 {2}localhost:5001\/demo\/web:1\.0 -> 10\.0\.0\.5:5000\/localhost-5001\/demo\/web:1\.0$/m);
  });

  test("rewrite refuses to overwrite the originals and a bad registry", async () => {
    const same = await runCli(["rewrite", "--registry", "10.0.0.5:5000", "--manifests", join(DEMO, "manifests"), "--out", join(DEMO, "manifests")]);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /--out must not be the manifests folder itself/);
    const bad = await runCli(["rewrite", "--registry", "http://10.0.0.5:5000", "--manifests", join(DEMO, "manifests"), "--out", join(dir, "x")]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid registry "http:\/\/10\.0\.0\.5:5000": leave out the scheme/);
  });
});
