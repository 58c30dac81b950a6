import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { freePort } from "../helpers/ports.js";
import { saveCase } from "../helpers/save-case.js";

/** Scripts branch on exit codes: every usage or input error is 2 (README's table), with one clear line. */
describe("exit codes that scripts can trust", () => {
  let registry: TestRegistry;
  let work: string;
  let bundle: string;
  const image = makeImage({ seed: "exit-codes", layers: [2000] });

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "airgap-exit-"));
    await seedRegistry(registry, image, "team/x:1");
    const c = await saveCase(work, [`${registry.host}/team/x:1`]);
    await mkdir(join(c.dir, "manifests"));
    await writeFile(join(c.dir, "manifests", "1.yaml"), `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "${registry.host}/team/x:1"}]\n`);
    assert.equal((await c.save(["--manifests", join(c.dir, "manifests")])).code, 0);
    bundle = c.tar;
    await writeFile(join(work, "huge.pem"), Buffer.alloc(1024 * 1024));
    await writeFile(join(work, "old.pub"), "an older public key\n");
  });
  after(async () => {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  const noKube = { HOME: "/nonexistent-home", KUBECONFIG: "" };
  const cases: Array<{ what: string; args: () => string[]; error: RegExp; hint?: RegExp; noHint?: RegExp; env?: NodeJS.ProcessEnv }> = [
    { what: "a mistyped command", args: () => ["sav"], error: /^error: unknown command "sav"$/m, hint: /^hint: did you mean save\?/m },
    { what: "a command in the wrong case, with --version after it", args: () => ["Save", "--name", "x", "--version", "1"], error: /^error: unknown command "Save"$/m, hint: /did you mean save\?/ },
    { what: "an option missing its value", args: () => ["load", bundle, "--registry"], error: /^error: --registry needs a value$/m },
    { what: "a mistyped option", args: () => ["load", bundle, "--registry", registry.host, "--instal"], error: /^error: unknown option --instal for load$/m, hint: /did you mean --install/ },
    { what: "an option that takes one value given twice", args: () => ["save", "--name", "a", "--version", "1", "--out", join(work, "a"), "--out", join(work, "b")], error: /^error: --out is given 2 times \(.*\/a, .*\/b\); it takes one value$/m, hint: /see "bundle save --help"/ },
    { what: "key create with an empty NAME", args: () => ["key", "create", ""], error: /^error: key create "": NAME must be a file name/m },
    { what: "a key that is a device, not a file", args: () => ["verify", bundle, "--key", "/dev/zero"], error: /^error: the key \/dev\/zero is not a regular file$/m },
    { what: "a key file far larger than any key", args: () => ["verify", bundle, "--key", join(work, "huge.pem")], error: /^error: the key .*huge\.pem is 1048576 bytes; more than the 65536 such a file can be$/m },
    { what: "key create where NAME.pub exists (nothing written, no NAME.key that does not match)", args: () => ["key", "create", join(work, "old")], error: /^error: .*old\.pub exists; nothing was written$/m },
    { what: "exporting an image the bundle lacks", args: () => ["export", bundle, "docker.io/library/nope:1", "-o", join(work, "x.tar")], error: /^error: docker\.io\/library\/nope:1 is not in /m },
    { what: "install without a kubeconfig", args: () => ["install", bundle, "--registry", registry.host], error: /^error: no Kubernetes cluster configured/m, noHint: /--no-install/, env: noKube },
    { what: "load without a kubeconfig (its hint names --no-install, which load has)", args: () => ["load", bundle, "--registry", registry.host], error: /^error: no Kubernetes cluster configured/m, hint: /--no-install to only push/, env: noKube },
    { what: "verify of a file that is not a tar", args: () => ["verify", join(work, "not.tar")], error: /^error: .*not\.tar is a text file, not a bundle$/m },
    { what: "a folder as imagelist", args: () => ["save", "--name", "x", "--version", "1", "--imagelist", work], error: /is a folder, not a file/ },
  ];

  for (const c of cases) {
    test(`${c.what}: exit 2, one error line`, async () => {
      await writeFile(join(work, "not.tar"), "definitely not a tar\n".repeat(100));
      const r = await runCli(c.args(), { ...(c.env && { env: c.env }), cwd: work });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.error);
      assert.equal((r.stderr.match(/^error: /gm) ?? []).length, 1, r.stderr);
      if (c.hint) assert.match(r.stderr, c.hint);
      if (c.noHint) assert.doesNotMatch(r.stderr, c.noHint);
      assert.doesNotMatch(r.stderr, /unexpected|\n\s+at /);
      assert.doesNotMatch(r.stderr, /--[a-z]+[A-Z]/, "no camelCase option names");
    });
  }

  test("inputs before network: an input error never follows retry lines", async () => {
    const down = `127.0.0.1:${await freePort()}`;
    const c = await saveCase(work, [`${down}/team/x:1`]);
    await mkdir(join(c.dir, "manifests"));
    await writeFile(join(c.dir, "manifests", "1.yaml"), `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "${down}/team/other:2"}]\n`);
    const save = await runCli(c.args(["--manifests", join(c.dir, "manifests")]), { cwd: c.dir });
    assert.equal(save.code, 2, save.stderr);
    assert.match(save.stderr, /^error: the manifests use 1 image reference that the imagelist lacks/m);
    assert.doesNotMatch(save.stderr, /retry|connecting to/);
    const load = await runCli(["load", bundle, "--registry", down, "--config", join(work, "no-such.config")]);
    assert.equal(load.code, 2, load.stderr);
    assert.match(load.stderr, /^error: --config: cannot read .*no-such\.config: ENOENT$/m);
    assert.doesNotMatch(load.stderr, /retry|connecting to/);
  });

  test("bundle --help lists the exit codes", async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Exit codes:\n {2}0 +success\n {2}1 +the work failed.*\n {2}2 +usage or input error.*\n {2}130 +interrupted/);
  });

  test("typos and usage: what was typed, the nearest valid word and the usage line, exit 2 (whole outputs)", async () => {
    const cases: Array<[string[], string]> = [
      [["load", bundle, "--registry", registry.host, "--no-instal"], 'error: unknown option --no-instal for load\nhint: did you mean --no-install (not --no-instal)? usage: bundle load BUNDLE [options] (see "bundle load --help")\n'],
      [["load", bundle, "127.0.0.1:5102"], "error: unexpected argument 127.0.0.1:5102: load takes BUNDLE\nhint: did you mean --registry 127.0.0.1:5102? usage: bundle load BUNDLE [options]\n"],
      [["save", "--nmae", "x", "--version", "1"], 'error: unknown option --nmae for save\nhint: did you mean --name (not --nmae)? usage: bundle save [options] (see "bundle save --help")\n'],
      [["inspect", "--jsn", bundle], 'error: unknown option --jsn for inspect\nhint: did you mean --json (not --jsn)? usage: bundle inspect BUNDLE [options] (see "bundle inspect --help")\n'],
      [["key", "crate", "foo"], 'error: key action "crate" is not one of: create\nhint: did you mean create? usage: bundle key ACTION NAME [options]\n'],
      [["save", "--version", "1"], 'error: --name is required\nhint: usage: bundle save [options] (see "bundle save --help")\n'],
      [["inspect"], "error: inspect needs BUNDLE\nhint: usage: bundle inspect BUNDLE [options]\n"],
    ];
    for (const [args, stderr] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stderr, stderr, args.join(" "));
      assert.equal(r.stdout, "");
    }
  });

  test("the wrong kind of file where a bundle goes is named, with what to give instead, exit 2 (whole outputs)", async () => {
    const list = join(work, "imagelist");
    await writeFile(list, `# the product's images\n${registry.host}/team/x:1\ndocker.io/library/nginx:1.25\n`);
    const inventory = join(work, "site.json");
    await writeFile(inventory, '{\n "format": "airgap-bundle-inventory/v1",\n "repositories": {}\n}\n');
    const cases: Array<[string[], string]> = [
      [["verify", `${bundle}.sha256`], `error: ${bundle}.sha256 is a checksum file (.sha256), not a bundle\nhint: give the bundle it names: ${bundle}\n`],
      [["inspect", list], `error: ${list} is an imagelist, not a bundle\nhint: an imagelist goes to bundle save --imagelist FILE\n`],
      [["inspect", work], `error: ${work} is a folder, not a bundle\nhint: give a NAME-VERSION.tar in it (bundle save writes them to --out, default bundles/)\n`],
      [["verify", inventory], `error: ${inventory} is an inventory, not a bundle\nhint: an inventory (from bundle inventory) goes to bundle save --since FILE, or bundle diff\n`],
    ];
    for (const [args, stderr] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stderr, stderr, args.join(" "));
    }
  });

  test("the CLI-wide redactor: a secret setting that reaches a message no use case masks (a rendered reference) is printed as ***", async () => {
    const SECRET = "s3cr3t-Value-93f1";
    const c = await saveCase(work, [`${registry.host}/team/x:1`], { name: "redact" });
    await mkdir(join(c.dir, "manifests"));
    await writeFile(join(c.dir, "manifests", "1.yaml"), `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: "${registry.host}/team/x:1"}\n  - {name: d, image: "${registry.host}/team/x:{CLIENT_SECRET}"}\n`);
    assert.equal((await c.save(["--manifests", join(c.dir, "manifests")])).code, 0);
    // The registry the images are checked in is the source itself: the reference with the secret is asked of it.
    const r = await runCli(["install", c.tar, "--registry", registry.host, "--dry-run", "--out", join(c.dir, "rendered"), "--set", `CLIENT_SECRET=${SECRET}`]);
    assert.notEqual(r.code, null);
    assert.match(r.stderr, /team\/x:\*\*\*": the tag \*\*\* is not in team\/x/, `the reference is named, its secret masked: ${r.stderr}`);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(SECRET), "the secret value is never printed");
  });
});
