/**
 * Each conversion of kube/convert.ts against the field lists of the Kubernetes API reference (v1beta1 → v1 of
 * CustomResourceDefinition and the webhook configurations, autoscaling v2beta1 → v2, Ingress, PodDisruptionBudget,
 * the old workloads), what cannot be converted, and the rendered files a conversion rewrites.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { conversionFor, convertObject, NotConvertible, removedBy } from "../../src/kube/convert.js";
import type { KubeObject } from "../../src/kube/object.js";
import { documentLines, planInstall } from "../../src/kube/plan.js";
import { loadDocuments } from "../../src/kube/yaml.js";
import { convertApis, removedIn } from "../../src/ops/convert-apis.js";
import { AirgapError } from "../../src/errors.js";

const obj = (o: Record<string, unknown>) => o as KubeObject;
const convert = (o: Record<string, unknown>, options = {}) => {
  const c = convertObject(obj(o), options);
  assert.ok(c, `${String(o.apiVersion)} ${String(o.kind)} has a conversion`);
  return c;
};

describe("API conversions", () => {
  test("CustomResourceDefinition v1beta1 → v1: version, schema, subresources and printer columns move into each version", () => {
    const c = convert({
      apiVersion: "apiextensions.k8s.io/v1beta1", kind: "CustomResourceDefinition", metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com", version: "v1alpha1", scope: "Namespaced", names: { kind: "Widget", plural: "widgets" },
        validation: { openAPIV3Schema: { properties: { spec: { properties: { size: { type: "integer", minimum: 1 }, tags: { items: { type: "string" } } }, required: ["size"] } } } },
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: "Size", type: "integer", JSONPath: ".spec.size" }],
        conversion: { strategy: "Webhook", webhookClientConfig: { service: { name: "conv", namespace: "sys", path: "/convert" } } },
      },
    });
    const spec = c.object.spec as Record<string, unknown>;
    assert.equal(c.object.apiVersion, "apiextensions.k8s.io/v1");
    for (const gone of ["version", "validation", "subresources", "additionalPrinterColumns", "preserveUnknownFields"]) assert.equal(spec[gone], undefined, gone);
    type Schema = { type?: string; properties: Record<string, Schema>; [k: string]: unknown };
    const [v] = spec.versions as Array<{ name: string; served: boolean; storage: boolean; subresources: unknown; additionalPrinterColumns: unknown; schema: { openAPIV3Schema: Schema } }>;
    assert.deepEqual({ name: v!.name, served: v!.served, storage: v!.storage }, { name: "v1alpha1", served: true, storage: true });
    assert.deepEqual(v!.subresources, { status: {} });
    assert.deepEqual(v!.additionalPrinterColumns, [{ name: "Size", type: "integer", jsonPath: ".spec.size" }]);
    const schema = v!.schema.openAPIV3Schema;
    assert.equal(schema.type, "object", "structural: the root says its type");
    assert.equal(schema.properties.spec!.type, "object");
    assert.equal(schema.properties.spec!["x-kubernetes-preserve-unknown-fields"], true, "v1beta1 pruned nothing, at any depth");
    assert.equal(schema.properties.spec!.properties.tags!.type, "array");
    assert.deepEqual(schema.properties.spec!.properties.size, { type: "integer", minimum: 1 }, "constraints kept");
    assert.equal(schema["x-kubernetes-preserve-unknown-fields"], true, "v1beta1 kept unknown fields (preserveUnknownFields defaulted to true)");
    assert.deepEqual(spec.conversion, { strategy: "Webhook", webhook: { clientConfig: { service: { name: "conv", namespace: "sys", path: "/convert" } }, conversionReviewVersions: ["v1beta1"] } });
    assert.ok(c.notes.some((n) => /kept unknown fields/.test(n)));
    assert.ok(c.notes.some((n) => /schema made structural: the root: type object/.test(n)), c.notes.join("\n"));
  });

  test("CustomResourceDefinition: pruning kept when v1beta1 pruned, a version without schema keeps what it holds, both schemas refused", () => {
    const pruned = convert({
      apiVersion: "apiextensions.k8s.io/v1beta1", kind: "CustomResourceDefinition", metadata: { name: "a.x" },
      spec: { group: "x", names: { kind: "A", plural: "a" }, preserveUnknownFields: false, versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object" } } }, { name: "v2", served: true, storage: false }] },
    });
    const versions = (pruned.object.spec as { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> }).versions;
    assert.deepEqual(versions[0]!.schema.openAPIV3Schema, { type: "object" }, "pruning as before: nothing added");
    assert.deepEqual(versions[1]!.schema.openAPIV3Schema, { type: "object", "x-kubernetes-preserve-unknown-fields": true });
    assert.throws(() => convertObject(obj({
      apiVersion: "apiextensions.k8s.io/v1beta1", kind: "CustomResourceDefinition", metadata: { name: "b.x" },
      spec: { group: "x", names: { kind: "B", plural: "b" }, validation: { openAPIV3Schema: { type: "object" } }, versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object" } } }] },
    })), NotConvertible);
  });

  test("webhook configurations v1beta1 → v1: the defaults that changed written out; Unknown side effects only with the user's word", () => {
    const hook = { name: "check.example.com", clientConfig: { service: { name: "s", namespace: "n" } }, rules: [] };
    const c = convert({ apiVersion: "admissionregistration.k8s.io/v1beta1", kind: "ValidatingWebhookConfiguration", metadata: { name: "v" }, webhooks: [{ ...hook, sideEffects: "None" }] });
    assert.deepEqual((c.object.webhooks as unknown[])[0], { ...hook, sideEffects: "None", admissionReviewVersions: ["v1beta1"], timeoutSeconds: 30, matchPolicy: "Exact", failurePolicy: "Ignore" });
    const unknown = { apiVersion: "admissionregistration.k8s.io/v1beta1", kind: "MutatingWebhookConfiguration", metadata: { name: "m" }, webhooks: [{ ...hook, failurePolicy: "Fail" }] };
    assert.throws(() => convertObject(obj(unknown)), /webhook check\.example\.com has sideEffects unset \(v1beta1's Unknown\), which admissionregistration\.k8s\.io\/v1 refuses; .*--webhook-side-effects None/);
    const told = convert(unknown, { webhookSideEffects: "None" });
    const w = (told.object.webhooks as Array<Record<string, unknown>>)[0]!;
    assert.equal(w.sideEffects, "None");
    assert.equal(w.failurePolicy, "Fail", "what was written stays");
  });

  test("HorizontalPodAutoscaler v2beta1 → v2: each metric's target becomes a target", () => {
    const c = convert({
      apiVersion: "autoscaling/v2beta1", kind: "HorizontalPodAutoscaler", metadata: { name: "h" },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "d" }, minReplicas: 1, maxReplicas: 5,
        metrics: [
          { type: "Resource", resource: { name: "cpu", targetAverageUtilization: 70 } },
          { type: "Resource", resource: { name: "memory", targetAverageValue: "500Mi" } },
          { type: "Pods", pods: { metricName: "qps", targetAverageValue: "100" } },
          { type: "Object", object: { target: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "main" }, metricName: "hits", targetValue: "2k" } },
          { type: "External", external: { metricName: "queue", metricSelector: { matchLabels: { q: "a" } }, targetAverageValue: "30" } },
        ],
      },
    });
    assert.equal(c.object.apiVersion, "autoscaling/v2");
    assert.deepEqual((c.object.spec as { metrics: unknown[] }).metrics, [
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
      { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "500Mi" } } },
      { type: "Pods", pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "100" } } },
      { type: "Object", object: { describedObject: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "main" }, metric: { name: "hits" }, target: { type: "Value", value: "2k" } } },
      { type: "External", external: { metric: { name: "queue", selector: { matchLabels: { q: "a" } } }, target: { type: "AverageValue", averageValue: "30" } } },
    ]);
    const beta2 = convert({ apiVersion: "autoscaling/v2beta2", kind: "HorizontalPodAutoscaler", metadata: { name: "h" }, spec: { maxReplicas: 2 } });
    assert.deepEqual(beta2.object, { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "h" }, spec: { maxReplicas: 2 } }, "v2beta2 is v2's shape");
  });

  test("Ingress → networking.k8s.io/v1: the default backend and each path's backend, pathType made explicit", () => {
    for (const apiVersion of ["extensions/v1beta1", "networking.k8s.io/v1beta1"]) {
      const c = convert({
        apiVersion, kind: "Ingress", metadata: { name: "i" },
        spec: { backend: { serviceName: "default", servicePort: 80 }, rules: [{ host: "a.example.com", http: { paths: [{ path: "/api", backend: { serviceName: "api", servicePort: "http" } }, { path: "/x", pathType: "Prefix", backend: { serviceName: "x", servicePort: "8080" } }] } }] },
      });
      assert.equal(c.object.apiVersion, "networking.k8s.io/v1");
      assert.deepEqual(c.object.spec, {
        defaultBackend: { service: { name: "default", port: { number: 80 } } },
        rules: [{ host: "a.example.com", http: { paths: [
          { path: "/api", pathType: "ImplementationSpecific", backend: { service: { name: "api", port: { name: "http" } } } },
          { path: "/x", pathType: "Prefix", backend: { service: { name: "x", port: { number: 8080 } } } },
        ] } }],
      });
    }
  });

  test("PodDisruptionBudget, CronJob, RBAC: apiVersion, and an empty PDB selector kept meaning none", () => {
    const pdb = convert({ apiVersion: "policy/v1beta1", kind: "PodDisruptionBudget", metadata: { name: "p" }, spec: { minAvailable: 1, selector: {} } });
    assert.deepEqual(pdb.object, { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "p" }, spec: { minAvailable: 1 } });
    assert.match(pdb.notes[0]!, /empty selector selected no pods in v1beta1/);
    const kept = convert({ apiVersion: "policy/v1beta1", kind: "PodDisruptionBudget", metadata: { name: "p" }, spec: { selector: { matchLabels: { a: "b" } } } });
    assert.deepEqual(kept.object.spec, { selector: { matchLabels: { a: "b" } } });
    assert.equal(convert({ apiVersion: "batch/v1beta1", kind: "CronJob", metadata: { name: "c" }, spec: { schedule: "* * * * *" } }).object.apiVersion, "batch/v1");
    for (const kind of ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]) assert.equal(convert({ apiVersion: "rbac.authorization.k8s.io/v1beta1", kind, metadata: { name: "r" } }).object.apiVersion, "rbac.authorization.k8s.io/v1");
    assert.throws(() => convertObject(obj({ apiVersion: "policy/v1beta1", kind: "PodSecurityPolicy", metadata: { name: "psp" } })), /PodSecurityPolicy was removed in Kubernetes 1\.25 with no successor/);
  });

  test("old workloads → apps/v1: the selector from the template's labels, the old defaults written out", () => {
    const template = { metadata: { labels: { app: "w" } }, spec: { containers: [{ name: "c", image: "busybox" }] } };
    const d = convert({ apiVersion: "extensions/v1beta1", kind: "Deployment", metadata: { name: "d" }, spec: { replicas: 2, template, rollbackTo: undefined } });
    assert.equal(d.object.apiVersion, "apps/v1");
    assert.deepEqual(d.object.spec, {
      replicas: 2, template, rollbackTo: undefined, selector: { matchLabels: { app: "w" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } }, revisionHistoryLimit: 2147483647, progressDeadlineSeconds: 2147483647,
    });
    const ds = convert({ apiVersion: "extensions/v1beta1", kind: "DaemonSet", metadata: { name: "ds" }, spec: { template, templateGeneration: 3 } });
    assert.deepEqual(ds.object.spec, { template, selector: { matchLabels: { app: "w" } }, updateStrategy: { type: "OnDelete" } });
    const sts = convert({ apiVersion: "apps/v1beta2", kind: "StatefulSet", metadata: { name: "s" }, spec: { serviceName: "s", selector: { matchLabels: { app: "w" } }, template } });
    assert.deepEqual(sts.object.spec, { serviceName: "s", selector: { matchLabels: { app: "w" } }, template }, "v1beta2 had v1's defaults");
    assert.throws(() => convertObject(obj({ apiVersion: "apps/v1beta1", kind: "Deployment", metadata: { name: "d" }, spec: { template: { spec: {} } } })), /no selector and its pod template no labels/);
    assert.throws(() => convertObject(obj({ apiVersion: "apps/v1beta1", kind: "Deployment", metadata: { name: "d" }, spec: { template, rollbackTo: { revision: 1 } } })), /rollbackTo has no counterpart/);
  });

  test("which versions a Kubernetes version no longer serves", () => {
    const rule = (v: string, k: string) => conversionFor(v, k)!;
    assert.equal(removedBy(rule("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"), "1.21"), false);
    assert.equal(removedBy(rule("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"), "v1.22.0"), true);
    assert.equal(removedBy(rule("autoscaling/v2beta2", "HorizontalPodAutoscaler"), "1.25"), false);
    assert.equal(removedBy(rule("autoscaling/v2beta2", "HorizontalPodAutoscaler"), "1.26"), true);
    assert.equal(conversionFor("apps/v1", "Deployment"), undefined, "current versions are left alone");
  });
});

describe("convertApis", () => {
  const text = [
    "# the product's CRD and its ingress",
    "apiVersion: v1",
    "kind: Namespace",
    "metadata: {name: shop}",
    "---",
    "# old",
    "apiVersion: extensions/v1beta1",
    "kind: Ingress",
    "metadata: {name: web, namespace: shop}",
    "spec:",
    "  backend: {serviceName: web, servicePort: 80}",
    "---",
    "apiVersion: v1",
    "kind: ConfigMap",
    "metadata: {name: keep, namespace: shop}   # stays byte for byte",
    "data: {a: b}",
    "",
  ].join("\n");

  test("the converted document replaced in its file, every other byte as it was; said per kind", async () => {
    const files = [{ path: "app.yaml", text }];
    const converted = await convertApis(planInstall(files), files, removedIn("1.34"));
    assert.deepEqual(converted.kinds, [{ kind: "Ingress", from: "extensions/v1beta1", to: "networking.k8s.io/v1", count: 1 }]);
    const out = converted.files[0]!.text;
    assert.ok(out.startsWith(text.slice(0, text.indexOf("---\n") + 4)), "the first document untouched");
    assert.ok(out.endsWith(text.slice(text.lastIndexOf("---\n"))), "the last document untouched, comment and final newline included");
    const docs = loadDocuments(out, "app.yaml") as KubeObject[];
    assert.deepEqual(docs.map((d) => d.apiVersion), ["v1", "networking.k8s.io/v1", "v1"]);
    assert.deepEqual(docs[1]!.spec, { defaultBackend: { service: { name: "web", port: { number: 80 } } } });
    assert.equal(converted.plan[1]!.object.apiVersion, "networking.k8s.io/v1", "the plan applied is the converted one");
    assert.deepEqual(documentLines(out).length, 3);
  });

  test("nothing gone, nothing changed; what cannot be converted is named with file:line before anything is applied", async () => {
    const files = [{ path: "app.yaml", text }];
    const none = await convertApis(planInstall(files), files, removedIn("1.21"));
    assert.equal(none.files[0]!.text, text);
    assert.deepEqual(none.kinds, []);
    const psp = [{ path: "psp.yaml", text: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: restricted}\n" }];
    await assert.rejects(convertApis(planInstall(psp), psp, removedIn("1.34")), (err: AirgapError) => {
      assert.equal(err.code, "INVALID_MANIFEST");
      assert.deepEqual({ file: err.problems[0]!.file, line: err.problems[0]!.line, text: err.problems[0]!.text }, { file: "psp.yaml", line: 5, text: "PodSecurityPolicy/restricted (policy/v1beta1)" });
      return true;
    });
  });

  test("a List's converted item: the List is written again, a List", async () => {
    const files = [{ path: "list.yaml", text: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1beta1\n  kind: CronJob\n  metadata: {name: c}\n  spec: {schedule: '@daily'}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: m}\n" }];
    const converted = await convertApis(planInstall(files), files, removedIn("1.34"));
    const [list] = loadDocuments(converted.files[0]!.text, "list.yaml") as Array<{ kind: string; items: KubeObject[] }>;
    assert.equal(list!.kind, "List");
    assert.deepEqual(list!.items.map((i) => `${i.apiVersion} ${i.kind}`), ["batch/v1 CronJob", "v1 ConfigMap"]);
  });
});
