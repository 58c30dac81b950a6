/**
 * Applying an install plan: objects one after another in plan order, server-side, each reported as created,
 * configured, unchanged or failed. Objects of a kind a CRD of this plan defines wait until that CRD is
 * Established. One failed object does not stop the others; a cluster that stops answering does.
 */
import { conversionFor } from "./convert.js";
import { setTimeout as sleep } from "node:timers/promises";
import { stoppedBy } from "../util/deadline.js";
import { AirgapError } from "../errors.js";
import type { ApplyOutcome, Cluster } from "./cluster.js";
import { apiGroup, objectKey, type KubeObject } from "./object.js";
import type { PlannedObject } from "./plan.js";

/** What happened to one object. */
export interface AppliedObject {
  planned: PlannedObject;
  /** The object as applied: namespace defaulted, generated name filled in. */
  object: KubeObject;
  key: string;
  outcome: ApplyOutcome | "failed";
  /** The API's message when it failed. */
  message?: string;
}

/** Events while applying. */
export type ApplyEvent =
  | { type: "applied"; key: string; outcome: ApplyOutcome | "failed"; message?: string; file: string }
  | { type: "crd-wait"; crd: string; kind: string };

/** How to apply. */
export interface ApplyOptions {
  /** `--force-conflicts`: take over fields another field manager owns. */
  force: boolean;
  /** When waiting for CRDs gives up (epoch ms). */
  deadline: number;
  onEvent?: (e: ApplyEvent) => void;
  signal?: AbortSignal;
  /** Masks secret values in API messages. */
  redact?: (text: string) => string;
}

const CRD_API = "apiextensions.k8s.io/v1";

/** Applies every object of the plan in order; returns each object's outcome. */
export async function applyPlan(cluster: Cluster, plan: readonly PlannedObject[], options: ApplyOptions): Promise<AppliedObject[]> {
  const redact = options.redact ?? ((t: string) => t);
  /** group/Kind → the CRD (of this plan) that defines it, until it is seen Established. */
  const pending = new Map<string, string>();
  const results: AppliedObject[] = [];
  for (const planned of plan) {
    if (options.signal?.aborted) throw stoppedBy(options.signal, "install cancelled; rerun it: applying again is safe");
    const object = structuredClone(planned.object);
    let key = objectKey(object);
    try {
      const kindKey = `${apiGroup(object.apiVersion)}/${object.kind}`;
      const crd = pending.get(kindKey);
      if (crd) {
        options.onEvent?.({ type: "crd-wait", crd, kind: object.kind });
        await waitEstablished(cluster, crd, options);
        pending.delete(kindKey);
      }
      // A kind whose CRD this plan applied may reach the API server's discovery a moment after Established.
      const scope = crd ? await servedScope(cluster, object, options) : await cluster.scope(object.apiVersion, object.kind);
      if (!scope) {
        const successor = conversionFor(object.apiVersion, object.kind)?.to;
        throw new AirgapError("KUBE_API", `the cluster does not serve ${object.kind} (${object.apiVersion})${successor ? `: removed from Kubernetes; --convert-apis converts it to ${successor}` : ""}`);
      }
      if (scope === "namespaced" && !object.metadata.namespace) object.metadata.namespace = planned.namespace ?? cluster.defaultNamespace;
      if (scope === "cluster") delete object.metadata.namespace;
      key = objectKey(object);
      let outcome: ApplyOutcome;
      if (object.metadata.name === undefined) {
        const made = await cluster.create(object);
        object.metadata.name = made.metadata.name;
        key = objectKey(object);
        outcome = "created";
      } else {
        outcome = await cluster.apply(object, options.force);
      }
      if (object.kind === "CustomResourceDefinition") {
        const defined = definedKind(object);
        if (defined) pending.set(defined, object.metadata.name!);
      }
      results.push({ planned, object, key, outcome });
      options.onEvent?.({ type: "applied", key, outcome, file: planned.file });
    } catch (err) {
      if (!(err instanceof AirgapError) || (err.code !== "KUBE_API" && err.code !== "NOT_READY")) throw err;
      let message = redact(err.message);
      if (err.status === 409 && /conflict/i.test(message)) message += " (another field manager owns these fields: --force-conflicts takes them over)";
      results.push({ planned, object, key, outcome: "failed", message });
      options.onEvent?.({ type: "applied", key, outcome: "failed", message, file: planned.file });
    }
  }
  return results;
}

/** `group/Kind` of the objects a CRD defines. */
function definedKind(crd: KubeObject): string | undefined {
  const spec = crd.spec as { group?: unknown; names?: { kind?: unknown } } | undefined;
  return typeof spec?.group === "string" && typeof spec.names?.kind === "string" ? `${spec.group}/${spec.names.kind}` : undefined;
}

/** The scope of a kind just defined by a CRD: asked again for a few seconds while discovery catches up. */
async function servedScope(cluster: Cluster, object: KubeObject, options: ApplyOptions): Promise<"namespaced" | "cluster" | undefined> {
  const until = Math.min(options.deadline, Date.now() + 15_000);
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const scope = await cluster.scope(object.apiVersion, object.kind);
    if (scope || Date.now() + delay > until) return scope;
    await sleep(delay, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    if (options.signal?.aborted) throw stoppedBy(options.signal, "install cancelled; rerun it: applying again is safe");
  }
}

/** Polls a CRD until its Established condition is True. */
async function waitEstablished(cluster: Cluster, name: string, options: ApplyOptions): Promise<void> {
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    const crd = await cluster.get(CRD_API, "CustomResourceDefinition", name);
    const conditions = ((crd?.status as { conditions?: Array<{ type?: string; status?: string }> } | undefined)?.conditions) ?? [];
    if (conditions.some((c) => c.type === "Established" && c.status === "True")) return;
    if (Date.now() + delay > options.deadline) {
      throw new AirgapError("NOT_READY", `CustomResourceDefinition ${name} did not become Established in time`);
    }
    await sleep(delay, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    if (options.signal?.aborted) throw stoppedBy(options.signal, "install cancelled; rerun it: applying again is safe");
  }
}
