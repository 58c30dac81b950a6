import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
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
    assert.match(r.stderr, /^8 references in 4 of 6 files; 0 missing from the imagelist, 0 imagelist entries unused$/m);
    // The pause image no manifest names is not "unused": the nodes run it in every pod.
    assert.match(r.stderr, /imagelist:10: localhost:5001\/k8s\/pause:3\.10 is the pause image every pod sandbox runs \(bundle node-config prints the nodes' sandbox_image line for it\)$/m);
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

  test("links under --manifests: followed when they stay inside, refused (exit 2, each named) when they leave or lead nowhere; FIFOs refused; scan, rewrite and save alike", async () => {
    const root = join(dir, "links");
    const outside = join(dir, "outside");
    await mkdir(join(root, "real"), { recursive: true });
    await mkdir(outside, { recursive: true });
    const pod = (image: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "${image}"}]\n`;
    await writeFile(join(root, "real", "1-a.yaml"), pod("localhost:5001/demo/a:1"));
    await writeFile(join(outside, "secret.yaml"), pod("localhost:5001/demo/outside:1"));
    await symlink(join(root, "real", "1-a.yaml"), join(root, "2-inside-file.yaml"));
    await symlink(join(root, "real"), join(root, "inside-folder"));
    const list = join(dir, "links.imagelist");
    await writeFile(list, "localhost:5001/demo/a:1\n");
    const ok = await runCli(["scan", "--manifests", root, "--imagelist", list]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^2-inside-file\.yaml:5 /m, "a link to a file inside is followed");
    assert.match(ok.stdout, /^inside-folder\/1-a\.yaml:5 /m, "a link to a folder inside is followed");
    await symlink(join(outside, "secret.yaml"), join(root, "3-outside.yaml"));
    await symlink(outside, join(root, "outside-folder"));
    await symlink(join(dir, "nowhere.yaml"), join(root, "4-dangling.yaml"));
    await new Promise<void>((resolve, reject) => execFile("mkfifo", [join(root, "5-fifo.yaml")], (err) => (err ? reject(err) : resolve())));
    const save = ["save", "--name", "l", "--version", "1", "--imagelist", list, "--manifests", root, "--out", join(dir, "l-out"), "--cache-dir", join(dir, "l-cache")];
    for (const args of [["scan", "--manifests", root, "--imagelist", list], ["rewrite", "--registry", "10.0.0.5:5000", "--manifests", root, "--out", join(dir, "l-rewritten")], save]) {
      const r = await runCli(args, { timeoutMs: 20_000 });
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /^error: 4 entries under .*links cannot be carried$/m, args[0]);
      assert.match(r.stderr, /3-outside\.yaml: a symbolic link that leaves the folder \(to .*outside\/secret\.yaml\)/);
      assert.match(r.stderr, /outside-folder: a symbolic link that leaves the folder/);
      assert.match(r.stderr, /4-dangling\.yaml: a symbolic link that leads nowhere/);
      assert.match(r.stderr, /5-fifo\.yaml: not a regular file/);
    }
  });

  test("a manifest file whose name has a newline is refused at save, not at the site", async () => {
    const root = join(dir, "newline");
    await mkdir(root, { recursive: true });
    await writeFile(join(root, "a\nb.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    const list = join(dir, "one.imagelist");
    await writeFile(list, "localhost:5001/demo/a:1\n");
    const r = await runCli(["save", "--name", "n", "--version", "1", "--imagelist", list, "--manifests", root, "--out", join(dir, "n-out"), "--cache-dir", join(dir, "n-cache")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /"a\\nb\.yaml": a name with a control character/);
  });

  test("a YAML error is one line: file:line:column at the opening quote, the parser's reason, the line once (scan, rewrite, save)", async () => {
    const root = join(dir, "yaml-error");
    await mkdir(root, { recursive: true });
    await writeFile(join(root, "1-cm.yaml"), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "broken\n  namespace: x\ndata:\n  a: b\n  c: d\n');
    const list = join(dir, "yaml.imagelist");
    await writeFile(list, "localhost:5001/demo/a:1\n");
    const expected = `error: ${root}/1-cm.yaml:4:9: invalid YAML: a quoted string is opened here and never closed: name: "broken\nhint: fix the file and run again\n`;
    for (const args of [["scan", "--manifests", root, "--imagelist", list], ["rewrite", "--registry", "10.0.0.5:5000", "--manifests", root, "--out", join(dir, "yaml-out")], ["save", "--name", "y", "--version", "1", "--imagelist", list, "--manifests", root, "--out", join(dir, "y-out"), "--cache-dir", join(dir, "y-cache")]]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args[0]);
      assert.equal(r.stderr, expected, args[0]);
    }
  });
});
