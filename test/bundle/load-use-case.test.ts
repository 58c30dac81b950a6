import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { BundleReader } from "../../src/bundle/reader.js";
import { AirgapError } from "../../src/errors.js";
import { install, planKey, prepareInstall } from "../../src/ops/install.js";
import { loadBundle, type LoadEvent } from "../../src/ops/load.js";
import { parseRegistry } from "../../src/reference/target.js";
import { Registries } from "../../src/registry/registries.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

describe("loadBundle called from code checks what bundle load checks", () => {
  let source: TestRegistry;
  let target: TestRegistry;
  let work: string;
  before(async () => {
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    work = await mkdtemp(join(tmpdir(), "airgap-load-use-case-"));
    await seedRegistry(source, makeImage({ seed: "use-case", layers: [2048] }), "team/app:1");
  });
  after(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  /** A bundle of team/app:1 whose manifest also names `extra` (saved with --allow-missing when not carried). */
  async function bundleNaming(extra: string): Promise<string> {
    const c = await saveCase(work, [`${source.host}/team/app:1`]);
    await mkdir(join(c.dir, "manifests"));
    await writeFile(join(c.dir, "manifests", "app.yaml"), `apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - {name: a, image: "${source.host}/team/app:1"}\n  - {name: b, image: "${extra}"}\n`);
    const saved = await c.save(["--manifests", join(c.dir, "manifests"), "--allow-missing"]);
    assert.equal(saved.code, 0, saved.stderr);
    return c.tar;
  }

  async function load(tar: string, events: LoadEvent[] = []) {
    const reader = await BundleReader.open(tar);
    const registries = new Registries({ credentials: { get: async () => undefined }, plainHttp: [target.host] });
    try {
      return await loadBundle({ reader, registry: parseRegistry(target.host), registries, verify: "fast", onEvent: (e) => events.push(e) });
    } finally {
      await registries.close();
      await reader.close();
    }
  }

  test("a rendered reference the registry lacks is REFERENCES_MISSING naming manifests/file:line, after the images arrived", async () => {
    const tar = await bundleNaming(`${source.host}/team/absent:1`);
    const events: LoadEvent[] = [];
    await assert.rejects(load(tar, events), (err: unknown) => {
      assert.ok(err instanceof AirgapError);
      assert.equal(err.code, "REFERENCES_MISSING");
      assert.equal(err.problems[0]!.file, "manifests/app.yaml");
      assert.equal(err.problems[0]!.line, 7);
      assert.match(err.problems[0]!.reason, /the tag 1 is not in .*team\/absent/);
      return true;
    });
    const pushed = events.find((e): e is Extract<LoadEvent, { type: "pushed" }> => e.type === "pushed");
    assert.deepEqual(pushed?.result.images.map((i) => i.verified), [true], "the images were in before the references were asked");
  });

  test("every reference resolving is the result's references, and said", async () => {
    const tar = await bundleNaming(`${source.host}/team/app:1`);
    const events: LoadEvent[] = [];
    const result = await load(tar, events);
    assert.deepEqual({ checked: result.references?.checked, missing: result.references?.missing }, { checked: 1, missing: [] });
    const notices = events.filter((e): e is Extract<LoadEvent, { type: "notice" }> => e.type === "notice").map((e) => e.message);
    assert.ok(notices.some((m) => m === `every image reference of the rendered manifests resolves in ${target.host} (1 reference checked)`), notices.join("\n"));
  });

  test("install called from code: a dry run returns the plan and writes the manifests rendered for the registry", async () => {
    const tar = await bundleNaming(`${source.host}/team/app:1`);
    const reader = await BundleReader.open(tar);
    try {
      const prepared = await prepareInstall(reader, { registry: parseRegistry(`${target.host}/mirror`), layout: "host", settings: new Map(), secretKeys: [], allowUnresolved: false });
      const out = join(work, "rendered");
      const outcome = await install(prepared, { kind: "dry-run", out });
      assert.equal(outcome.kind, "dry-run");
      if (outcome.kind !== "dry-run") return;
      assert.deepEqual(outcome.plan.map(planKey), ["Pod/app"]);
      assert.deepEqual(outcome.files.map((f) => relative(out, f)), ["app.yaml"]);
      const text = await readFile(outcome.files[0]!, "utf8");
      assert.ok(text.includes(`image: "${target.host}/mirror/${source.host.replace(":", "-")}/team/app:1"`), text);
    } finally {
      await reader.close();
    }
  });
});
