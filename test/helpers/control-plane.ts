/**
 * A REAL Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager and
 * kube-scheduler, built from their Go modules by scripts/cluster/build.sh (pinned versions, cached binaries),
 * with TLS from a throw-away CA, a service-account key pair, an admin kubeconfig (system:masters) and a second
 * kubeconfig for a restricted service account (RBAC: the built-in `edit` role in every namespace, nothing
 * cluster-wide). Its node is real (node.ts: the kubelet with containerd, reached at its bridge's address with
 * certificates from this CA); where that cannot run, the simulated node agent (node-agent.ts) stands in.
 *
 * Used by the install tests (one control plane per test file, in its own folder) and by `npm run cluster:up`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";
import { freePort } from "./ports.js";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { run } from "./processes.js";

/** The versions scripts/cluster/build.sh builds, and where it puts them. */
export const K8S_VERSION = process.env.K8S_VERSION ?? "v1.34.4";
export const ETCD_VERSION = process.env.ETCD_VERSION ?? "v3.6.16";

/** The folder holding the built binaries (whether or not they are there yet). */
export function controlPlaneBin(): string {
  const cache = process.env.AIRGAP_BUILD_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "airgap-bundle", "build");
  return join(cache, `kubernetes-${K8S_VERSION}-etcd-${ETCD_VERSION}`, "bin");
}

/** Why the control plane cannot start here (its binaries are not built), or undefined. */
export async function controlPlaneUnavailable(): Promise<string | undefined> {
  const bin = controlPlaneBin();
  for (const c of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
    const ok = await readFile(join(bin, c)).then(() => true, () => false);
    if (!ok) return `the control plane is not built (${join(bin, c)} is missing): run bash scripts/cluster/build.sh`;
  }
  return undefined;
}

/**
 * Why a test file that needs the control plane is skipped here, or undefined. In CI (and with REQUIRE_CLUSTER=1)
 * the control plane is built first (.ci/run): its absence there is a failure, not a reason to skip.
 */
export async function skipWithoutControlPlane(what: string): Promise<string | undefined> {
  const why = await controlPlaneUnavailable();
  if (why && (process.env.CI === "true" || process.env.REQUIRE_CLUSTER === "1")) throw new Error(`${what} need the control plane: ${why}`);
  return why;
}

/** A running control plane. */
export interface ControlPlane {
  /** `https://127.0.0.1:PORT`. */
  url: string;
  dir: string;
  /** Admin kubeconfig (contexts `admin`, current, and `elsewhere`, whose default namespace is `elsewhere`). */
  kubeconfig: string;
  /** Kubeconfig of the restricted service account (`edit` in every namespace; no CRDs, no namespaces). */
  restrictedKubeconfig: string;
  caPem: string;
  /** Process ids, for `cluster:down`. */
  pids: number[];
  /** Sends a request to the API server as admin; JSON in and out. */
  api(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Stops every process (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Folder for its state (PKI, etcd data, logs, kubeconfigs). */
  dir: string;
  /** Leave the processes running when this process exits (`cluster:up`). */
  detached?: boolean;
  /** The nodes will be simulated (node-agent.ts), not real kubelets: no node lifecycle controller. */
  simulatedNodes?: boolean;
}

/** True while a process with this id runs. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The test CA and every certificate the control plane uses, made with openssl. */
async function makeControlPlanePki(dir: string): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "30", "-subj", "/CN=airgap-bundle test cluster CA"]);
  const sign = (name: string, subject: string, ext: string) => signCertificate(dir, name, subject, ext);
  await sign("apiserver", "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\nextendedKeyUsage=serverAuth");
  await sign("admin", "/O=system:masters/CN=airgap-admin", "extendedKeyUsage=clientAuth");
  await sign("controller-manager", "/CN=system:kube-controller-manager", "extendedKeyUsage=clientAuth");
  await sign("scheduler", "/CN=system:kube-scheduler", "extendedKeyUsage=clientAuth");
  // How the API server proves itself to the kubelets (logs, exec, port-forward).
  await sign("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "extendedKeyUsage=clientAuth");
  await run("openssl", ["genrsa", "-out", f("sa.key"), "2048"]);
  await run("openssl", ["rsa", "-in", f("sa.key"), "-pubout", "-out", f("sa.pub")]);
  return { ca: f("ca.crt"), caKey: f("ca.key"), apiserverCrt: f("apiserver.crt"), apiserverKey: f("apiserver.key"), saKey: f("sa.key"), saPub: f("sa.pub"), dir };
}

/** A key and a certificate `NAME.key`/`NAME.crt` in `pkiDir`, signed by the cluster's CA there (`ext`: openssl extensions). */
export async function signCertificate(pkiDir: string, name: string, subject: string, ext: string): Promise<void> {
  const f = (file: string) => join(pkiDir, file);
  await writeFile(f(`${name}.ext`), `${ext}\nbasicConstraints=CA:FALSE\n`);
  await run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", subject]);
  await run("openssl", ["x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f(`${name}.crt`), "-days", "30", "-extfile", f(`${name}.ext`)]);
}

/** A kubeconfig for a client certificate or a token. */
export function kubeconfigText(url: string, ca: string, user: { cert: string; key: string } | { token: string }, contexts: Array<{ name: string; namespace?: string }>): string {
  const auth = "token" in user ? `    token: ${user.token}` : `    client-certificate: ${user.cert}\n    client-key: ${user.key}`;
  return [
    "apiVersion: v1", "kind: Config",
    "clusters:", "- name: airgap-test", "  cluster:", `    server: ${url}`, `    certificate-authority: ${ca}`,
    "users:", "- name: user", "  user:", auth,
    "contexts:",
    ...contexts.flatMap((c) => [`- name: ${c.name}`, "  context:", "    cluster: airgap-test", "    user: user", ...(c.namespace ? [`    namespace: ${c.namespace}`] : [])]),
    `current-context: ${contexts[0]!.name}`, "",
  ].join("\n");
}

/** Starts the control plane in `options.dir`; resolves once the API server is ready and its RBAC set up. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const why = await controlPlaneUnavailable();
  if (why) throw new Error(why);
  const bin = controlPlaneBin();
  const dir = options.dir;
  await mkdir(join(dir, "logs"), { recursive: true });
  const pki = await makeControlPlanePki(join(dir, "pki"));
  const [etcdPort, peerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const url = `https://127.0.0.1:${apiPort}`;
  const children: ChildProcess[] = [];
  const start = async (name: string, args: string[]) => {
    const { openSync } = await import("node:fs");
    const log = openSync(join(dir, "logs", `${name}.log`), "a");
    const child = spawn(join(bin, name), args, { stdio: ["ignore", log, log], detached: options.detached === true });
    if (options.detached) child.unref();
    children.push(child);
    return child;
  };
  await start("etcd", [
    "--data-dir", join(dir, "etcd"), "--name", "default",
    "--listen-client-urls", `http://127.0.0.1:${etcdPort}`, "--advertise-client-urls", `http://127.0.0.1:${etcdPort}`,
    "--listen-peer-urls", `http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
    "--initial-cluster", `default=http://127.0.0.1:${peerPort}`, "--unsafe-no-fsync", "--log-level", "warn",
  ]);
  await start("kube-apiserver", [
    "--etcd-servers", `http://127.0.0.1:${etcdPort}`,
    "--bind-address", "127.0.0.1", "--secure-port", String(apiPort), "--advertise-address", "127.0.0.1",
    "--tls-cert-file", pki.apiserverCrt!, "--tls-private-key-file", pki.apiserverKey!, "--client-ca-file", pki.ca!,
    "--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", pki.saPub!, "--service-account-signing-key-file", pki.saKey!,
    "--service-cluster-ip-range", "10.96.0.0/16", "--authorization-mode", "Node,RBAC",
    // The kubelets: reached at their node's InternalIP (an address on the bridge the node made on this machine,
    // never a name to resolve), their serving certificates checked against the cluster's CA.
    "--kubelet-preferred-address-types", "InternalIP", "--kubelet-certificate-authority", pki.ca!,
    "--kubelet-client-certificate", join(pki.dir!, "apiserver-kubelet-client.crt"), "--kubelet-client-key", join(pki.dir!, "apiserver-kubelet-client.key"),
    // Webhooks reach their service through its endpoints, never through DNS (nothing leaves this host).
    "--enable-aggregator-routing=true", "--endpoint-reconciler-type", "none", "--allow-privileged=true", "--profiling=false",
  ]);
  const write = async (name: string, text: string) => {
    await writeFile(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  };
  const p = (name: string) => join(pki.dir!, name);
  const kubeconfig = await write("admin.kubeconfig", kubeconfigText(url, pki.ca!, { cert: p("admin.crt"), key: p("admin.key") }, [{ name: "admin" }, { name: "elsewhere", namespace: "elsewhere" }]));
  const cm = await write("controller-manager.kubeconfig", kubeconfigText(url, pki.ca!, { cert: p("controller-manager.crt"), key: p("controller-manager.key") }, [{ name: "cm" }]));
  const sched = await write("scheduler.kubeconfig", kubeconfigText(url, pki.ca!, { cert: p("scheduler.crt"), key: p("scheduler.key") }, [{ name: "scheduler" }]));
  const caPem = await readFile(pki.ca!, "utf8");
  const api = await adminApi(url, pki.dir!);
  const stop = async () => {
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGTERM");
      const exited = new Promise((r) => child.once("exit", r));
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  if (!options.detached) process.once("exit", () => children.forEach((c) => c.kill("SIGKILL")));
  try {
    for (let i = 0; ; i++) {
      const ready = await api("GET", "/readyz").then((r) => r.status === 200, () => false);
      if (ready) break;
      if (i > 300) throw new Error(`the API server did not become ready: see ${join(dir, "logs", "kube-apiserver.log")}`);
      await sleep(200);
    }
    await start("kube-controller-manager", [
      "--kubeconfig", cm, "--authentication-kubeconfig", cm, "--authorization-kubeconfig", cm,
      "--service-account-private-key-file", pki.saKey!, "--root-ca-file", pki.ca!,
      "--use-service-account-credentials=true", "--leader-elect=false", "--secure-port", "0",
      // A real kubelet renews its node's lease and the node lifecycle controller lifts the taint a new node starts
      // with; the simulated nodes renew nothing, so for them the controller would mark the nodes NotReady.
      "--controllers", `*,${options.simulatedNodes ? "-nodelifecycle," : ""}-nodeipam,-ttl,-route,-service,-cloud-node-lifecycle`,
    ]);
    await start("kube-scheduler", ["--kubeconfig", sched, "--authentication-kubeconfig", sched, "--authorization-kubeconfig", sched, "--leader-elect=false", "--secure-port", "0"]);
    const restrictedKubeconfig = await restricted(api, url, pki.ca!, dir);
    return { url, dir, kubeconfig, restrictedKubeconfig, caPem, pids: children.map((c) => c.pid!), api, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Requests to the API server at `url` as admin (the client certificate in the control plane's `pki` folder). */
export async function adminApi(url: string, pkiDir: string): Promise<ControlPlane["api"]> {
  const tls = { ca: await readFile(join(pkiDir, "ca.crt"), "utf8"), cert: await readFile(join(pkiDir, "admin.crt")), key: await readFile(join(pkiDir, "admin.key")) };
  return (method, path, body, contentType = "application/json") =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
      const req = httpsRequest(`${url}${path}`, { method, ...tls, headers: { accept: "application/json", ...(data && { "content-type": contentType, "content-length": data.length }) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on("error", reject);
      req.end(data);
    });
}

/** A service account bound to `edit` in every namespace (no cluster-scoped rights), and its kubeconfig. */
async function restricted(api: ControlPlane["api"], url: string, ca: string, dir: string): Promise<string> {
  const ns = "airgap-restricted";
  for (let i = 0; ; i++) {
    const r = await api("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    if (r.status === 201 || r.status === 409) break;
    if (i > 100) throw new Error(`creating the restricted namespace: ${JSON.stringify(r.body)}`);
    await sleep(200);
  }
  await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "installer" } });
  await api("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "airgap-restricted-edit" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
    subjects: [{ kind: "ServiceAccount", name: "installer", namespace: ns }],
  });
  const token = await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts/installer/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 86400 } });
  const value = (token.body.status as { token?: string } | undefined)?.token;
  if (!value) throw new Error(`no token for the restricted service account: ${JSON.stringify(token.body)}`);
  const path = join(dir, "restricted.kubeconfig");
  await writeFile(path, kubeconfigText(url, ca, { token: value }, [{ name: "restricted", namespace: "demo" }]), { mode: 0o600 });
  return path;
}

/**
 * A TCP relay in front of the API server that counts the connections made through it, and an admin kubeconfig
 * that goes through it: how a test proves that a command did not contact the cluster at all.
 */
export async function countingRelay(cluster: ControlPlane): Promise<{ kubeconfig: string; connections(): number; stop(): Promise<void> }> {
  const target = new URL(cluster.url);
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    count++;
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = join(cluster.dir, `relay-${port}.kubeconfig`);
  await writeFile(kubeconfig, (await readFile(cluster.kubeconfig, "utf8")).replace(cluster.url, `https://127.0.0.1:${port}`), { mode: 0o600 });
  return {
    kubeconfig,
    connections: () => count,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
