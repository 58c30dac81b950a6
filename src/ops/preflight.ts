/**
 * Preflight: what the cluster lacks, known before the push. The rendered install plan is checked against the
 * cluster, read-only: kinds (served, or defined by a CRD of the bundle), namespaces, storage classes, RBAC (a
 * SelfSubjectAccessReview per verb, resource and namespace), capacity (requests against allocatable, extended
 * resources against what nodes advertise), admission webhooks without a ready endpoint, and the images the
 * cluster will pull. Each check is one line: pass, warn or fail, with the reason.
 */
import { AirgapError, type Problem } from "../errors.js";
import type { Cluster } from "../kube/cluster.js";
import { apiGroup, objectKey, type KubeObject } from "../kube/object.js";
import type { PlannedObject } from "../kube/plan.js";
import { conversionFor } from "../kube/convert.js";
import { formatQuantity, parseQuantity } from "../kube/quantity.js";
import { formatProblem } from "../errors.js";
import { plural } from "../util/plural.js";

/** The outcome of one check. */
export interface PreflightCheck {
  check: "kinds" | "namespaces" | "storage" | "rbac" | "capacity" | "webhooks" | "images";
  status: "pass" | "warn" | "fail";
  message: string;
  /** One line per finding (what needs it, what is missing). */
  details: string[];
}

/** What provides the API groups a bundle most often needs from its cluster. */
export const KNOWN_PROVIDERS: Record<string, string> = {
  "networking.istio.io": "Istio", "security.istio.io": "Istio", "install.istio.io": "Istio", "telemetry.istio.io": "Istio",
  "cert-manager.io": "cert-manager", "acme.cert-manager.io": "cert-manager",
  "console.openshift.io": "the OpenShift console", "route.openshift.io": "OpenShift",
  "monitoring.coreos.com": "the Prometheus operator", "serving.knative.dev": "Knative Serving", "networking.knative.dev": "Knative",
  "gateway.networking.k8s.io": "the Gateway API CRDs", "snapshot.storage.k8s.io": "the CSI snapshot controller",
};

const CRD = "CustomResourceDefinition";
const group = apiGroup;
const key = (o: KubeObject) => objectKey(o);

/** Options of {@link runPreflight}. */
export interface PreflightOptions {
  /** Checks the images the rendered manifests name (issue: what the cluster will pull); omitted: not checked. */
  images?: () => Promise<PreflightCheck>;
}

/** Runs every check; the plan is the rendered install plan (after `--skip-kind`). */
export async function runPreflight(cluster: Cluster, plan: readonly PlannedObject[], options: PreflightOptions = {}): Promise<PreflightCheck[]> {
  const objects = plan.map((p) => p.object);
  const crdKinds = new Map<string, { plural: string; namespaced: boolean }>();
  for (const o of objects) {
    if (o.kind !== CRD) continue;
    const spec = o.spec as { group?: string; scope?: string; names?: { kind?: string; plural?: string } } | undefined;
    if (spec?.group && spec.names?.kind && spec.names.plural) crdKinds.set(`${spec.group}/${spec.names.kind}`, { plural: spec.names.plural, namespaced: spec.scope !== "Cluster" });
  }
  const resources = new Map<string, { plural: string; namespaced: boolean } | undefined>();
  await Promise.all([...new Set(objects.map((o) => `${o.apiVersion}|${o.kind}`))].map(async (k) => {
    const [apiVersion, kind] = k.split("|") as [string, string];
    resources.set(k, (await cluster.resource(apiVersion, kind)) ?? crdKinds.get(`${group(apiVersion)}/${kind}`));
  }));
  const resourceOf = (o: KubeObject) => resources.get(`${o.apiVersion}|${o.kind}`);
  const checks = await Promise.all([
    kinds(objects, resourceOf),
    guard("namespaces", () => namespaces(cluster, objects, resourceOf)),
    guard("storage", () => storage(cluster, objects)),
    rbac(cluster, objects, resourceOf),
    guard("capacity", () => capacity(cluster, objects)),
    guard("webhooks", () => webhooks(cluster)),
    ...(options.images ? [options.images()] : []),
  ]);
  return checks;
}

/**
 * A check that reads what this kubeconfig's user may not read (nodes, storage classes, webhooks: cluster-wide
 * objects a restricted installer often cannot list) is a warning that says so, not a failure of the preflight.
 */
async function guard(check: PreflightCheck["check"], run: () => Promise<PreflightCheck>): Promise<PreflightCheck> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AirgapError && err.status === 403) return { check, status: "warn", message: `not checked: ${err.message}`, details: [] };
    throw err;
  }
}

function kinds(objects: KubeObject[], resourceOf: (o: KubeObject) => unknown): PreflightCheck {
  const missing = new Map<string, KubeObject[]>();
  for (const o of objects) if (!resourceOf(o)) missing.set(o.apiVersion, [...(missing.get(o.apiVersion) ?? []), o]);
  if (missing.size === 0) return { check: "kinds", status: "pass", message: "every kind is served by the cluster or defined by a CRD of the bundle", details: [] };
  let convertible = false;
  const details = [...missing].map(([apiVersion, os]) => {
    const provider = KNOWN_PROVIDERS[group(apiVersion)];
    const successors = [...new Set(os.map((o) => conversionFor(o.apiVersion, o.kind)?.to).filter((to) => to))];
    if (successors.length > 0) convertible = true;
    return `${apiVersion} (${[...new Set(os.map((o) => o.kind))].join(", ")}): ${plural(os.length, "object")} ${os.length === 1 ? "needs" : "need"} it (${os.slice(0, 3).map(key).join(", ")}${os.length > 3 ? ", …" : ""})${provider ? `; provided by ${provider}` : ""}${successors.length > 0 ? `; removed from Kubernetes, --convert-apis converts to ${successors.join(", ")}` : ""}`;
  });
  const remedy = convertible ? "convert what was written for an older Kubernetes with --convert-apis, install what provides the rest, or leave objects out with --skip-kind KIND" : "install what provides them, or leave the objects out with --skip-kind KIND";
  return { check: "kinds", status: "fail", message: `${plural(missing.size, "API group/version")} the cluster does not serve and no CRD of the bundle defines (${remedy})`, details };
}

async function namespaces(cluster: Cluster, objects: KubeObject[], resourceOf: (o: KubeObject) => { namespaced: boolean } | undefined): Promise<PreflightCheck> {
  const created = new Set(objects.filter((o) => o.kind === "Namespace" && o.apiVersion === "v1").map((o) => o.metadata.name));
  const used = new Map<string, KubeObject[]>();
  for (const o of objects) {
    const ns = o.metadata.namespace ?? (resourceOf(o)?.namespaced ? cluster.defaultNamespace : undefined);
    if (ns && !created.has(ns)) used.set(ns, [...(used.get(ns) ?? []), o]);
  }
  const missing = (await Promise.all([...used].map(async ([ns, os]) => ((await cluster.get("v1", "Namespace", ns)) ? undefined : [ns, os] as const)))).filter((x) => x !== undefined);
  if (missing.length === 0) return { check: "namespaces", status: "pass", message: "every namespace used exists or is created by the bundle", details: [] };
  return {
    check: "namespaces", status: "fail", message: `${plural(missing.length, "namespace")} neither in the cluster nor created by the bundle`,
    details: missing.map(([ns, os]) => `${ns}: ${os.slice(0, 3).map(key).join(", ")}${os.length > 3 ? ", …" : ""}`),
  };
}

async function storage(cluster: Cluster, objects: KubeObject[]): Promise<PreflightCheck> {
  const claims = objects.flatMap((o) => {
    if (o.kind === "PersistentVolumeClaim") return [{ owner: key(o), spec: o.spec as { storageClassName?: string } }];
    const templates = (o.spec as { volumeClaimTemplates?: Array<{ spec?: { storageClassName?: string } }> } | undefined)?.volumeClaimTemplates ?? [];
    return templates.map((t) => ({ owner: key(o), spec: t.spec ?? {} }));
  });
  if (claims.length === 0) return { check: "storage", status: "pass", message: "no volume claims", details: [] };
  const classes = await cluster.list("storage.k8s.io/v1", "StorageClass");
  const names = new Set(classes.map((c) => c.metadata.name));
  const hasDefault = classes.some((c) => (c.metadata.annotations as Record<string, string> | undefined)?.["storageclass.kubernetes.io/is-default-class"] === "true");
  const details: string[] = [];
  for (const c of claims) {
    const named = c.spec.storageClassName;
    if (named === undefined && !hasDefault) details.push(`${c.owner}: no storageClassName, and the cluster has no default StorageClass`);
    else if (named !== undefined && named !== "" && !names.has(named)) details.push(`${c.owner}: StorageClass ${named} does not exist`);
  }
  if (details.length === 0) return { check: "storage", status: "pass", message: `${plural(claims.length, "volume claim")}: their storage classes exist`, details: [] };
  return { check: "storage", status: "fail", message: `${plural(details.length, "volume claim")} would stay Pending`, details };
}

async function rbac(cluster: Cluster, objects: KubeObject[], resourceOf: (o: KubeObject) => { plural: string; namespaced: boolean } | undefined): Promise<PreflightCheck> {
  const asks = new Map<string, { verb: string; group: string; resource: string; namespace?: string }>();
  for (const o of objects) {
    const r = resourceOf(o);
    if (!r) continue;
    const verb = o.metadata.name === undefined ? "create" : "patch";
    const namespace = r.namespaced ? (o.metadata.namespace ?? cluster.defaultNamespace) : undefined;
    const ask = { verb, group: group(o.apiVersion), resource: r.plural, ...(namespace && { namespace }) };
    asks.set(JSON.stringify(ask), ask);
  }
  const denied = (await Promise.all([...asks.values()].map(async (a) => {
    const review = await cluster.create({ apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", metadata: {}, spec: { resourceAttributes: a } } as unknown as KubeObject);
    return (review as unknown as { status?: { allowed?: boolean } }).status?.allowed === true ? undefined : a;
  }))).filter((a) => a !== undefined);
  if (denied.length === 0) return { check: "rbac", status: "pass", message: `every one of ${plural(asks.size, "permission")} the install needs is granted`, details: [] };
  return {
    check: "rbac", status: "fail", message: `${plural(denied.length, "permission")} the install needs ${denied.length === 1 ? "is" : "are"} denied to this kubeconfig's user`,
    details: denied.map((a) => `${a.verb} ${a.resource}${a.group ? `.${a.group}` : ""} ${a.namespace ? `in namespace ${a.namespace}` : "(cluster-wide)"}`),
  };
}

/** The pod templates of the workloads, with how many pods each makes. */
function podTemplates(objects: KubeObject[], nodes: number): Array<{ owner: string; pods: number; containers: Array<{ resources?: { requests?: Record<string, unknown> } }> }> {
  return objects.flatMap((o) => {
    const spec = o.spec as { replicas?: number; parallelism?: number; template?: { spec?: { containers?: [] } }; containers?: [] } | undefined;
    if (o.kind === "Pod") return [{ owner: key(o), pods: 1, containers: spec?.containers ?? [] }];
    const containers = spec?.template?.spec?.containers;
    if (!containers) return [];
    const pods = o.kind === "DaemonSet" ? nodes : o.kind === "Job" ? (spec?.parallelism ?? 1) : (spec?.replicas ?? 1);
    return [{ owner: key(o), pods, containers }];
  });
}

async function capacity(cluster: Cluster, objects: KubeObject[]): Promise<PreflightCheck> {
  const nodes = await cluster.list("v1", "Node");
  const allocatable = new Map<string, number>();
  for (const n of nodes) {
    const a = ((n as unknown as { status?: { allocatable?: Record<string, unknown> } }).status?.allocatable) ?? {};
    for (const [r, v] of Object.entries(a)) allocatable.set(r, (allocatable.get(r) ?? 0) + (parseQuantity(v) ?? 0));
  }
  const wanted = new Map<string, { total: number; owners: string[] }>();
  for (const t of podTemplates(objects, nodes.length)) {
    for (const c of t.containers) {
      for (const [r, v] of Object.entries(c.resources?.requests ?? {})) {
        const q = (parseQuantity(v) ?? 0) * t.pods;
        const w = wanted.get(r) ?? { total: 0, owners: [] };
        w.total += q;
        if (!w.owners.includes(t.owner)) w.owners.push(t.owner);
        wanted.set(r, w);
      }
    }
  }
  const short: string[] = [];
  for (const [r, w] of wanted) {
    const have = allocatable.get(r) ?? 0;
    if (w.total > have) {
      const extended = r.includes("/");
      const one = nodes.length === 1;
      short.push(`${r}: the workloads request ${formatQuantity(r, w.total)}, the ${plural(nodes.length, "node")} ${extended && have === 0 ? `advertise${one ? "s" : ""} none` : `allocate${one ? "s" : ""} ${formatQuantity(r, have)}`} (${w.owners.slice(0, 3).join(", ")}${w.owners.length > 3 ? ", …" : ""})`);
    }
  }
  if (short.length === 0) return { check: "capacity", status: "pass", message: `the requests fit what the ${plural(nodes.length, "node")} ${nodes.length === 1 ? "has" : "have"} allocatable`, details: [] };
  return { check: "capacity", status: "fail", message: `${plural(short.length, "resource")} the workloads request beyond what the nodes offer`, details: short };
}

async function webhooks(cluster: Cluster): Promise<PreflightCheck> {
  // List items carry no kind of their own: it is set from the list asked for.
  const configs = (await Promise.all(["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"].map(async (kind) =>
    (await cluster.list("admissionregistration.k8s.io/v1", kind)).map((c) => ({ ...c, kind }))))).flat();
  const broken: string[] = [];
  for (const config of configs) {
    const hooks = (config as unknown as { webhooks?: Array<{ name: string; failurePolicy?: string; clientConfig?: { service?: { name: string; namespace: string } } }> }).webhooks ?? [];
    for (const h of hooks) {
      const svc = h.clientConfig?.service;
      if (!svc || h.failurePolicy === "Ignore") continue;
      const slices = await cluster.list("discovery.k8s.io/v1", "EndpointSlice", svc.namespace, `kubernetes.io/service-name=${svc.name}`);
      const ready = slices.some((s) => ((s as unknown as { endpoints?: Array<{ conditions?: { ready?: boolean } }> }).endpoints ?? []).some((e) => e.conditions?.ready !== false));
      if (!ready) broken.push(`${config.kind} ${config.metadata.name}: webhook ${h.name} calls service ${svc.namespace}/${svc.name}, which has no ready endpoint`);
    }
  }
  if (broken.length === 0) return { check: "webhooks", status: "pass", message: `${plural(configs.length, "admission webhook configuration")}: every service answers`, details: [] };
  return { check: "webhooks", status: "fail", message: `${plural(broken.length, "admission webhook")} would refuse what it watches (failurePolicy Fail, no ready pod)`, details: broken };
}

/** The images check from the rendered-reference check's findings (see check-references.ts). */
export function imagesCheck(registry: string, result: { checked: number; missing: Problem[]; elsewhere: Problem[] }, plainHttp: boolean): PreflightCheck {
  const details = [...result.missing, ...result.elsewhere].map((p) => formatProblem({ ...p, ...(p.file && { file: `manifests/${p.file}` }) }));
  if (plainHttp) {
    details.push(
      `${registry} is spoken to over plain HTTP: each node's containerd must be told so, in /etc/containerd/certs.d/${registry}/hosts.toml`,
      `(bundle node-config --bundle BUNDLE --registry ${registry} --plain-http --out certs.d writes it, with mirrors and the pause image):`,
      `  server = "http://${registry}"`, `  [host."http://${registry}"]`, `    capabilities = ["pull", "resolve"]`,
    );
  }
  if (result.missing.length > 0) return { check: "images", status: "fail", message: `${plural(result.missing.length, "image reference")} the cluster will pull ${result.missing.length === 1 ? "does" : "do"} not resolve in ${registry}`, details };
  const warn = result.elsewhere.length > 0 || plainHttp;
  return { check: "images", status: warn ? "warn" : "pass", message: `${plural(result.checked, "image reference")} ${result.checked === 1 ? "resolves" : "resolve"} in ${registry}${result.elsewhere.length ? `; ${result.elsewhere.length} point elsewhere` : ""}${plainHttp ? "; plain HTTP" : ""}`, details };
}
