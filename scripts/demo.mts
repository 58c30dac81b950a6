#!/usr/bin/env -S node --import tsx
// npm run demo — the whole job on this machine, nothing from the internet:
//   1. a local "internet" registry on localhost:5001 holding the demo images (examples/demo/imagelist),
//   2. bundle save: the images and the rewritten manifests into ONE bundle,
//   3. bundle verify --deep and bundle inspect (what the closed network receives),
//   4. a second local registry standing for the closed network's, and bundle load into it, which then
//      installs the manifests into a cluster and waits until every workload is ready. No Kubernetes runs on
//      this machine, so the cluster is the STAND-IN API server from test/helpers (it says so), whose pods
//      "pull" by asking the private registry for each image; set DEMO_KUBECONFIG to use a real cluster.
//   5. bundle uninstall.
// Needs Debian's docker-registry and skopeo (skopeo pushes the demo images, as an independent client).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeImage, seedRegistry } from "../test/helpers/images.js";
import { startStandInCluster, type StandInCluster } from "../test/helpers/kube-apiserver.js";
import { startRegistry, type TestRegistry } from "../test/helpers/registry.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "bin", "main.js");
const WORK = process.env.DEMO_WORK ?? "/tmp/airgap-demo";

function step(title: string): void {
  process.stdout.write(`\n=== ${title}\n`);
}

/** Runs the CLI (asynchronously: the registries' logs are read by this process and must keep flowing). */
async function bundle(args: string[]): Promise<void> {
  process.stdout.write(`$ bundle ${args.join(" ")}\n`);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: "inherit", cwd: ROOT });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`bundle ${args[0]} exited ${code}`);
}

for (const tool of ["docker-registry", "skopeo"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    process.stderr.write(`demo: ${tool} is missing: apt-get install -y docker-registry skopeo\n`);
    process.exit(2);
  }
}
execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" });
await rm(WORK, { recursive: true, force: true });
await mkdir(WORK, { recursive: true });

const registries: TestRegistry[] = [];
let cluster: StandInCluster | undefined;
try {
  step("1. the internet: a local registry on localhost:5001 with the demo images");
  const internet = await startRegistry({ port: 5001 });
  registries.push(internet);
  const base = { seed: "demo-base-os", size: 2_000_000 };
  const images: Array<[string, number]> = [["demo/web:1.0", 900_000], ["demo/api:2.3", 700_000], ["library/redis:7.2", 1_200_000], ["demo/operator:1.1", 400_000], ["demo/model-server:0.9", 3_000_000], ["demo/queue-proxy:1.0", 300_000]];
  for (const [ref, size] of images) {
    await seedRegistry(internet, makeImage({ seed: ref, layers: [base, size] }), ref);
    process.stdout.write(`  pushed localhost:5001/${ref}\n`);
  }

  step("2. on the connected host: bundle save");
  await bundle(["save", "--name", "demo", "--version", "1.0", "--imagelist", "examples/demo/imagelist", "--manifests", "examples/demo/manifests", "--out", join(WORK, "bundles"), "--cache-dir", join(WORK, "cache")]);

  step("3. after the carry: check it, see what is inside");
  await bundle(["verify", join(WORK, "bundles", "demo-1.0.tar"), "--deep"]);
  await bundle(["inspect", join(WORK, "bundles", "demo-1.0.tar")]);

  step("4. in the closed network: bundle load pushes into the private registry, then installs");
  const closed = await startRegistry();
  registries.push(closed);
  let kubeconfig = process.env.DEMO_KUBECONFIG;
  if (!kubeconfig) {
    cluster = await startStandInCluster({ registry: closed.host });
    kubeconfig = cluster.kubeconfig;
    process.stdout.write(`  (cluster: the test STAND-IN API server at ${cluster.url}: no Kubernetes runs here; DEMO_KUBECONFIG=FILE uses a real one)\n`);
  }
  const tar = join(WORK, "bundles", "demo-1.0.tar");
  await bundle(["load", tar, "--registry", closed.host, "--config", "examples/demo/demo.config", "--kubeconfig", kubeconfig]);
  process.stdout.write("\nrunning it again uploads nothing and changes nothing:\n");
  await bundle(["load", tar, "--registry", closed.host, "--config", "examples/demo/demo.config", "--kubeconfig", kubeconfig, "--quiet"]);

  step("5. what the install applied, rendered to files (no cluster touched), then bundle uninstall");
  await bundle(["install", tar, "--registry", closed.host, "--config", "examples/demo/demo.config", "--dry-run", "--out", join(WORK, "rendered"), "--quiet"]);
  await bundle(["uninstall", tar, "--kubeconfig", kubeconfig, "--config", "examples/demo/demo.config"]);
  process.stdout.write("\ndemo finished: every image arrived with its digest, and the install became ready.\n");
} finally {
  await cluster?.stop();
  for (const r of registries.reverse()) await r.stop();
}
