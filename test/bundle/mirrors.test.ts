/**
 * `bundle save` through pull-through mirrors, real registries all (on 127.0.0.1): the first mirror down and the
 * second serving, the registry itself never asked; `pull-from-mirror = "digest-only"` sending a tag to the
 * registry; a mirror serving another digest for a tag (recorded as served) and one whose bytes lie for a pinned
 * digest (refused, not skipped); credentials looked up for the mirror's host; a registries.conf that does not parse.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { faultProxy } from "../helpers/fault-proxy.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

describe("save through mirrors", () => {
  let work: string;
  let origin: TestRegistry;
  let mirror: TestRegistry;
  let secured: TestRegistry;
  let env: NodeJS.ProcessEnv;
  const app = makeImage({ seed: "mirror-app", layers: [3000, 2000] });
  const other = makeImage({ seed: "mirror-other", layers: [1500] });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-mirrors-"));
    [origin, mirror, secured] = await Promise.all([startRegistry(), startRegistry(), startRegistry({ auth: "htpasswd" })]);
    await seedRegistry(origin, app, "team/app:1");
    // The mirror holds the origin's images under its proxy project, Harbor-style.
    await seedRegistry(mirror, app, "proxy/team/app:1");
    await seedRegistry(secured, app, "cache/team/app:1");
    // The machine's own registries.conf stays out of the tests.
    const empty = join(work, "empty.conf");
    await writeFile(empty, "");
    env = { ...process.env, CONTAINERS_REGISTRIES_CONF: empty };
  });
  after(async () => {
    await Promise.all([origin?.stop(), mirror?.stop(), secured?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  const inspect = async (tar: string) => (await runCli(["inspect", tar])).stdout;

  test("the first mirror down, the second serves; said once; the registry itself not asked; the bundle keeps the image's own name", async () => {
    const c = await saveCase(work, [`${origin.host}/team/app:1`], { env });
    const r = await c.save(["--mirror", `${origin.host}=127.0.0.1:1/down`, "--mirror", `${origin.host}=${mirror.host}/proxy`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/mirror 127\.0\.0\.1:1 did not serve/g)?.length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`mirror 127\\.0\\.0\\.1:1 did not serve ${origin.host}/team/app:1 \\(.*connection refused.*\\); asking the next place`));
    const json = bundleJsonOf(await listTar(c.tar));
    assert.deepEqual(json.images.map((i) => [i.source, i.digest, i.mirror]), [[`${origin.host}/team/app:1`, app.manifest.digest, `${mirror.host}/proxy/team/app`]]);
    assert.equal(await countRequests(origin, "GET", /\/v2\/team\/app\//), 0, "the registry itself was not asked");
    assert.match(await inspect(c.tar), new RegExp(`served by the mirror ${mirror.host}/proxy/team/app`));
    assert.equal((await runCli(["verify", c.tar, "--deep"])).code, 0);
  });

  test("pull-from-mirror digest-only: a tag goes to the registry, a digest to the mirror", async () => {
    const conf = join(work, "digest-only.conf");
    await writeFile(conf, `[[registry]]\nprefix = "${origin.host}"\n[[registry.mirror]]\nlocation = "${mirror.host}/proxy"\npull-from-mirror = "digest-only"\n`);
    const c = await saveCase(work, [`${origin.host}/team/app:1`, `${origin.host}/team/app@${app.manifest.digest}`], { env });
    const r = await c.save(["--registries-conf", conf]);
    assert.equal(r.code, 0, r.stderr);
    const json = bundleJsonOf(await listTar(c.tar));
    assert.deepEqual(json.images.map((i) => i.mirror), [undefined, `${mirror.host}/proxy/team/app`]);
  });

  test("a mirror that serves another digest for a tag: recorded as served; one whose bytes lie for a pinned digest: refused", async () => {
    const stale = await startRegistry();
    try {
      await seedRegistry(stale, other, "proxy/team/app:1");
      const c = await saveCase(work, [`${origin.host}/team/app:1`], { env });
      const r = await c.save(["--mirror", `${origin.host}=${stale.host}/proxy`]);
      assert.equal(r.code, 0, r.stderr);
      const json = bundleJsonOf(await listTar(c.tar));
      assert.deepEqual([json.images[0]!.digest, json.images[0]!.mirror], [other.manifest.digest, `${stale.host}/proxy/team/app`], "what was served, and where from");
    } finally {
      await stale.stop();
    }
    const liar = await faultProxy(mirror.url, [{ method: "GET", path: `/manifests/${app.manifest.digest}`, corruptByteAt: 20 }]);
    try {
      const c = await saveCase(work, [`${origin.host}/team/app@${app.manifest.digest}`], { env });
      const r = await c.save(["--mirror", `${origin.host}=${liar.host}/proxy`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /digest|does not match/i);
      assert.doesNotMatch(r.stderr, /asking the next place/, "a lying mirror is not skipped");
      assert.equal(await countRequests(origin, "GET", new RegExp(`/manifests/${app.manifest.digest}`)), 0);
    } finally {
      await liar.stop();
    }
  });

  test("credentials are looked up for the mirror's host; --mirror-only never asks the registry", async () => {
    const c = await saveCase(work, [`${origin.host}/team/app:1`], { env });
    const r = await c.save(["--mirror", `${origin.host}=${secured.host}/cache`, "--mirror-only", "--username", secured.username!, "--password-stdin", "--creds-host", secured.host], `${secured.password}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(bundleJsonOf(await listTar(c.tar)).images[0]!.mirror, `${secured.host}/cache/team/app`);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(secured.password!));
    const denied = await saveCase(work, [`${origin.host}/team/app:1`], { env });
    const d = await denied.save(["--mirror", `${origin.host}=${secured.host}/cache`, "--mirror-only"]);
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, /401|log in to/);
  });

  test("a blocked registry fails its images, each named with its imagelist line; the others are fetched", async () => {
    const conf = join(work, "blocked.conf");
    await writeFile(conf, `[[registry]]\nprefix = "${origin.host}/blocked"\nblocked = true\n`);
    const c = await saveCase(work, [`${origin.host}/team/app:1`, `${origin.host}/blocked/app:1`], { env });
    const r = await c.save(["--registries-conf", conf]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`imagelist:2: .*${origin.host.replace(/[.]/g, "\\.")}/blocked/app: its registry is blocked \\(${conf.replace(/[.]/g, "\\.")}\\)`));
    assert.doesNotMatch(r.stderr, /imagelist:1:/);
  });

  test("a registries.conf that does not parse: exit 2, its file, line and column", async () => {
    const conf = join(work, "broken.conf");
    await writeFile(conf, `[[registry]]\nprefix = "docker.io"\nlocation = docker.io\n`);
    const c = await saveCase(work, [`${origin.host}/team/app:1`], { env });
    const r = await c.save(["--registries-conf", conf]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: ${conf.replace(/[.]/g, "\\.")}:3:\\d+: `, "m"));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
