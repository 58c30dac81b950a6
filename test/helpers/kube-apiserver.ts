/**
 * STAND-IN for a Kubernetes API server — not a real one. No Kubernetes API server can be installed on these
 * machines (Debian bookworm through sid and the npm registry ship none), so install tests talk to this small,
 * faithful imitation of the parts of the API that `bundle install` and `bundle uninstall` use, through the real
 * @kubernetes/client-node and a generated kubeconfig. The code under test does not know it is a stand-in.
 *
 * Reproduced (shapes as the real API server sends them):
 * - HTTPS with a certificate from a test CA (client-node refuses plain HTTP), the CA in the kubeconfig;
 * - `/version`; discovery: `/api`, `/apis`, `/api/v1`, `/apis/GROUP/VERSION` resource lists, including kinds
 *   added by CRDs once they are Established (404 for a group/version nobody serves);
 * - bearer-token authentication (401 without it);
 * - server-side apply: `PATCH` with `application/apply-patch+yaml`, `fieldManager` required, `force`;
 *   201 on create, 200 on update, an unchanged object keeps its resourceVersion; a field another manager owns
 *   with a different value → 409 Conflict (unless `force=true`); other patch types → 415;
 * - `POST` create (with `generateName`), `GET` object and list (`labelSelector` a=b,c=d), `DELETE`;
 *   Status objects with reason and message on errors; namespaced objects need their Namespace (404);
 * - Namespaces: deletion makes them Terminating, then (after a delay) removes them and everything in them;
 * - CRDs: Established after a delay; deleting one removes its kind and its objects;
 * - workloads (Deployment, StatefulSet, DaemonSet, Job): a pod each; the pod's images are asked of the REAL
 *   test registry (HEAD manifest): all present → Running/available (Job: Complete) after a delay; any missing
 *   → the pod waits in ErrImagePull, then ImagePullBackOff, naming the image.
 * Simplified: lists are replaced whole on apply (no merge keys); fields dropped from a later apply are kept;
 * one pod per workload whatever the replicas; no watch, no admission, no RBAC.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer, request as httpsRequest, type Server } from "node:https";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { makePki } from "./tls.js";

/** Settings of the stand-in. */
export interface StandInOptions {
  /** `HOST:PORT` of the test registry pods pull from; images elsewhere cannot be pulled. */
  registry?: string;
  /** Delay before a CRD is Established (ms). */
  crdDelayMs?: number;
  /** Delay before a workload whose images exist is ready (ms). */
  readyDelayMs?: number;
  /** Delay before a deleted Namespace is gone (ms). */
  namespaceDeleteDelayMs?: number;
}

/** A request the stand-in saw. */
export interface SeenRequest {
  method: string;
  path: string;
  contentType?: string;
}

/** A running stand-in API server. */
export interface StandInCluster {
  url: string;
  /** The CA that signed its certificate (PEM), for direct requests. */
  caPem: string;
  /** A kubeconfig file for it (contexts `standin`, current, and `elsewhere`, whose default namespace is `elsewhere`). */
  kubeconfig: string;
  token: string;
  requests: SeenRequest[];
  /** The stored object, or undefined. */
  object(plural: string, name: string, namespace?: string): Obj | undefined;
  /** Every stored object as `Kind/namespace/name`, in creation order. */
  keys(): string[];
  /** Sends a server-side apply as another client would (e.g. kubectl's field manager); resolves to the HTTP status. */
  applyAs(manager: string, path: string, object: unknown, force?: boolean): Promise<number>;
  /** Deletion order as `Kind/namespace/name`. */
  deletions: string[];
  stop(): Promise<void>;
}

type Obj = Record<string, unknown> & { apiVersion: string; kind: string; metadata: Meta; spec?: Record<string, unknown>; status?: Record<string, unknown> };
interface Meta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  creationTimestamp?: string;
  managedFields?: Array<{ manager: string; operation: string; apiVersion: string }>;
  [k: string]: unknown;
}
interface Resource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const BUILT_IN: Resource[] = [
  ["", "v1", "namespaces", "Namespace", false],
  ["", "v1", "pods", "Pod", true],
  ["", "v1", "configmaps", "ConfigMap", true],
  ["", "v1", "secrets", "Secret", true],
  ["", "v1", "services", "Service", true],
  ["", "v1", "serviceaccounts", "ServiceAccount", true],
  ["", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true],
  ["apps", "v1", "deployments", "Deployment", true],
  ["apps", "v1", "statefulsets", "StatefulSet", true],
  ["apps", "v1", "daemonsets", "DaemonSet", true],
  ["batch", "v1", "jobs", "Job", true],
  ["apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false],
  ["rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false],
  ["rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false],
  ["rbac.authorization.k8s.io", "v1", "roles", "Role", true],
  ["rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true],
].map(([group, version, plural, kind, namespaced]) => ({ group, version, plural, kind, namespaced }) as Resource);

const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job"]);

/** Starts the stand-in on 127.0.0.1 and writes its kubeconfig. */
export async function startStandInCluster(options: StandInOptions = {}): Promise<StandInCluster> {
  const crdDelay = options.crdDelayMs ?? 300;
  const readyDelay = options.readyDelayMs ?? 300;
  const nsDelay = options.namespaceDeleteDelayMs ?? 300;
  const token = randomBytes(16).toString("hex");
  const resources: Resource[] = [...BUILT_IN];
  const store = new Map<string, Obj>();
  /** Per object key: field path → the manager that owns it. */
  const owners = new Map<string, Map<string, string>>();
  const requests: SeenRequest[] = [];
  const deletions: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let rv = 100;

  const later = (ms: number, fn: () => void | Promise<void>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      void fn();
    }, ms);
    timers.add(t);
  };
  const keyOf = (r: Resource, name: string, ns?: string) => `${r.group}/${r.plural}/${r.namespaced ? (ns ?? "") : ""}/${name}`;
  const apiVersionOf = (r: Resource) => (r.group ? `${r.group}/${r.version}` : r.version);
  const display = (o: Obj) => (o.metadata.namespace ? `${o.kind}/${o.metadata.namespace}/${o.metadata.name}` : `${o.kind}/${o.metadata.name}`);
  const resourceFor = (kind: string) => resources.find((r) => r.kind === kind);
  const bump = (o: Obj) => (o.metadata.resourceVersion = String(++rv));

  const status = (res: ServerResponse, code: number, reason: string, message: string) => {
    send(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
  };

  /** Pods pull from the real registry: HEAD the manifest. */
  const pullable = (image: string): Promise<boolean> => {
    if (!options.registry || !image.startsWith(`${options.registry}/`)) return Promise.resolve(false);
    const rest = image.slice(options.registry.length + 1);
    const at = rest.indexOf("@");
    const colon = rest.lastIndexOf(":");
    const [path, ref] = at >= 0 ? [rest.slice(0, at), rest.slice(at + 1)] : colon > rest.lastIndexOf("/") ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, "latest"];
    const [host, port] = options.registry.split(":");
    return new Promise((resolve) => {
      const req = httpRequest({ host, port: Number(port), method: "HEAD", path: `/v2/${path}/manifests/${ref}`, headers: { accept: MANIFEST_ACCEPT } }, (r) => {
        r.resume();
        resolve(r.statusCode === 200);
      });
      req.on("error", () => resolve(false));
      req.end();
    });
  };

  /** The workload controller: one pod, then ready or stuck pulling. */
  const reconcile = async (w: Obj) => {
    const key = keyOf(resourceFor(w.kind)!, w.metadata.name, w.metadata.namespace);
    const template = ((w.spec?.template ?? {}) as { metadata?: { labels?: Record<string, string> }; spec?: { containers?: Array<{ name: string; image: string }>; initContainers?: Array<{ name: string; image: string }> } });
    const containers = [...(template.spec?.initContainers ?? []), ...(template.spec?.containers ?? [])];
    const labels = w.kind === "Job" ? { "job-name": w.metadata.name, ...template.metadata?.labels } : { ...template.metadata?.labels };
    const podRes = resourceFor("Pod")!;
    const podName = `${w.metadata.name}-${randomBytes(3).toString("hex")}`;
    const pod: Obj = {
      apiVersion: "v1", kind: "Pod",
      metadata: { name: podName, namespace: w.metadata.namespace, labels, uid: randomUUID(), creationTimestamp: new Date().toISOString() },
      spec: { containers: template.spec?.containers ?? [] },
      status: { phase: "Pending", containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, ready: false, state: { waiting: { reason: "ContainerCreating" } } })) },
    };
    bump(pod);
    store.set(keyOf(podRes, podName, w.metadata.namespace), pod);
    const missing = new Set<string>();
    for (const c of containers) if (!(await pullable(c.image))) missing.add(c.image);
    const podStatus = pod.status as { phase: string; containerStatuses: Array<{ image: string; ready: boolean; state: unknown }> };
    if (missing.size > 0) {
      const stuck = (reason: string) => {
        for (const cs of podStatus.containerStatuses) {
          if (missing.has(cs.image)) cs.state = { waiting: { reason, message: `Back-off pulling image "${cs.image}"` } };
        }
        bump(pod);
      };
      stuck("ErrImagePull");
      later(Math.min(readyDelay, 200), () => stuck("ImagePullBackOff"));
      // The controller has seen the spec and scheduled the pod (one node), which does not become available.
      const live = store.get(key);
      const replicas = (live?.spec?.replicas as number | undefined) ?? 1;
      const gen = live?.metadata.generation;
      if (live?.kind === "Deployment") live.status = { observedGeneration: gen, replicas, updatedReplicas: replicas, unavailableReplicas: replicas };
      if (live?.kind === "StatefulSet") live.status = { observedGeneration: gen, replicas, currentReplicas: replicas, updatedReplicas: replicas };
      if (live?.kind === "DaemonSet") live.status = { observedGeneration: gen, desiredNumberScheduled: 1, currentNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 0, numberUnavailable: 1 };
      if (live?.kind === "Job") live.status = { active: 1 };
      if (live) bump(live);
      return;
    }
    later(readyDelay, () => {
      const live = store.get(key);
      if (!live) return;
      podStatus.phase = w.kind === "Job" ? "Succeeded" : "Running";
      for (const cs of podStatus.containerStatuses) {
        cs.ready = true;
        cs.state = { running: { startedAt: new Date().toISOString() } };
      }
      bump(pod);
      const replicas = (live.spec?.replicas as number | undefined) ?? 1;
      const gen = live.metadata.generation;
      if (live.kind === "Deployment") live.status = { observedGeneration: gen, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas, conditions: [{ type: "Available", status: "True" }] };
      if (live.kind === "StatefulSet") live.status = { observedGeneration: gen, replicas, readyReplicas: replicas, updatedReplicas: replicas, currentReplicas: replicas };
      if (live.kind === "DaemonSet") live.status = { observedGeneration: gen, desiredNumberScheduled: 1, currentNumberScheduled: 1, numberReady: 1, numberAvailable: 1, updatedNumberScheduled: 1 };
      if (live.kind === "Job") live.status = { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] };
      bump(live);
    });
  };

  const establish = (crd: Obj) => {
    later(crdDelay, () => {
      const live = store.get(keyOf(resourceFor("CustomResourceDefinition")!, crd.metadata.name));
      if (!live) return;
      const spec = live.spec as { group: string; scope?: string; names: { plural: string; kind: string }; versions?: Array<{ name: string; served?: boolean }> };
      for (const v of spec.versions ?? []) {
        if (v.served === false || resources.some((r) => r.group === spec.group && r.version === v.name && r.kind === spec.names.kind)) continue;
        resources.push({ group: spec.group, version: v.name, plural: spec.names.plural, kind: spec.names.kind, namespaced: spec.scope !== "Cluster" });
      }
      live.status = { conditions: [{ type: "NamesAccepted", status: "True" }, { type: "Established", status: "True" }], acceptedNames: spec.names };
      bump(live);
    });
  };

  const store_ = (r: Resource, o: Obj, manager: string | undefined) => {
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString();
    o.metadata.generation = 1;
    if (manager) o.metadata.managedFields = [{ manager, operation: "Apply", apiVersion: o.apiVersion }];
    bump(o);
    const key = keyOf(r, o.metadata.name, o.metadata.namespace);
    store.set(key, o);
    if (manager) owners.set(key, new Map(leafPaths(o).map((p) => [p, manager])));
    if (o.kind === "CustomResourceDefinition") establish(o);
    if (WORKLOADS.has(o.kind)) void reconcile(o);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push({ method: req.method ?? "", path: `${url.pathname}${url.search}`, ...(req.headers["content-type"] && { contentType: req.headers["content-type"] }) });
    if (req.headers.authorization !== `Bearer ${token}`) return status(res, 401, "Unauthorized", "Unauthorized");
    const body = await readBody(req);
    const parts = url.pathname.split("/").filter(Boolean);
    if (url.pathname === "/version") return send(res, 200, { major: "1", minor: "30", gitVersion: "v1.30.0-standin", platform: "linux/amd64" });
    if (url.pathname === "/api") return send(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
    if (url.pathname === "/apis") {
      const groups = [...new Set(resources.filter((r) => r.group).map((r) => r.group))].map((g) => {
        const versions = [...new Set(resources.filter((r) => r.group === g).map((r) => r.version))].map((v) => ({ groupVersion: `${g}/${v}`, version: v }));
        return { name: g, versions, preferredVersion: versions[0] };
      });
      return send(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups });
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === "api" && parts[1]) [group, version, rest] = ["", parts[1], parts.slice(2)];
    else if (parts[0] === "apis" && parts[1] && parts[2]) [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
    else return status(res, 404, "NotFound", "the server could not find the requested resource");
    const served = resources.filter((r) => r.group === group && r.version === version);
    if (served.length === 0) return status(res, 404, "NotFound", "the server could not find the requested resource");
    if (rest.length === 0) {
      return send(res, 200, {
        kind: "APIResourceList", apiVersion: "v1", groupVersion: group ? `${group}/${version}` : version,
        resources: served.map((r) => ({ name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: ["create", "delete", "get", "list", "patch", "update"] })),
      });
    }
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const r = served.find((x) => x.plural === rest[0]);
    if (!r || rest.length > 2) return status(res, 404, "NotFound", "the server could not find the requested resource");
    const name = rest[1];
    const method = req.method ?? "GET";

    if (name === undefined && method === "GET") {
      const selector = parseSelector(url.searchParams.get("labelSelector"));
      const items = [...store.values()].filter((o) => o.kind === r.kind && (!r.namespaced || namespace === undefined || o.metadata.namespace === namespace) && matches(o, selector));
      return send(res, 200, { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(rv) }, items });
    }
    const nsCheck = (ns: string | undefined): boolean => {
      if (!r.namespaced) return true;
      const nsObj = store.get(keyOf(resourceFor("Namespace")!, ns ?? ""));
      if (!nsObj) {
        status(res, 404, "NotFound", `namespaces "${ns}" not found`);
        return false;
      }
      if ((nsObj.status as { phase?: string } | undefined)?.phase === "Terminating") {
        status(res, 403, "Forbidden", `unable to create new content in namespace ${ns} because it is being terminated`);
        return false;
      }
      return true;
    };
    if (name === undefined && method === "POST") {
      const o = parseObject(body) as Obj | undefined;
      if (!o?.metadata) return status(res, 400, "BadRequest", "the body is not an object");
      if (!o.metadata.name) {
        if (!o.metadata.generateName) return status(res, 422, "Invalid", "metadata.name or metadata.generateName is required");
        o.metadata.name = `${o.metadata.generateName}${randomBytes(3).toString("hex").slice(0, 5)}`;
      }
      if (r.namespaced) o.metadata.namespace = namespace;
      if (!nsCheck(namespace)) return;
      if (store.has(keyOf(r, o.metadata.name, namespace))) return status(res, 409, "AlreadyExists", `${r.plural} "${o.metadata.name}" already exists`);
      store_(r, o, url.searchParams.get("fieldManager") ?? undefined);
      return send(res, 201, o);
    }
    if (name === undefined) return status(res, 405, "MethodNotAllowed", `${method} is not allowed here`);
    const key = keyOf(r, name, namespace);
    const live = store.get(key);
    if (method === "GET") return live ? send(res, 200, live) : status(res, 404, "NotFound", `${r.plural}${r.group ? `.${r.group}` : ""} "${name}" not found`);
    if (method === "DELETE") {
      if (!live) return status(res, 404, "NotFound", `${r.plural}${r.group ? `.${r.group}` : ""} "${name}" not found`);
      deletions.push(display(live));
      if (r.kind === "Namespace") {
        live.status = { phase: "Terminating" };
        bump(live);
        later(nsDelay, () => {
          store.delete(key);
          for (const [k, o] of store) if (o.metadata.namespace === name) store.delete(k);
        });
      } else {
        store.delete(key);
        if (r.kind === "CustomResourceDefinition") {
          const kind = (live.spec as { names?: { kind?: string } }).names?.kind;
          for (const [k, o] of store) if (o.kind === kind) store.delete(k);
          for (let i = resources.length - 1; i >= 0; i--) if (resources[i]!.kind === kind && !BUILT_IN.includes(resources[i]!)) resources.splice(i, 1);
        }
        if (WORKLOADS.has(r.kind)) for (const [k, o] of store) if (o.kind === "Pod" && o.metadata.namespace === namespace && o.metadata.name.startsWith(`${name}-`)) store.delete(k);
      }
      return send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, kind: r.plural } });
    }
    if (method === "PATCH") {
      if (req.headers["content-type"] !== "application/apply-patch+yaml") return status(res, 415, "UnsupportedMediaType", `the stand-in only takes server-side apply, not ${req.headers["content-type"]}`);
      const manager = url.searchParams.get("fieldManager");
      if (!manager) return status(res, 422, "Invalid", "fieldManager is required for apply requests");
      const force = url.searchParams.get("force") === "true";
      const applied = parseObject(body) as Obj | undefined;
      if (!applied?.metadata || applied.kind !== r.kind || applied.metadata.name !== name) {
        return status(res, 400, "BadRequest", `the body does not name ${r.kind} ${name}`);
      }
      if (r.namespaced) applied.metadata.namespace = namespace;
      if (!live) {
        if (!nsCheck(namespace)) return;
        store_(r, applied, manager);
        return send(res, 201, applied);
      }
      const own = owners.get(key) ?? new Map<string, string>();
      const conflicts = leafPaths(applied).filter((p) => {
        const owner = own.get(p);
        return owner !== undefined && owner !== manager && JSON.stringify(valueAt(live, p)) !== JSON.stringify(valueAt(applied, p));
      });
      if (conflicts.length > 0 && !force) {
        const who = [...new Set(conflicts.map((p) => own.get(p)))].join(", ");
        return status(res, 409, "Conflict", `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}: conflict with "${who}": ${conflicts.map((p) => `.${p}`).join(", ")}`);
      }
      const before = JSON.stringify(strip(live));
      const merged = merge(live, applied) as Obj;
      for (const p of leafPaths(applied)) own.set(p, manager);
      owners.set(key, own);
      if (JSON.stringify(strip(merged)) === before) return send(res, 200, live);
      const specChanged = JSON.stringify(live.spec) !== JSON.stringify(merged.spec);
      if (specChanged) merged.metadata.generation = (live.metadata.generation ?? 1) + 1;
      const managers = new Set([...(live.metadata.managedFields ?? []).map((m) => m.manager), manager]);
      merged.metadata.managedFields = [...managers].map((m) => ({ manager: m, operation: "Apply", apiVersion: merged.apiVersion }));
      bump(merged);
      store.set(key, merged);
      if (specChanged && WORKLOADS.has(r.kind)) void reconcile(merged);
      return send(res, 200, merged);
    }
    return status(res, 405, "MethodNotAllowed", `${method} is not allowed`);
  };

  const dir = await mkdtemp(join(tmpdir(), "airgap-kube-"));
  const pki = await makePki(dir);
  const server: Server = createServer({ cert: await readFile(pki.certFile), key: await readFile(pki.keyFile) }, (req, res) => {
    handle(req, res).catch((err: unknown) => status(res, 500, "InternalError", String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(dir, "kubeconfig");
  await writeFile(kubeconfig, yaml.dump({
    apiVersion: "v1", kind: "Config",
    clusters: [{ name: "standin", cluster: { server: url, "certificate-authority-data": Buffer.from(pki.caPem).toString("base64") } }],
    users: [{ name: "tester", user: { token } }],
    contexts: [
      { name: "standin", context: { cluster: "standin", user: "tester", namespace: "default" } },
      { name: "elsewhere", context: { cluster: "standin", user: "tester", namespace: "elsewhere" } },
    ],
    "current-context": "standin",
  }));
  // A fresh cluster has its `default` namespace.
  store_(resourceFor("Namespace")!, { apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } }, undefined);

  return {
    url, caPem: pki.caPem, kubeconfig, token, requests, deletions,
    object: (plural, name, namespace) => {
      const r = resources.find((x) => x.plural === plural);
      return r ? store.get(keyOf(r, name, namespace)) : undefined;
    },
    keys: () => [...store.values()].map(display),
    applyAs: (manager, path, object, force = false) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(`${url}${path}?fieldManager=${manager}${force ? "&force=true" : ""}`, {
          method: "PATCH", ca: pki.caPem, headers: { authorization: `Bearer ${token}`, "content-type": "application/apply-patch+yaml" },
        }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end(JSON.stringify(object));
      }),
    stop: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function send(res: ServerResponse, code: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(code, { "content-type": "application/json", "content-length": bytes.length });
  res.end(bytes);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseObject(text: string): unknown {
  try {
    return yaml.load(text);
  } catch {
    return undefined;
  }
}

function parseSelector(s: string | null): Array<[string, string]> {
  return (s ?? "").split(",").filter(Boolean).map((p) => p.split("=") as [string, string]);
}

function matches(o: Obj, selector: Array<[string, string]>): boolean {
  return selector.every(([k, v]) => o.metadata.labels?.[k] === v);
}

/** Dotted paths of the leaves of the object's content (metadata identity and status excluded). */
function leafPaths(o: unknown, prefix = ""): string[] {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return prefix ? [prefix] : [];
  return Object.entries(o).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    if (!prefix && (k === "apiVersion" || k === "kind" || k === "status")) return [];
    if (path === "metadata.name" || path === "metadata.namespace" || path === "metadata.managedFields" || path === "metadata.resourceVersion" || path === "metadata.uid" || path === "metadata.generation" || path === "metadata.creationTimestamp") return [];
    return leafPaths(v, path);
  });
}

function valueAt(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined), o);
}

function merge(live: unknown, applied: unknown): unknown {
  if (typeof live !== "object" || live === null || Array.isArray(live) || typeof applied !== "object" || applied === null || Array.isArray(applied)) return structuredClone(applied);
  const out: Record<string, unknown> = { ...(live as Record<string, unknown>) };
  for (const [k, v] of Object.entries(applied)) out[k] = k in out ? merge(out[k], v) : structuredClone(v);
  return out;
}

function strip(o: Obj): unknown {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...metadata } = o.metadata;
  return { ...o, metadata, status: undefined };
}
