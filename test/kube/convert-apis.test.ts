/**
 * `--convert-apis` against a real control plane (Kubernetes 1.34) whose node runs the pods: a product whose
 * manifests were written for Kubernetes 1.19 — a CRD of apiextensions.k8s.io/v1beta1 with validation, a status
 * subresource, printer columns and a webhook conversion block, a CR of it, a webhook configuration, ClusterRole and
 * binding of rbac v1beta1, a PodDisruptionBudget, an HPA of autoscaling/v2beta1 with resource and pods metrics, an
 * Ingress of extensions/v1beta1 with a default backend, a CronJob of batch/v1beta1, a Deployment of
 * extensions/v1beta1 — installs with every workload ready, the converted CRD's schema refuses a bad CR as the
 * original did, a reinstall changes nothing, and uninstall removes everything.
 */
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadDocuments } from "../../src/kube/yaml.js";
import { runCli } from "../helpers/cli.js";
import { clusterCase, type ClusterCase } from "../helpers/cluster-case.js";
import { skipWithoutControlPlane, type ControlPlane } from "../helpers/control-plane.js";
import { webServer } from "../helpers/images.js";
import type { TestRegistry } from "../helpers/registry.js";

/** The product as a 1.19 cluster took it (kubectl apply -f). */
function manifests(image: string): Record<string, string> {
  return {
    "1-crd.yaml": `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  version: v1alpha1
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  subresources:
    status: {}
  additionalPrinterColumns:
  - name: Size
    type: integer
    JSONPath: .spec.size
  validation:
    openAPIV3Schema:
      properties:
        spec:
          required: [size]
          properties:
            size: {type: integer, minimum: 1}
            colour: {type: string, enum: [red, blue]}
  conversion:
    strategy: Webhook
    webhookClientConfig:
      service: {name: widget-converter, namespace: shop, path: /convert}
`,
    "2-rbac.yaml": `apiVersion: rbac.authorization.k8s.io/v1beta1
kind: ClusterRole
metadata: {name: widget-reader}
rules:
- apiGroups: [example.com]
  resources: [widgets]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1beta1
kind: ClusterRoleBinding
metadata: {name: widget-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: widget-reader}
subjects:
- {kind: ServiceAccount, name: default, namespace: shop}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: ValidatingWebhookConfiguration
metadata: {name: widget-check}
webhooks:
- name: widget-check.example.com
  clientConfig:
    service: {name: widget-check, namespace: shop, path: /validate}
  rules:
  - {apiGroups: [example.com], apiVersions: ["*"], operations: [CREATE], resources: [widgets]}
`,
    "3-app.yaml": `apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  backend: {serviceName: web, servicePort: 80}
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        backend: {serviceName: web, servicePort: 80}
---
apiVersion: autoscaling/v2beta1
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, targetAverageUtilization: 70}
  - type: Pods
    pods: {metricName: requests_per_second, targetAverageValue: "100"}
---
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: tidy, namespace: shop}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: tidy, image: "${image}"}]
---
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: first, namespace: shop}
spec: {size: 3, colour: red}
`,
  };
}


const UNAVAILABLE = await skipWithoutControlPlane("the conversion tests");

describe("--convert-apis: a product written for Kubernetes 1.19 on Kubernetes 1.34", { skip: UNAVAILABLE ?? false }, () => {
  let target: TestRegistry;
  let work: string;
  let bundle: string;
  let folder: string;
  let cluster: ControlPlane;
  let started: ClusterCase | undefined;
  const install = (...more: string[]) => runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, ...more]);
  const get = async (path: string) => {
    const r = await cluster.api("GET", path);
    return r.status === 200 ? r.body : undefined;
  };

  before(async () => {
    started = await clusterCase("convert", { "shop/web:1": webServer() }, (source) => manifests(`${source}/shop/web:1`));
    ({ target, work, bundle, cluster, manifests: folder } = started);
  });
  after(() => started?.stop());

  test("without the flag: the preflight names the removed versions and --convert-apis; nothing is applied", async () => {
    const r = await install();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /apiextensions\.k8s\.io\/v1beta1 \(CustomResourceDefinition\): 1 object needs it.*removed from Kubernetes, --convert-apis converts to apiextensions\.k8s\.io\/v1/);
    assert.match(r.stderr, /convert what was written for an older Kubernetes with --convert-apis/);
    assert.equal(await get("/api/v1/namespaces/shop"), undefined);
    const pre = await runCli(["preflight", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--convert-apis", "--webhook-side-effects", "None"]);
    assert.equal(pre.code, 0, pre.stderr);
    assert.match(`${pre.stdout}${pre.stderr}`, /kinds.*every kind is served by the cluster or defined by a CRD of the bundle/);
  });

  test("a webhook of unknown side effects is named with file:line, and nothing is applied, until the user says None", async () => {
    const r = await install("--convert-apis");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /1 object written for an older Kubernetes cannot be converted faithfully/);
    assert.match(r.stderr, /^ {2}2-rbac\.yaml:16: "ValidatingWebhookConfiguration\/widget-check \(admissionregistration\.k8s\.io\/v1beta1\)": webhook widget-check\.example\.com has sideEffects unset/m);
    assert.equal(await get("/api/v1/namespaces/shop"), undefined);
  });

  test("converted: every object applied, every workload ready, each conversion said once per kind; the cluster holds the v1 shapes", async () => {
    const r = await install("--convert-apis", "--webhook-side-effects", "None");
    assert.equal(r.code, 0, r.stderr);
    for (const line of [
      "converted 1 CustomResourceDefinition apiextensions.k8s.io/v1beta1 → v1",
      "converted 1 ClusterRole rbac.authorization.k8s.io/v1beta1 → v1",
      "converted 1 ValidatingWebhookConfiguration admissionregistration.k8s.io/v1beta1 → v1",
      "converted 1 Deployment extensions/v1beta1 → apps/v1",
      "converted 1 Ingress extensions/v1beta1 → networking.k8s.io/v1",
      "converted 1 HorizontalPodAutoscaler autoscaling/v2beta1 → v2",
      "converted 1 PodDisruptionBudget policy/v1beta1 → v1",
      "converted 1 CronJob batch/v1beta1 → v1",
    ]) assert.match(r.stderr, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m"), line);
    assert.match(r.stderr, /CustomResourceDefinition\/widgets\.example\.com: its schema made structural/);
    assert.doesNotMatch(r.stdout, / failed/);
    assert.match(r.stderr, /every workload ready/);
    assert.match(r.stdout, /^Widget\/shop\/first created$/m, "a CR of the converted CRD is accepted");

    const crd = (await get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"))!;
    const version = (crd.spec as { versions: Array<Record<string, unknown>> }).versions[0]!;
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(version.additionalPrinterColumns, [{ name: "Size", type: "integer", jsonPath: ".spec.size" }]);
    assert.deepEqual((crd.spec as { conversion: unknown }).conversion, { strategy: "Webhook", webhook: { clientConfig: { service: { name: "widget-converter", namespace: "shop", path: "/convert", port: 443 } }, conversionReviewVersions: ["v1beta1"] } });
    const hook = ((await get("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/widget-check"))!.webhooks as Array<Record<string, unknown>>)[0]!;
    assert.deepEqual({ sideEffects: hook.sideEffects, failurePolicy: hook.failurePolicy, matchPolicy: hook.matchPolicy, timeoutSeconds: hook.timeoutSeconds, admissionReviewVersions: hook.admissionReviewVersions }, { sideEffects: "None", failurePolicy: "Ignore", matchPolicy: "Exact", timeoutSeconds: 30, admissionReviewVersions: ["v1beta1"] });
    const hpa = (await get("/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web"))!;
    assert.deepEqual((hpa.spec as { metrics: unknown[] }).metrics[0], { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } });
    const ingress = (await get("/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web"))!;
    assert.deepEqual((ingress.spec as { defaultBackend: unknown }).defaultBackend, { service: { name: "web", port: { number: 80 } } });
    const deployment = (await get("/apis/apps/v1/namespaces/shop/deployments/web"))!;
    assert.deepEqual((deployment.spec as { selector: unknown }).selector, { matchLabels: { app: "web" } });
    assert.equal((deployment.status as { readyReplicas?: number }).readyReplicas, 1, "its pod runs");
  });

  test("the converted schema refuses a bad CR as the original did; a good one is taken", async () => {
    const widget = (spec: Record<string, unknown>, name: string) => ({ apiVersion: "example.com/v1alpha1", kind: "Widget", metadata: { name, namespace: "shop" }, spec });
    const bad = await cluster.api("POST", "/apis/example.com/v1alpha1/namespaces/shop/widgets", widget({ size: 0 }, "bad"));
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.match(JSON.stringify(bad.body), /spec\.size.*should be greater than or equal to 1/);
    const wrong = await cluster.api("POST", "/apis/example.com/v1alpha1/namespaces/shop/widgets", widget({ size: 2, colour: "green" }, "green"));
    assert.equal(wrong.status, 422, "the enum still holds");
    const missing = await cluster.api("POST", "/apis/example.com/v1alpha1/namespaces/shop/widgets", widget({ colour: "red" }, "nosize"));
    assert.equal(missing.status, 422, "required still holds");
    const good = await cluster.api("POST", "/apis/example.com/v1alpha1/namespaces/shop/widgets", widget({ size: 5, colour: "blue", note: "kept" }, "second"));
    assert.equal(good.status, 201, JSON.stringify(good.body));
    assert.equal(((good.body as { spec: Record<string, unknown> }).spec).note, "kept", "unknown fields kept, as v1beta1 kept them");
    assert.equal((await cluster.api("DELETE", "/apis/example.com/v1alpha1/namespaces/shop/widgets/second")).status, 200);
  });

  test("a reinstall changes nothing; with a cluster answering, its discovery decides, not --kube-version", async () => {
    const r = await install("--convert-apis", "--webhook-side-effects", "None", "--no-wait", "--kube-version", "1.19");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--kube-version 1\.19 is not used: the cluster answers/);
    const lines = r.stdout.split("\n").filter((l) => / (created|configured|unchanged|failed)$/.test(l));
    assert.ok(lines.length >= 12, lines.join("\n"));
    assert.deepEqual(lines.filter((l) => !l.endsWith(" unchanged")), [], "every object unchanged");
  });

  test("offline: a dry run for --kube-version writes the converted files; bundle rewrite does the same for kubectl", async () => {
    const out = join(work, "rendered");
    const dry = await runCli(["install", bundle, "--registry", target.host, "--dry-run", "--convert-apis", "--kube-version", "1.34", "--webhook-side-effects", "None", "--out", out]);
    assert.equal(dry.code, 0, dry.stderr);
    const versions = async (dir: string) => (await Promise.all((await readdir(dir)).sort().map(async (f) => (loadDocuments(await readFile(join(dir, f), "utf8"), f) as Array<{ apiVersion: string; kind: string }>).map((d) => `${d.kind} ${d.apiVersion}`)))).flat();
    const expected = [
      "Namespace v1", "CustomResourceDefinition apiextensions.k8s.io/v1",
      "ClusterRole rbac.authorization.k8s.io/v1", "ClusterRoleBinding rbac.authorization.k8s.io/v1", "ValidatingWebhookConfiguration admissionregistration.k8s.io/v1",
      "Deployment apps/v1", "Service v1", "Ingress networking.k8s.io/v1", "HorizontalPodAutoscaler autoscaling/v2", "PodDisruptionBudget policy/v1", "CronJob batch/v1", "Widget example.com/v1alpha1",
    ];
    assert.deepEqual(await versions(out), expected);
    const rewritten = join(work, "rewritten");
    const rw = await runCli(["rewrite", "--registry", target.host, "--manifests", folder, "--out", rewritten, "--convert-apis", "--kube-version", "1.34", "--webhook-side-effects", "None"]);
    assert.equal(rw.code, 0, rw.stderr);
    assert.deepEqual(await versions(rewritten), expected);
    assert.match(await readFile(join(rewritten, "3-app.yaml"), "utf8"), /^apiVersion: v1\nkind: Service\nmetadata: \{name: web, namespace: shop\}$/m, "documents not converted stay byte for byte");
    const old = await runCli(["rewrite", "--registry", target.host, "--manifests", folder, "--out", join(work, "old"), "--convert-apis", "--kube-version", "1.19"]);
    assert.equal(old.code, 0, old.stderr);
    assert.equal(await readFile(join(work, "old", "1-crd.yaml"), "utf8"), await readFile(join(folder, "1-crd.yaml"), "utf8"), "1.19 serves them all: nothing converted");
  });

  test("uninstall removes everything, found under the versions it was installed as", async () => {
    const r = await runCli(["uninstall", bundle, "--kubeconfig", cluster.kubeconfig]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /absent|failed/, r.stdout);
    for (const path of [
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
      "/apis/rbac.authorization.k8s.io/v1/clusterroles/widget-reader",
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/widget-reader",
      "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/widget-check",
      "/api/v1/namespaces/shop",
    ]) assert.equal(await get(path), undefined, path);
  });
});
