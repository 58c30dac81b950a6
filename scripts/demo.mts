#!/usr/bin/env -S node --import tsx
// npm run demo — the whole job on this machine, nothing from the internet:
//   1. a local "internet" registry on a free port of localhost (DEMO_PORT to choose one) holding the demo
//      images (examples/demo/imagelist, whose localhost:5001 names are moved to that port in a copy),
//   2. bundle save: the images and the rewritten manifests into ONE bundle,
//   3. bundle verify --deep and bundle inspect (what the closed network receives),
//   4. a second local registry standing for the closed network's; bundle node-config writes the containerd
//      configuration its nodes need (hosts.toml, the pause image as sandbox_image), a real Kubernetes cluster
//      starts with it (control plane and kubelet built from their Go modules by `npm run cluster:build`, Debian's
//      containerd; the node pulls everything from the closed registry, the pause image included), and bundle
//      load pushes into the registry, installs the manifests and waits until every pod runs and is ready.
//      Where the real node cannot start (not root, no cgroups), a simulated node stands in and the demo says
//      why. DEMO_KUBECONFIG=FILE uses another cluster. Without the cluster built, the install is rendered with
//      --dry-run instead, and the demo says how to build it.
//   5. bundle uninstall.
// Needs Debian's docker-registry and skopeo (skopeo pushes the demo images, as an independent client), and for
// the real node containerd, containernetworking-plugins and busybox-static (the demo's images are made from it).
// It never pushes to a registry it did not start: a DEMO_PORT already in use is refused. Its files go to a
// private folder of its own (DEMO_WORK to choose one), removed at the end unless DEMO_WORK was given.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { busyboxImage, seedRegistry } from "../test/helpers/images.js";
import { controlPlaneUnavailable, K8S_VERSION } from "../test/helpers/control-plane.js";
import { startTestCluster, type TestCluster } from "../test/helpers/node.js";
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
async function bundle(args: string[], capture = false): Promise<string> {
  process.stdout.write(`$ bundle ${args.join(" ")}\n`);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"], cwd: ROOT });
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`bundle ${args[0]} exited ${code}`);
  return out;
}

/**
 * What the demo's images run: Debian's static busybox as a small server (an HTTP answer on `port` for the
 * readiness probes, a clean stop on SIGTERM), or a process that only waits (the pause image).
 */
function server(name: string, port: number): { entrypoint: string[]; cmd: string[] } {
  return { entrypoint: ["/bin/busybox", "sh", "-c"], cmd: [`trap 'exit 0' TERM; echo "${name} listening on :${port}"; mkdir -p /tmp/www && echo ${name} > /tmp/www/index.html && busybox httpd -f -p ${port} -h /tmp/www & wait`] };
}

/** What the node reports: its container runtime, and per pod where its images came from (digest and all). */
async function showPods(k: TestCluster): Promise<void> {
  const node = (await k.cluster.api("GET", "/api/v1/nodes")).body.items as Array<{ metadata: { name: string }; status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } } }>;
  process.stdout.write("\nwhat the node reports:\n");
  for (const n of node) process.stdout.write(`  node ${n.metadata.name}: kubelet ${n.status.nodeInfo.kubeletVersion}, ${n.status.nodeInfo.containerRuntimeVersion}\n`);
  type Pod = { metadata: { name: string }; status: { phase: string; containerStatuses?: Array<{ name: string; ready: boolean; imageID: string }> } };
  const pods = (await k.cluster.api("GET", "/api/v1/namespaces/demo/pods")).body.items as Pod[];
  for (const p of pods) {
    for (const c of p.status.containerStatuses ?? []) process.stdout.write(`  pod ${p.metadata.name} ${p.status.phase}, ${c.name} ${c.ready ? "ready" : "not ready"}: ${c.imageID}\n`);
  }
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
let kube: TestCluster | undefined;
try {
  step(`1. the internet: a local registry on localhost:${port} with the demo images`);
  const internet = await startRegistry({ port });
  registries.push(internet);
  // Every image is Debian's busybox with its own command: one shared layer, seven images.
  const images: Array<[string, { entrypoint: string[]; cmd: string[] }]> = [
    ["demo/web:1.0", server("web", 8080)], ["demo/api:2.3", server("api", 8080)], ["library/redis:7.2", server("redis", 6379)],
    ["demo/operator:1.1", server("operator", 9443)], ["demo/model-server:0.9", server("model-server", 8080)], ["demo/queue-proxy:1.0", server("queue-proxy", 8012)],
    ["k8s/pause:3.10", { entrypoint: ["/bin/busybox", "sleep", "2147483647"], cmd: [] }],
  ];
  for (const [ref, spec] of images) {
    await seedRegistry(internet, await busyboxImage(spec), ref);
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
  const tar = join(WORK, "bundles", "demo-1.0.tar");
  let kubeconfig = process.env.DEMO_KUBECONFIG;
  if (!kubeconfig) {
    const missing = await controlPlaneUnavailable();
    if (missing === undefined) {
      process.stdout.write("\nthe nodes are told first how to pull from the closed registry (hosts.toml, the pause image):\n");
      const nodeConfig = JSON.parse(await bundle(["node-config", "--bundle", tar, "--registry", closed.host, "--plain-http", "--out", join(WORK, "certs.d"), "--json"], true)) as { sandboxImage: string | null; containerdConfig: string };
      process.stdout.write(`${nodeConfig.containerdConfig.trimEnd().replace(/^/gm, "  ")}\n`);
      kube = await startTestCluster(join(WORK, "cluster"), { hostsFrom: join(WORK, "certs.d"), ...(nodeConfig.sandboxImage && { sandboxImage: nodeConfig.sandboxImage }), log: (l) => process.stdout.write(`  (${l})\n`) });
      kubeconfig = kube.cluster.kubeconfig;
      process.stdout.write(`  (cluster: Kubernetes ${K8S_VERSION} built from its Go modules at ${kube.cluster.url}; ${kube.node ? `node ${kube.node.name}: kubelet with ${kube.runtimeVersion}` : "its node is simulated"})\n`);
    } else {
      process.stdout.write(
        "  (no Kubernetes cluster is built on this machine yet: `npm run cluster:up` builds one from its Go modules,\n" +
          "   about 10-20 minutes the first time, seconds after that. Until then the demo pushes and renders the install\n" +
          "   with --dry-run instead of applying it.)\n",
      );
    }
  }
  const settings = ["--config", join(demo, "demo.config")];
  if (kubeconfig) {
    await bundle(["load", tar, "--registry", closed.host, ...settings, "--kubeconfig", kubeconfig]);
    if (kube) await showPods(kube);
    process.stdout.write("\nrunning it again uploads nothing, and the install finds everything in place:\n");
    await bundle(["load", tar, "--registry", closed.host, ...settings, "--kubeconfig", kubeconfig, "--quiet"]);
  } else {
    await bundle(["load", tar, "--registry", closed.host, ...settings, "--no-install"]);
  }

  step(`5. what the install applies, rendered to files (no cluster touched)${kubeconfig ? ", then bundle uninstall" : ""}`);
  await bundle(["install", tar, "--registry", closed.host, ...settings, "--dry-run", "--out", join(WORK, "rendered"), ...(kubeconfig ? ["--quiet"] : [])]);
  if (kubeconfig) await bundle(["uninstall", tar, "--kubeconfig", kubeconfig, ...settings]);
  const ran = kube?.node ? ", and its pods ran on a real node from the closed registry" : kubeconfig ? ", and the install became ready" : ", and the install was rendered";
  process.stdout.write(`\ndemo finished: every image arrived with its digest${ran}.\n`);
} finally {
  await kube?.stop();
  for (const r of registries.reverse()) await r.stop();
  if (!process.env.DEMO_WORK) await rm(WORK, { recursive: true, force: true });
}
