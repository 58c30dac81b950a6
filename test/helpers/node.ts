/**
 * A REAL Kubernetes node for the control plane (control-plane.ts): the kubelet built from the same pinned
 * k8s.io/kubernetes module (scripts/cluster/build.sh), with Debian's containerd as its container runtime (a
 * private config, root, state and socket under the node's folder, never the machine's own containerd), runc,
 * and a pod network from the CNI reference plugins (Debian's containernetworking-plugins: bridge + host-local)
 * on a bridge the node makes for itself. The node's address is the bridge's: the API server reaches the kubelet
 * there (logs, exec), on this machine, with certificates from the cluster's CA.
 *
 * The pause image every pod sandbox needs is made here from Debian's busybox-static and imported into the
 * node's containerd (a closed network's nodes cannot pull registry.k8s.io/pause either). Registries are
 * trusted the way sites do it: containerd reads the `hosts.toml` files in `hostsDir` (`bundle node-config`
 * writes them) at each pull.
 *
 * Where the real node cannot start (not root, no cgroups, a binary missing), `realNodeUnavailable` says why and
 * the callers fall back to the simulated node (node-agent.ts); in CI they fail instead.
 */
import { execFile } from "node:child_process";
import { access, cp, mkdir, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { openSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { spawn } from "node:child_process";
import { controlPlaneBin, kubeconfigText, processAlive, signCertificate, startControlPlane, type ControlPlane } from "./control-plane.js";
import { startNodeAgent } from "./node-agent.js";
import { freePort } from "./ports.js";
import { busyboxImageLayout } from "./images.js";

const exec = promisify(execFile);

/** The pause image the sandboxes run (containerd's `sandbox_image`), imported at start. */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
const CNI_BIN = "/usr/lib/cni";
/** Where the kubelet links every container's log (a fixed path), and where CNI caches its results (one too). */
const CONTAINER_LOG_LINKS = "/var/log/containers";
const CNI_RESULTS = "/var/lib/cni/results";

/** What a running real node leaves for `stopRealNode` (also in cluster:up's state file). */
export interface RealNodeState {
  name: string;
  dir: string;
  bridge: string;
  /** containerd's socket. */
  socket: string;
  /** containerd's process id, then the kubelet's. */
  pids: number[];
}

/** A running real node. */
export interface RealNode extends RealNodeState {
  /** The node's address: the bridge's own, on this machine (pods get the others of its /24). */
  address: string;
  /** containerd's registry host folder (`config_path`): one `HOST/hosts.toml` per registry. */
  hostsDir: string;
  /** `containerd://1.6.20`, as the node reports it. */
  runtimeVersion: string;
  stop(): Promise<void>;
}

/** Why a real node cannot start on this machine, or undefined. */
export async function realNodeUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "the kubelet and containerd need root";
  const needs = [
    join(controlPlaneBin(), "kubelet"), "/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/usr/sbin/ip", "/bin/busybox",
    ...["bridge", "host-local", "loopback"].map((p) => join(CNI_BIN, p)),
  ];
  for (const file of needs) {
    if (!(await access(file).then(() => true, () => false))) return `${file} is missing (${file.includes("kubelet") ? "bash scripts/cluster/build.sh builds it" : "Debian's docker.io, containernetworking-plugins and busybox-static packages have it"})`;
  }
  const cgroups = await readdir("/sys/fs/cgroup").catch(() => [] as string[]);
  if (!cgroups.includes("memory") && !cgroups.includes("cgroup.controllers")) return "no cgroup file system at /sys/fs/cgroup";
  // Making a network namespace needs CAP_SYS_ADMIN, as every pod sandbox does.
  const ns = await exec("unshare", ["--net", "true"]).then(() => undefined, (e: { stderr?: string }) => e.stderr?.trim() || "unshare --net failed");
  if (ns) return `no network namespaces here (${ns})`;
  return undefined;
}

/** A /24 in 10.244.0.0/16 that no interface here uses, and a bridge name of its own. */
async function freeSubnet(): Promise<{ bridge: string; prefix: string }> {
  const { stdout } = await exec("ip", ["-o", "-4", "addr", "show"]);
  for (let i = 0; i < 200; i++) {
    const third = 1 + Math.floor(Math.random() * 250);
    const prefix = `10.244.${third}`;
    if (!stdout.includes(` ${prefix}.`)) return { bridge: `airgap-${randomBytes(4).toString("hex")}`, prefix };
  }
  throw new Error("no free /24 in 10.244.0.0/16 for the node's bridge");
}

/** Runs a command, bounded; rejects with its stderr. */
async function must(command: string, args: string[], timeoutMs = 30_000): Promise<string> {
  try {
    return (await exec(command, args, { timeout: timeoutMs, maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")}: ${e.stderr?.trim() || e.message}`);
  }
}

function containerdConfig(dir: string, socket: string, hostsDir: string, sandboxImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(dir, "containerd", "root")}"
state = "${join(dir, "containerd", "state")}"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, "containerd", "opt")}"
[${cri}]
  sandbox_image = "${sandboxImage}"
  # Writing a negative oom_score_adj is denied on these machines; runc fails without this.
  restrict_oom_score_adj = true
  # The pods' network namespaces are mounted under the state folder, so stopping the node finds every one.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${cri}.cni]
  bin_dir = "${CNI_BIN}"
  conf_dir = "${join(dir, "cni", "net.d")}"
[${cri}.registry]
  config_path = "${hostsDir}"
`;
}

function kubeletConfig(dir: string, address: string, port: number, healthzPort: number, socket: string, pki: string): string {
  return JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration",
    address, port, readOnlyPort: 0, healthzBindAddress: "127.0.0.1", healthzPort,
    tlsCertFile: join(dir, "kubelet-serving.crt"), tlsPrivateKeyFile: join(dir, "kubelet-serving.key"),
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: join(pki, "ca.crt") } },
    authorization: { mode: "AlwaysAllow" },
    containerRuntimeEndpoint: `unix://${socket}`,
    // cgroup v1 on these machines (v2 works the same with cgroupfs); no QoS cgroups, nothing reserved.
    cgroupDriver: "cgroupfs", failCgroupV1: false, cgroupsPerQOS: false, enforceNodeAllocatable: [],
    failSwapOn: false, oomScoreAdj: 0, resolvConf: "", podLogsDir: join(dir, "pod-logs"), volumePluginDir: join(dir, "volume-plugins"),
    serializeImagePulls: false, maxPods: 50, rotateCertificates: false, serverTLSBootstrap: false,
    evictionHard: { "memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    imageGCHighThresholdPercent: 100, imageGCLowThresholdPercent: 99,
    syncFrequency: "5s", fileCheckFrequency: "5s",
  }, null, 2);
}

/** Options for {@link startRealNode}. */
export interface RealNodeOptions {
  /** The node's folder (containerd's and the kubelet's state, logs, hosts.toml files). */
  dir: string;
  /** Default `node-1`. */
  name?: string;
  /** Leave it running when this process exits (`cluster:up`). */
  detached?: boolean;
  /**
   * containerd's `sandbox_image`, pulled from a registry like any image (as `bundle node-config` prints it). Without
   * it, a pause image made from busybox is imported as registry.k8s.io/pause:3.10 before the kubelet starts.
   */
  sandboxImage?: string;
  /** A folder of HOST/hosts.toml files (`bundle node-config --out`) copied into the node's config_path first. */
  hostsFrom?: string;
}

/** Starts a program in its own process group, its output to `log`; returns its process id. */
function startLogged(program: string, args: string[], log: string, detached: boolean): number {
  const out = openSync(log, "a");
  const child = spawn(program, args, { stdio: ["ignore", out, out], detached: true });
  if (detached) child.unref();
  else process.once("exit", () => child.kill("SIGKILL"));
  return child.pid!;
}

/** A containerd of its own. */
export interface Containerd {
  socket: string;
  pid: number;
  /** Runs `ctr` against it in the `k8s.io` namespace (the CRI's); resolves to its output. */
  ctr(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts Debian's containerd with a private config, root, state and socket under `dir` (never the machine's own),
 * its registry hosts read from `hostsDir`; resolves once it answers.
 */
export async function startContainerd(dir: string, hostsDir: string, options: { detached?: boolean; sandboxImage?: string } = {}): Promise<Containerd> {
  const socket = join(dir, "containerd", "containerd.sock");
  await mkdir(join(dir, "containerd"), { recursive: true });
  await mkdir(join(dir, "logs"), { recursive: true });
  await writeFile(join(dir, "containerd.toml"), containerdConfig(dir, socket, hostsDir, options.sandboxImage ?? PAUSE_IMAGE));
  const pid = startLogged("/usr/bin/containerd", ["--config", join(dir, "containerd.toml")], join(dir, "logs", "containerd.log"), options.detached === true);
  const ctr = (...args: string[]) => must("/usr/bin/ctr", ["--address", socket, "--namespace", "k8s.io", ...args]);
  const stop = async () => {
    if (processAlive(pid)) process.kill(pid, "SIGTERM");
    for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(100);
    if (processAlive(pid)) process.kill(pid, "SIGKILL");
  };
  for (let i = 0; ; i++) {
    if (await ctr("version").then(() => true, () => false)) break;
    if (i > 100 || !processAlive(pid)) {
      await stop();
      throw new Error(`containerd did not start: see ${join(dir, "logs", "containerd.log")}`);
    }
    await sleep(200);
  }
  return { socket, pid, ctr, stop };
}

/** Starts a real node `name` joined to `cluster`, its state in `dir`; resolves once the node is Ready. */
export async function startRealNode(cluster: Pick<ControlPlane, "url" | "dir" | "api">, options: RealNodeOptions): Promise<RealNode> {
  const name = options.name ?? "node-1";
  const dir = options.dir;
  const pki = join(cluster.dir, "pki");
  const hostsDir = join(dir, "certs.d");
  const socket = join(dir, "containerd", "containerd.sock");
  for (const d of ["logs", "cni/net.d", "certs.d", "containerd", "kubelet", "pod-logs", "ipam"]) await mkdir(join(dir, d), { recursive: true });
  const { bridge, prefix } = await freeSubnet();
  const address = `${prefix}.1`;
  const state: RealNodeState = { name, dir, bridge, socket, pids: [] };
  const stopAll = () => stopRealNode(state, cluster.api);
  try {
    await must("ip", ["link", "add", bridge, "type", "bridge"]);
    await must("ip", ["addr", "add", `${address}/24`, "dev", bridge]);
    await must("ip", ["link", "set", bridge, "up"]);
    await writeFile(join(dir, "cni", "net.d", "10-airgap.conflist"), JSON.stringify({
      // The network is named after the bridge: the CNI result cache (/var/lib/cni, not configurable) names its
      // entries after it, so stopping the node removes its own and no other's.
      cniVersion: "0.4.0", name: bridge,
      plugins: [{ type: "bridge", bridge, isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: "host-local", dataDir: join(dir, "ipam"), ranges: [[{ subnet: `${prefix}.0/24`, gateway: address }]] } }],
    }, null, 2));
    await signCertificate(pki, `kubelet-${name}`, `/O=system:nodes/CN=system:node:${name}`, "extendedKeyUsage=clientAuth");
    await signCertificate(pki, `kubelet-serving-${name}`, `/CN=${name}`, `subjectAltName=IP:${address},DNS:${name}\nextendedKeyUsage=serverAuth`);
    for (const ext of ["crt", "key"]) await writeFile(join(dir, `kubelet-serving.${ext}`), await readFile(join(pki, `kubelet-serving-${name}.${ext}`)), { mode: 0o600 });
    await writeFile(join(dir, "kubelet.kubeconfig"), kubeconfigText(cluster.url, join(pki, "ca.crt"), { cert: join(pki, `kubelet-${name}.crt`), key: join(pki, `kubelet-${name}.key`) }, [{ name: "kubelet" }]), { mode: 0o600 });

    if (options.hostsFrom) await cp(options.hostsFrom, hostsDir, { recursive: true });
    const containerd = await startContainerd(dir, hostsDir, { detached: options.detached === true, ...(options.sandboxImage && { sandboxImage: options.sandboxImage }) });
    state.pids.push(containerd.pid);
    if (!options.sandboxImage) {
      const pauseTar = join(dir, "pause.tar");
      await busyboxImageLayout(pauseTar, { name: PAUSE_IMAGE, entrypoint: ["/bin/busybox", "sleep", "2147483647"] });
      await containerd.ctr("images", "import", pauseTar);
    }

    const [port, healthzPort] = await Promise.all([freePort(), freePort()]);
    await writeFile(join(dir, "kubelet.yaml"), kubeletConfig(dir, address, port, healthzPort, socket, pki));
    state.pids.push(startLogged(join(controlPlaneBin(), "kubelet"), [
      "--config", join(dir, "kubelet.yaml"), "--kubeconfig", join(dir, "kubelet.kubeconfig"),
      "--root-dir", join(dir, "kubelet"), "--cert-dir", join(dir, "kubelet", "pki"),
      "--hostname-override", name, "--node-ip", address, "--v", "1",
    ], join(dir, "logs", "kubelet.log"), options.detached === true));
    let runtimeVersion = "";
    for (let i = 0; ; i++) {
      const node = await cluster.api("GET", `/api/v1/nodes/${name}`).catch(() => undefined);
      const status = node?.body.status as { conditions?: Array<{ type: string; status: string }>; nodeInfo?: { containerRuntimeVersion?: string } } | undefined;
      const taints = (node?.body.spec as { taints?: unknown[] } | undefined)?.taints ?? [];
      if (status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && taints.length === 0) {
        runtimeVersion = status.nodeInfo?.containerRuntimeVersion ?? "";
        break;
      }
      if (!state.pids.every(processAlive)) throw new Error(`the node's ${processAlive(state.pids[0]!) ? "kubelet" : "containerd"} stopped: see ${join(dir, "logs")}`);
      if (i > 300) throw new Error(`node ${name} did not become Ready in 60 s: see ${join(dir, "logs", "kubelet.log")}`);
      await sleep(200);
    }
    return { ...state, address, hostsDir, runtimeVersion, stop: stopAll };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

/**
 * Stops a real node and leaves nothing behind: its pods deleted (the kubelet stops their containers and tears
 * down their network), then every container left killed through containerd, the kubelet and containerd stopped
 * by process id, their shims too, the mounts under its folder undone (network namespaces included), the bridge
 * removed, its folder deleted. Bounded: about 30 s at most.
 */
export async function stopRealNode(state: RealNodeState, api?: ControlPlane["api"]): Promise<void> {
  const ctr = (...args: string[]) => must("/usr/bin/ctr", ["--address", state.socket, "--namespace", "k8s.io", ...args], 10_000);
  const kubeletAlive = state.pids[1] !== undefined && processAlive(state.pids[1]);
  if (api && kubeletAlive) {
    const pods = await api("GET", `/api/v1/pods?fieldSelector=spec.nodeName=${state.name}`).catch(() => undefined);
    for (const pod of (pods?.body.items as Array<{ metadata: { name: string; namespace: string } }> | undefined) ?? []) {
      await api("DELETE", `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 }).catch(() => undefined);
    }
    for (let i = 0; i < 50; i++) {
      const tasks = await ctr("tasks", "ls", "-q").catch(() => "");
      if (tasks.trim() === "") break;
      await sleep(200);
    }
  }
  const containers = (await ctr("containers", "ls", "-q").catch(() => "")).split("\n").filter(Boolean);
  for (const id of containers) await ctr("tasks", "kill", "--signal", "SIGKILL", id).catch(() => undefined);
  for (const id of containers) await ctr("tasks", "delete", "--force", id).catch(() => undefined);
  for (const pid of [...state.pids].reverse()) if (processAlive(pid)) process.kill(pid, "SIGTERM");
  for (let i = 0; i < 50 && state.pids.some(processAlive); i++) await sleep(100);
  for (const pid of state.pids) if (processAlive(pid)) process.kill(pid, "SIGKILL");
  // Shims of this containerd still running (their command line names its socket) hold containers: stop them.
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(join("/proc", entry, "cmdline"), "utf8").catch(() => "");
    if (cmdline.startsWith("/usr/bin/containerd-shim") && cmdline.includes(`\0${state.socket}\0`)) process.kill(Number(entry), "SIGKILL");
  }
  // What the kubelet and the CNI plugins keep in fixed places of the machine, for this node only: the log links
  // in /var/log/containers that point into its folder, the cached results of its pod network.
  for (const link of await readdir(CONTAINER_LOG_LINKS).catch(() => [] as string[])) {
    const to = await readlink(join(CONTAINER_LOG_LINKS, link)).catch(() => "");
    if (to.startsWith(`${state.dir}/`)) await rm(join(CONTAINER_LOG_LINKS, link), { force: true });
  }
  for (const entry of await readdir(CNI_RESULTS).catch(() => [] as string[])) {
    if (entry.startsWith(`${state.bridge}-`) || containers.some((id) => entry === `cni-loopback-${id}-lo`)) await rm(join(CNI_RESULTS, entry), { force: true });
  }
  const mounts = (await readFile("/proc/self/mountinfo", "utf8")).split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m === state.dir || m.startsWith(`${state.dir}/`));
  // The kubelet's bind mount of its root, the pods' volumes and network namespaces (containerd mounts them
  // under its state folder here): deepest first.
  for (const m of mounts.reverse()) await must("umount", ["-l", m]).catch(() => undefined);
  await must("ip", ["link", "delete", state.bridge]).catch(() => undefined);
  await rm(state.dir, { recursive: true, force: true }).catch(() => undefined);
}

/** A control plane and its one node: real where it can run, else simulated (said once, why). */
export interface TestCluster {
  cluster: ControlPlane;
  /** The real node, or undefined when the node is simulated. */
  node?: RealNode;
  /** `containerd://1.6.20`, or `none://simulated`. */
  runtimeVersion: string;
  stop(): Promise<void>;
}

let fallbackSaid = false;

/**
 * Starts a control plane in `dir` and one node: a real kubelet with containerd where it can run. Where it cannot,
 * the simulated node (node-agent.ts) stands in and the reason is printed once; in CI (CI=true) that is a failure.
 */
export async function startTestCluster(dir: string, options: { detached?: boolean; log?: (line: string) => void } & Pick<RealNodeOptions, "sandboxImage" | "hostsFrom"> = {}): Promise<TestCluster> {
  const why = await realNodeUnavailable();
  if (why && process.env.CI === "true") throw new Error(`the real node cannot start here: ${why}`);
  const cluster = await startControlPlane({ dir, simulatedNodes: why !== undefined, ...(options.detached && { detached: true }) });
  try {
    if (why) {
      if (!fallbackSaid) (options.log ?? ((l) => process.stderr.write(`${l}\n`)))(`node: simulated (no container runs): ${why}`);
      fallbackSaid = true;
      const agent = await startNodeAgent(cluster);
      return { cluster, runtimeVersion: "none://simulated", stop: async () => { await agent.stop(); await cluster.stop(); } };
    }
    const node = await startRealNode(cluster, {
      dir: join(dir, "node"), ...(options.detached && { detached: true }),
      ...(options.sandboxImage && { sandboxImage: options.sandboxImage }), ...(options.hostsFrom && { hostsFrom: options.hostsFrom }),
    });
    return { cluster, node, runtimeVersion: node.runtimeVersion, stop: async () => { await node.stop(); await cluster.stop(); } };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
