/**
 * What the install tests start from: a source and a target registry, a cluster whose node runs the pods
 * (test/helpers/node.ts), runnable images in the source, a bundle of them with manifests, loaded into the target
 * without installing, and the node told to pull from the target (node-config's hosts.toml).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./cli.js";
import type { ControlPlane } from "./control-plane.js";
import { busyboxImage, seedRegistry, type RunnableSpec } from "./images.js";
import { startTestCluster, type TestCluster } from "./node.js";
import { startRegistry, type TestRegistry } from "./registry.js";
import { saveCase } from "./save-case.js";

/** A started case; `stop` ends everything and removes its folder. */
export interface ClusterCase {
  work: string;
  source: TestRegistry;
  target: TestRegistry;
  kube: TestCluster;
  cluster: ControlPlane;
  bundle: string;
  /** The manifests folder the bundle was saved with. */
  manifests: string;
  stop(): Promise<void>;
}

/** Starts a case: `images` (`repo:tag` → what it runs) pushed to the source, `manifests(sourceHost)` carried. */
export async function clusterCase(
  name: string,
  images: Record<string, RunnableSpec>,
  manifests: (sourceHost: string) => Record<string, string>,
  options: { saveArgs?: (source: TestRegistry, work: string) => Promise<string[]>; env?: NodeJS.ProcessEnv } = {},
): Promise<ClusterCase> {
  const [source, target] = await Promise.all([startRegistry(), startRegistry()]);
  const work = await mkdtemp(join(tmpdir(), `airgap-${name}-`));
  let kube: TestCluster | undefined;
  const stop = async () => {
    await kube?.stop();
    await Promise.all([source.stop(), target.stop()]);
    await rm(work, { recursive: true, force: true });
  };
  try {
    kube = await startTestCluster(join(work, "cluster"));
    for (const [repo, spec] of Object.entries(images)) await seedRegistry(source, await busyboxImage(spec), repo);
    const c = await saveCase(work, Object.keys(images).map((repo) => `${source.host}/${repo}`), { ...(options.env && { env: options.env }) });
    const folder = join(c.dir, "manifests");
    await mkdir(folder);
    for (const [file, text] of Object.entries(manifests(source.host))) await writeFile(join(folder, file), text);
    const saved = await c.save(["--manifests", folder, ...((await options.saveArgs?.(source, work)) ?? [])]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal((await runCli(["load", c.tar, "--registry", target.host, "--no-install"])).code, 0);
    // The node pulls from the private registry as a site's do: through the hosts.toml node-config writes.
    if (kube.node) assert.equal((await runCli(["node-config", "--registry", target.host, "--plain-http", "--out", kube.node.hostsDir])).code, 0);
    return { work, source, target, kube, cluster: kube.cluster, bundle: c.tar, manifests: folder, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
