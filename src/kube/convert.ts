/**
 * Manifests written for an older Kubernetes, converted to the API versions that replaced the ones it removed
 * (1.16, 1.22, 1.25, 1.26), with the field changes the API server's own conversion makes — not only the
 * `apiVersion` line. Defaults that changed between the versions are written out as the old version had them, so
 * an object behaves as it did. What cannot be converted faithfully (a PodSecurityPolicy, a webhook whose side
 * effects are unknown) is refused with why. Pure: the caller decides which versions need converting (the
 * cluster's discovery at install, `--kube-version` offline).
 * https://kubernetes.io/docs/reference/using-api/deprecation-guide/
 */
import type { KubeObject } from "./object.js";

/** Why an object cannot be converted faithfully. */
export class NotConvertible extends Error {}

/** What the user decided for what the old version left open. */
export interface ConvertOptions {
  /** `--webhook-side-effects`: what a webhook that declares no side-effect class (v1beta1's `Unknown`) is taken to have. */
  webhookSideEffects?: "None" | "NoneOnDryRun";
}

/** One object converted: the new object, and what the user should know about it. */
export interface Converted {
  object: KubeObject;
  from: string;
  notes: string[];
}

type Json = Record<string, unknown>;
type Rule = { from: string; kinds: readonly string[]; to: string; removedIn: string; convert: (o: Json, notes: string[], options: ConvertOptions) => Json };

const WORKLOADS = ["Deployment", "DaemonSet", "ReplicaSet", "StatefulSet"] as const;
const RBAC = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"] as const;
const WEBHOOKS = ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] as const;

const asObject = (v: unknown): Json | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const asList = (v: unknown): Json[] => (Array.isArray(v) ? v.map((x) => asObject(x) ?? {}) : []);
const clone = <T>(v: T): T => structuredClone(v);
const same = (o: Json) => o;

/** Every conversion, by the version it converts from. */
export const CONVERSIONS: readonly Rule[] = [
  { from: "apiextensions.k8s.io/v1beta1", kinds: ["CustomResourceDefinition"], to: "apiextensions.k8s.io/v1", removedIn: "1.22", convert: crd },
  ...["admissionregistration.k8s.io/v1beta1"].map((from) => ({ from, kinds: WEBHOOKS, to: "admissionregistration.k8s.io/v1", removedIn: "1.22", convert: webhooks })),
  { from: "rbac.authorization.k8s.io/v1beta1", kinds: RBAC, to: "rbac.authorization.k8s.io/v1", removedIn: "1.22", convert: same },
  { from: "policy/v1beta1", kinds: ["PodDisruptionBudget"], to: "policy/v1", removedIn: "1.25", convert: pdb },
  { from: "policy/v1beta1", kinds: ["PodSecurityPolicy"], to: "", removedIn: "1.25", convert: () => {
    throw new NotConvertible("PodSecurityPolicy was removed in Kubernetes 1.25 with no successor (Pod Security admission replaces it, configured per namespace); leave it out with --skip-kind PodSecurityPolicy");
  } },
  { from: "autoscaling/v2beta1", kinds: ["HorizontalPodAutoscaler"], to: "autoscaling/v2", removedIn: "1.25", convert: hpaV2beta1 },
  { from: "autoscaling/v2beta2", kinds: ["HorizontalPodAutoscaler"], to: "autoscaling/v2", removedIn: "1.26", convert: same },
  { from: "batch/v1beta1", kinds: ["CronJob"], to: "batch/v1", removedIn: "1.25", convert: same },
  { from: "networking.k8s.io/v1beta1", kinds: ["Ingress"], to: "networking.k8s.io/v1", removedIn: "1.22", convert: ingress },
  { from: "networking.k8s.io/v1beta1", kinds: ["IngressClass"], to: "networking.k8s.io/v1", removedIn: "1.22", convert: same },
  { from: "extensions/v1beta1", kinds: ["Ingress"], to: "networking.k8s.io/v1", removedIn: "1.22", convert: ingress },
  { from: "extensions/v1beta1", kinds: ["NetworkPolicy"], to: "networking.k8s.io/v1", removedIn: "1.16", convert: same },
  { from: "extensions/v1beta1", kinds: ["PodSecurityPolicy"], to: "", removedIn: "1.16", convert: () => {
    throw new NotConvertible("PodSecurityPolicy was removed in Kubernetes 1.25 with no successor (Pod Security admission replaces it, configured per namespace); leave it out with --skip-kind PodSecurityPolicy");
  } },
  ...(["extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"] as const).map((from) => ({ from, kinds: WORKLOADS, to: "apps/v1", removedIn: "1.16", convert: workload(from) })),
];

/** The rule for an object's apiVersion and kind, if it is one this module converts. */
export function conversionFor(apiVersion: string, kind: string): Rule | undefined {
  return CONVERSIONS.find((r) => r.from === apiVersion && r.kinds.includes(kind));
}

/** Whether Kubernetes `version` (`1.34`, `v1.34.2`) no longer serves the rule's version. */
export function removedBy(rule: Rule, version: string): boolean {
  const [major, minor] = parseMinor(version);
  const [rMajor, rMinor] = parseMinor(rule.removedIn);
  return major > rMajor || (major === rMajor && minor >= rMinor);
}

/** `1.34` → [1, 34]; anything else is an error in words. */
export function parseMinor(version: string): [number, number] {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(version.trim());
  if (!m) throw new NotConvertible(`"${version}" is not a Kubernetes version (e.g. 1.34)`);
  return [Number(m[1]), Number(m[2])];
}

/** Converts one object by its rule (throws {@link NotConvertible} with why). The input is left as it was. */
export function convertObject(object: KubeObject, options: ConvertOptions = {}): Converted | undefined {
  const rule = conversionFor(object.apiVersion, object.kind);
  if (!rule) return undefined;
  const notes: string[] = [];
  const converted = rule.convert(clone(object) as Json, notes, options);
  return { object: { ...converted, apiVersion: rule.to } as KubeObject, from: rule.from, notes };
}

/** A CRD's printer column: v1beta1's `JSONPath` is v1's `jsonPath`. */
function column(c: Json): Json {
  const { JSONPath, ...rest } = c;
  return JSONPath === undefined ? rest : { ...rest, jsonPath: JSONPath };
}

/**
 * apiextensions.k8s.io/v1beta1 → v1: the top-level `version`, `validation`, `subresources` and
 * `additionalPrinterColumns` move into each version; every version gets a structural schema; pruning is what v1
 * makes it (where v1beta1 kept unknown fields — its default — the schema says so with
 * `x-kubernetes-preserve-unknown-fields`); a webhook conversion's client config moves under `webhook`.
 */
function crd(o: Json, notes: string[]): Json {
  const spec = asObject(o.spec) ?? {};
  const { version, validation, subresources, additionalPrinterColumns, preserveUnknownFields, conversion, ...rest } = spec;
  let versions = asList(spec.versions);
  if (versions.length === 0) {
    if (typeof version !== "string") throw new NotConvertible("the CustomResourceDefinition names neither spec.version nor spec.versions");
    versions = [{ name: version, served: true, storage: true }];
  }
  const topSchema = asObject(asObject(validation)?.openAPIV3Schema);
  const keepUnknown = preserveUnknownFields !== false;
  const fixed: string[] = [];
  const out = versions.map((v) => {
    const own = asObject(asObject(v.schema)?.openAPIV3Schema);
    if (own && topSchema) throw new NotConvertible(`version ${String(v.name)} has a schema of its own beside spec.validation (v1beta1 refuses both)`);
    const schema = clone(own ?? topSchema);
    let openAPIV3Schema: Json;
    if (!schema) openAPIV3Schema = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    else openAPIV3Schema = structural(schema, "", fixed, keepUnknown);
    const columns = asList(v.additionalPrinterColumns ?? additionalPrinterColumns).map(column);
    const sub = v.subresources ?? subresources;
    const { schema: _s, additionalPrinterColumns: _c, subresources: _r, ...plain } = v;
    return { ...plain, schema: { openAPIV3Schema }, ...(sub !== undefined && { subresources: clone(sub) }), ...(columns.length > 0 && { additionalPrinterColumns: columns }) };
  });
  if (keepUnknown && (topSchema || versions.some((v) => asObject(v.schema)))) notes.push("its custom resources kept unknown fields (v1beta1's default): each object of the schema keeps them with x-kubernetes-preserve-unknown-fields");
  if (fixed.length > 0) notes.push(`its schema made structural: ${fixed.slice(0, 4).join("; ")}${fixed.length > 4 ? `; and ${fixed.length - 4} more` : ""}`);
  const conv = asObject(conversion);
  let newConversion: Json | undefined;
  if (conv) {
    const { webhookClientConfig, conversionReviewVersions, strategy, ...other } = conv;
    newConversion = strategy === "Webhook"
      ? { ...other, strategy, webhook: { ...(webhookClientConfig !== undefined && { clientConfig: webhookClientConfig }), conversionReviewVersions: conversionReviewVersions ?? ["v1beta1"] } }
      : { ...other, ...(strategy !== undefined && { strategy }) };
  }
  return { ...o, spec: { ...rest, versions: out, ...(newConversion && { conversion: newConversion }) } };
}

/**
 * A schema made structural (what v1 requires): every node says its type — `object` where it has properties or
 * additionalProperties, `array` where it has items — and a node that says nothing at all keeps whatever it holds.
 * Each change is listed in `fixed` with its path. With `keepUnknown` (v1beta1 pruned nothing), every object keeps
 * the fields its schema does not name.
 */
function structural(node: Json, path: string, fixed: string[], keepUnknown: boolean): Json {
  const out: Json = { ...node };
  const where = path || "the root";
  const intOrString = out["x-kubernetes-int-or-string"] === true;
  const open = out["x-kubernetes-preserve-unknown-fields"] === true;
  if (out.type === undefined && !intOrString) {
    if (out.properties !== undefined || out.additionalProperties !== undefined) {
      out.type = "object";
      fixed.push(`${where}: type object`);
    } else if (out.items !== undefined) {
      out.type = "array";
      fixed.push(`${where}: type array`);
    } else if (!open && !["allOf", "anyOf", "oneOf", "not"].some((k) => out[k] !== undefined)) {
      out["x-kubernetes-preserve-unknown-fields"] = true;
      fixed.push(`${where}: no type, kept as it is (x-kubernetes-preserve-unknown-fields)`);
    }
  }
  if (keepUnknown && out.type === "object" && out.additionalProperties === undefined) out["x-kubernetes-preserve-unknown-fields"] = true;
  const properties = asObject(out.properties);
  if (properties) out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, asObject(v) ? structural(v as Json, `${path}.${k}`, fixed, keepUnknown) : v]));
  const items = asObject(out.items);
  if (items) out.items = structural(items, `${path}[]`, fixed, keepUnknown);
  const additional = asObject(out.additionalProperties);
  if (additional) out.additionalProperties = structural(additional, `${path}.*`, fixed, keepUnknown);
  return out;
}

/**
 * admissionregistration.k8s.io/v1beta1 → v1: the defaults that changed are written out as v1beta1 had them
 * (failurePolicy Ignore, matchPolicy Exact, timeoutSeconds 30, admissionReviewVersions [v1beta1]); a webhook whose
 * side effects are not None or NoneOnDryRun (v1beta1's default is Unknown, which v1 refuses) is converted only with
 * the user's word (`--webhook-side-effects`).
 */
function webhooks(o: Json, notes: string[], options: ConvertOptions): Json {
  const list = asList(o.webhooks).map((w) => {
    const declared = w.sideEffects;
    let sideEffects = declared;
    if (declared !== "None" && declared !== "NoneOnDryRun") {
      if (!options.webhookSideEffects) {
        throw new NotConvertible(`webhook ${String(w.name)} has sideEffects ${declared === undefined ? "unset (v1beta1's Unknown)" : String(declared)}, which admissionregistration.k8s.io/v1 refuses; if it changes nothing outside the request, pass --webhook-side-effects None`);
      }
      sideEffects = options.webhookSideEffects;
      notes.push(`webhook ${String(w.name)}: sideEffects ${options.webhookSideEffects} (--webhook-side-effects)`);
    }
    return {
      ...w,
      sideEffects,
      admissionReviewVersions: w.admissionReviewVersions ?? ["v1beta1"],
      timeoutSeconds: w.timeoutSeconds ?? 30,
      matchPolicy: w.matchPolicy ?? "Exact",
      failurePolicy: w.failurePolicy ?? "Ignore",
    };
  });
  return { ...o, ...(o.webhooks !== undefined && { webhooks: list }) };
}

/** policy/v1beta1 → v1 PodDisruptionBudget: an empty selector selected no pod; in v1 it selects every pod of the namespace. */
function pdb(o: Json, notes: string[]): Json {
  const spec = asObject(o.spec);
  const selector = asObject(spec?.selector);
  if (spec && selector && Object.keys(selector).length === 0) {
    const { selector: _, ...rest } = spec;
    notes.push("its empty selector selected no pods in v1beta1 and would select every pod of the namespace in v1: left out, as v1beta1 meant");
    return { ...o, spec: rest };
  }
  return o;
}

/** autoscaling/v2beta1 → v2: each metric's target (`targetAverageUtilization`, `targetAverageValue`, `targetValue`) becomes a `target`. */
function hpaV2beta1(o: Json): Json {
  const spec = asObject(o.spec);
  if (!spec?.metrics) return o;
  const target = (m: Json): Json => {
    if (m.targetAverageUtilization !== undefined) return { type: "Utilization", averageUtilization: m.targetAverageUtilization };
    if (m.targetAverageValue !== undefined) return { type: "AverageValue", averageValue: m.targetAverageValue };
    if (m.averageValue !== undefined) return { type: "AverageValue", averageValue: m.averageValue };
    if (m.targetValue !== undefined) return { type: "Value", value: m.targetValue };
    throw new NotConvertible(`a ${String(m.name ?? m.metricName ?? "metric")} metric names no target`);
  };
  const metrics = asList(spec.metrics).map((m) => {
    const type = m.type;
    if (type === "Resource") {
      const r = asObject(m.resource) ?? {};
      return { type, resource: { name: r.name, target: target(r) } };
    }
    if (type === "ContainerResource") {
      const r = asObject(m.containerResource) ?? {};
      return { type, containerResource: { name: r.name, container: r.container, target: target(r) } };
    }
    if (type === "Pods") {
      const p = asObject(m.pods) ?? {};
      return { type, pods: { metric: { name: p.metricName, ...(p.selector !== undefined && { selector: p.selector }) }, target: target(p) } };
    }
    if (type === "Object") {
      const b = asObject(m.object) ?? {};
      return { type, object: { describedObject: b.target, metric: { name: b.metricName, ...(b.selector !== undefined && { selector: b.selector }) }, target: target(b) } };
    }
    if (type === "External") {
      const e = asObject(m.external) ?? {};
      return { type, external: { metric: { name: e.metricName, ...(e.metricSelector !== undefined && { selector: e.metricSelector }) }, target: target(e) } };
    }
    throw new NotConvertible(`a metric of type ${String(type)} is not one autoscaling/v2beta1 had`);
  });
  return { ...o, spec: { ...spec, metrics } };
}

/** An Ingress backend: `serviceName`/`servicePort` become `service.name`/`service.port.number|name`. */
function backend(b: Json): Json {
  if (b.resource !== undefined) return { resource: b.resource };
  const port = b.servicePort;
  return {
    service: {
      name: b.serviceName,
      port: typeof port === "number" || (typeof port === "string" && /^\d+$/.test(port)) ? { number: Number(port) } : { name: port },
    },
  };
}

/** extensions/v1beta1 and networking.k8s.io/v1beta1 → networking.k8s.io/v1 Ingress: `backend` is `defaultBackend`, each path says its type. */
function ingress(o: Json): Json {
  const spec = asObject(o.spec);
  if (!spec) return o;
  const { backend: dflt, rules, ...rest } = spec;
  const converted = asList(rules).map((r) => {
    const http = asObject(r.http);
    if (!http) return r;
    return { ...r, http: { ...http, paths: asList(http.paths).map((p) => ({ ...p, pathType: p.pathType ?? "ImplementationSpecific", ...(asObject(p.backend) && { backend: backend(p.backend as Json) }) })) } };
  });
  return { ...o, spec: { ...rest, ...(asObject(dflt) && { defaultBackend: backend(dflt as Json) }), ...(rules !== undefined && { rules: converted }) } };
}

/** Largest int32: extensions/v1beta1's "no limit" for a Deployment's history and progress deadline. */
const NO_LIMIT = 2147483647;

/**
 * A Deployment's defaults where the old version's differ from apps/v1's: extensions/v1beta1 rolled one pod at a
 * time (maxUnavailable 1, maxSurge 1) and kept every ReplicaSet with no progress deadline; apps/v1beta1 kept 2.
 */
function deploymentDefaults(from: string, spec: Json): Json {
  const extensions = from === "extensions/v1beta1";
  const strategy = asObject(spec.strategy);
  const rolling = strategy === undefined || strategy.type === undefined || strategy.type === "RollingUpdate";
  const update = asObject(strategy?.rollingUpdate) ?? {};
  return {
    ...(extensions && rolling && { strategy: { ...strategy, type: "RollingUpdate", rollingUpdate: { maxUnavailable: update.maxUnavailable ?? 1, maxSurge: update.maxSurge ?? 1 } } }),
    revisionHistoryLimit: spec.revisionHistoryLimit ?? (extensions ? NO_LIMIT : 2),
    ...(extensions && { progressDeadlineSeconds: spec.progressDeadlineSeconds ?? NO_LIMIT }),
  };
}

/**
 * The workloads of extensions/v1beta1, apps/v1beta1 and apps/v1beta2 → apps/v1: the selector, which the old versions
 * took from the template's labels, is written out; update strategies whose default changed are written out as the
 * old version had them (a DaemonSet of extensions/v1beta1 and a StatefulSet of apps/v1beta1: OnDelete). `rollbackTo`
 * has no counterpart.
 */
function workload(from: string): (o: Json, notes: string[]) => Json {
  return (o, notes) => {
    const spec = asObject(o.spec) ?? {};
    if (spec.rollbackTo !== undefined) throw new NotConvertible("spec.rollbackTo has no counterpart in apps/v1 (roll back with kubectl rollout undo)");
    const { templateGeneration: _, ...rest } = spec;
    const out: Json = { ...rest };
    if (out.selector === undefined) {
      const labels = asObject(asObject(asObject(spec.template)?.metadata)?.labels);
      if (!labels || Object.keys(labels).length === 0) throw new NotConvertible("it has no selector and its pod template no labels to take one from (apps/v1 needs a selector)");
      out.selector = { matchLabels: clone(labels) };
      notes.push("its selector written out from the pod template's labels");
    }
    const kind = o.kind;
    const onDelete = (kind === "DaemonSet" && from === "extensions/v1beta1") || (kind === "StatefulSet" && from === "apps/v1beta1");
    if (onDelete && out.updateStrategy === undefined) out.updateStrategy = { type: "OnDelete" };
    if (kind === "Deployment" && from !== "apps/v1beta2") Object.assign(out, deploymentDefaults(from, out));
    return { ...o, spec: out };
  };
}
