#!/usr/bin/env -S node --import tsx
// npm run demo — the whole job on this machine, nothing from the internet:
//   1. a local "internet" registry on a free port of localhost (DEMO_PORT to choose one) holding the demo
//      images (examples/demo/imagelist, whose localhost:5001 names are moved to that port in a copy),
//   2. bundle save: the images and the rewritten manifests into ONE bundle,
//   3. bundle verify --deep and bundle inspect (what the closed network receives),
//   4. a second local registry standing for the closed network's, and bundle load into it, which then
//      installs the manifests into a real Kubernetes control plane (built from its Go modules by
//      `npm run cluster:up`; its node is simulated, as no kubelet runs here) and waits until every workload is
//      ready; DEMO_KUBECONFIG=FILE uses another cluster. Without the control plane built, the install is
//      rendered with --dry-run instead, and the demo says how to build it.
//   5. bundle uninstall.
// Needs Debian's docker-registry and skopeo (skopeo pushes the demo images, as an independent client).
// It never pushes to a registry it did not start: a DEMO_PORT already in use is refused. Its files go to a
// private folder of its own (DEMO_WORK to choose one), removed at the end unless DEMO_WORK was given.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeImage, seedRegistry } from "../test/helpers/images.js";
import { controlPlaneUnavailable, K8S_VERSION, startControlPlane, type ControlPlane } from "../test/helpers/control-plane.js";
import { startNodeAgent, type NodeAgent } from "../test/helpers/node-agent.js";
import { freePort } from "../test/helpers/ports.js";
import { startRegistry, type TestRegistry } from "../test/helpers/registry.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "bin", "main.js");
const WORK = process.env.DEMO_WORK ?? (await mkdtemp(join(tmpdir(), "airgap-demo-")));

/** True when something already listens on 127.0.0.1:port. */
function taken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });
}

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
const port = process.env.DEMO_PORT ? Number(process.env.DEMO_PORT) : await freePort();
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`demo: DEMO_PORT=${process.env.DEMO_PORT} is not a port\n`);
  process.exit(2);
}
if (await taken(port)) {
  process.stderr.write(`demo: something already listens on localhost:${port}; the demo pushes only to a registry it starts itself (choose another DEMO_PORT, or leave it unset for a free one)\n`);
  process.exit(2);
}
// DEMO_BUILD=0 runs the CLI as built (the tests do, while other tests use dist/).
if (process.env.DEMO_BUILD !== "0") execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" });
// A DEMO_WORK the demo made before (its mark inside) is started afresh; any other folder with something in it
// is the user's: refused, never emptied.
const MARK = join(WORK, ".airgap-demo");
if (process.env.DEMO_WORK) {
  const held = await readdir(WORK).catch(() => [] as string[]);
  if (held.length > 0 && !held.includes(".airgap-demo")) {
    process.stderr.write(`demo: DEMO_WORK=${WORK} holds files the demo did not make (${held.slice(0, 3).join(", ")}${held.length > 3 ? ", …" : ""}); it is left as it is (choose a new or empty folder)\n`);
    process.exit(2);
  }
  if (held.length > 0) await rm(WORK, { recursive: true, force: true });
}
await mkdir(WORK, { recursive: true });
await writeFile(MARK, "made by npm run demo; removed with this folder on the next run\n");

// The example names localhost:5001; this run's copy names the port the demo's registry really has.
const demo = join(WORK, "demo");
await cp(join(ROOT, "examples", "demo"), demo, { recursive: true });
for (const file of ["imagelist", ...(await readdir(join(demo, "manifests"))).map((f) => join("manifests", f))]) {
  const path = join(demo, file);
  await writeFile(path, (await readFile(path, "utf8")).split("localhost:5001").join(`localhost:${port}`));
}

const registries: TestRegistry[] = [];
let cluster: ControlPlane | undefined;
let agent: NodeAgent | undefined;
try {
  step(`1. the internet: a local registry on localhost:${port} with the demo images`);
  const internet = await startRegistry({ port });
  registries.push(internet);
  const base = { seed: "demo-base-os", size: 2_000_000 };
  const images: Array<[string, number]> = [["demo/web:1.0", 900_000], ["demo/api:2.3", 700_000], ["library/redis:7.2", 1_200_000], ["demo/operator:1.1", 400_000], ["demo/model-server:0.9", 3_000_000], ["demo/queue-proxy:1.0", 300_000]];
  for (const [ref, size] of images) {
    await seedRegistry(internet, makeImage({ seed: ref, layers: [base, size] }), ref);
    process.stdout.write(`  pushed localhost:${port}/${ref}\n`);
  }

  step("2. on the connected host: bundle save");
  await bundle(["save", "--name", "demo", "--version", "1.0", "--imagelist", join(demo, "imagelist"), "--manifests", join(demo, "manifests"), "--out", join(WORK, "bundles"), "--cache-dir", join(WORK, "cache")]);

  step("3. after the carry: check it, see what is inside");
  await bundle(["verify", join(WORK, "bundles", "demo-1.0.tar"), "--deep"]);
  await bundle(["inspect", join(WORK, "bundles", "demo-1.0.tar")]);

  step("4. in the closed network: bundle load pushes into the private registry, then installs");
  const closed = await startRegistry();
  registries.push(closed);
  let kubeconfig = process.env.DEMO_KUBECONFIG;
  if (!kubeconfig) {
    const missing = await controlPlaneUnavailable();
    if (missing === undefined) {
      cluster = await startControlPlane({ dir: join(WORK, "cluster") });
      agent = await startNodeAgent(cluster);
      kubeconfig = cluster.kubeconfig;
      process.stdout.write(`  (cluster: a real Kubernetes ${K8S_VERSION} control plane at ${cluster.url}, built from its Go modules; its node is simulated: no kubelet can run here)\n`);
    } else {
      process.stdout.write(
        "  (no Kubernetes control plane is built on this machine yet: `npm run cluster:up` builds one from its Go modules,\n" +
          "   about 10-20 minutes the first time, seconds after that. Until then the demo pushes and renders the install\n" +
          "   with --dry-run instead of applying it.)\n",
      );
    }
  }
  const tar = join(WORK, "bundles", "demo-1.0.tar");
  const settings = ["--config", join(demo, "demo.config")];
  if (kubeconfig) {
    await bundle(["load", tar, "--registry", closed.host, ...settings, "--kubeconfig", kubeconfig]);
    process.stdout.write("\nrunning it again uploads nothing, and the install finds everything in place:\n");
    await bundle(["load", tar, "--registry", closed.host, ...settings, "--kubeconfig", kubeconfig, "--quiet"]);
  } else {
    await bundle(["load", tar, "--registry", closed.host, ...settings, "--no-install"]);
  }

  step(`5. what the install applies, rendered to files (no cluster touched)${kubeconfig ? ", then bundle uninstall" : ""}`);
  await bundle(["install", tar, "--registry", closed.host, ...settings, "--dry-run", "--out", join(WORK, "rendered"), ...(kubeconfig ? ["--quiet"] : [])]);
  if (kubeconfig) await bundle(["uninstall", tar, "--kubeconfig", kubeconfig, ...settings]);
  process.stdout.write(`\ndemo finished: every image arrived with its digest${kubeconfig ? ", and the install became ready" : ", and the install was rendered"}.\n`);
} finally {
  await agent?.stop();
  await cluster?.stop();
  for (const r of registries.reverse()) await r.stop();
  if (!process.env.DEMO_WORK) await rm(WORK, { recursive: true, force: true });
}
