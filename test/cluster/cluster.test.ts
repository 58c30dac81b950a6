import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Exec, KubeConfig } from "@kubernetes/client-node";
import { adminApi, controlPlaneUnavailable } from "../helpers/control-plane.js";
import { realNodeUnavailable } from "../helpers/node.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const UNAVAILABLE = (await controlPlaneUnavailable()) ?? (await realNodeUnavailable());
// In CI the cluster is built and the node's parts installed first (.ci/run): their absence there is a failure.
if (UNAVAILABLE && process.env.CI === "true") throw new Error(`the real node test needs the cluster: ${UNAVAILABLE}`);

/** Runs an npm script with CLUSTER_DIR set; resolves to its exit code and output. */
async function npmRun(script: string, dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("npm", ["run", "-s", script], { cwd: ROOT, env: { ...process.env, CLUSTER_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** Processes whose command line names `text`. */
async function processesNaming(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(join("/proc", entry, "cmdline"), "utf8").catch(() => "");
    if (cmdline.includes(text)) found.push(cmdline.replace(/\0/g, " ").trim());
  }
  return found;
}

test("cluster:up runs a real node (kubelet, containerd, a pod network); its pods run and their logs are read through the API server; cluster:down leaves nothing", { skip: UNAVAILABLE ?? false }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "airgap-cluster-up-"));
  try {
    const up = await npmRun("cluster:up", dir);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout, `${join(dir, "admin.kubeconfig")}\n`, "its last line is the kubeconfig");
    assert.match(up.stderr, /node node-1 \(kubelet with containerd:\/\/[\d.]+, pods on (airgap-[0-9a-f]+)\)/);
    const bridge = /pods on (airgap-[0-9a-f]+)/.exec(up.stderr)![1]!;
    const again = await npmRun("cluster:up", dir);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^cluster: already running at /m);

    const state = JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as { url: string };
    const api = await adminApi(state.url, join(dir, "pki"));
    const node = (await api("GET", "/api/v1/nodes/node-1")).body as { status: { addresses: Array<{ type: string; address: string }>; nodeInfo: { containerRuntimeVersion: string } } };
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
    const internal = node.status.addresses.find((a) => a.type === "InternalIP")!.address;
    assert.match(internal, /^10\.244\.\d+\.1$/, "the node's address is its bridge's, on this machine");
    // The pause image the node imported at start (made from busybox) runs a command: nothing is pulled.
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "hello" }, spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10", imagePullPolicy: "IfNotPresent", command: ["/bin/busybox", "sh", "-c", "echo hello from a real container; exec sleep 600"] }] } };
    assert.equal((await api("POST", "/api/v1/namespaces/default/pods", pod)).status, 201);
    let status: { phase?: string; podIP?: string } = {};
    for (let i = 0; i < 120 && status.phase !== "Running"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = ((await api("GET", "/api/v1/namespaces/default/pods/hello")).body.status ?? {}) as typeof status;
    }
    assert.equal(status.phase, "Running");
    assert.ok(status.podIP?.startsWith(internal.replace(/1$/, "")) && status.podIP !== internal, `pod IP ${status.podIP} from the bridge's /24`);
    let log: Record<string, unknown> = {};
    for (let i = 0; i < 40 && log.text !== "hello from a real container\n"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      log = (await api("GET", "/api/v1/namespaces/default/pods/hello/log")).body;
    }
    assert.deepEqual(log, { text: "hello from a real container\n" }, "the API server reaches the kubelet");
    // kubectl exec's path: a WebSocket to the API server, which it relays to the kubelet and containerd's stream server.
    const kc = new KubeConfig();
    kc.loadFromFile(join(dir, "admin.kubeconfig"));
    let said = "";
    const stdout = new Writable({ write(chunk: Buffer, _e, done) { said += chunk.toString("utf8"); done(); } });
    const outcome = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("exec: no status in 20 s")), 20_000);
      new Exec(kc).exec("default", "hello", "c", ["/bin/busybox", "sh", "-c", "echo exec in $(busybox hostname)"], stdout, null, null, false, (s) => {
        clearTimeout(timer);
        resolve(s.status ?? "");
      }).catch(reject);
    });
    assert.equal(outcome, "Success");
    assert.equal(said, "exec in hello\n");
    assert.ok((await processesNaming(dir)).some((p) => p.startsWith("/usr/bin/containerd-shim")), "a shim runs the pod");

    const down = await npmRun("cluster:down", dir);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, new RegExp(`the node's containers, mounts and bridge ${bridge}`));
    assert.deepEqual(await processesNaming(dir), [], "no control plane, kubelet, containerd or shim left");
    assert.equal((await readFile("/proc/self/mountinfo", "utf8")).split("\n").filter((l) => l.includes(dir)).length, 0, "no mount left");
    assert.equal(await readFile(`/sys/class/net/${bridge}/address`, "utf8").then(() => "present", () => "gone"), "gone", "the bridge is gone");
    const links = await Promise.all((await readdir("/var/log/containers").catch(() => [] as string[])).map((l) => readlink(join("/var/log/containers", l)).catch(() => "")));
    assert.deepEqual(links.filter((to) => to.startsWith(dir)), [], "no log link of the kubelet's left in /var/log/containers");
    assert.deepEqual((await readdir("/var/lib/cni/results").catch(() => [] as string[])).filter((f) => f.startsWith(`${bridge}-`)), [], "no cached CNI result of its network");
    assert.equal(await readdir(dir).then(() => "present", () => "gone"), "gone");
  } finally {
    await npmRun("cluster:down", dir);
    await rm(dir, { recursive: true, force: true });
  }
});
