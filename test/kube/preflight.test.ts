import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { skipWithoutControlPlane, type ControlPlane } from "../helpers/control-plane.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { startTestCluster, type TestCluster } from "../helpers/node.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

const UNAVAILABLE = await skipWithoutControlPlane("the preflight tests");

/** A bundle that needs what a bare cluster lacks: Istio's kinds, a namespace it does not create, storage, a GPU. */
function manifests(image: string): Record<string, string> {
  return {
    "1-namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: pf}\n",
    "2-gateway.yaml": "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: gw, namespace: pf}\nspec: {selector: {istio: ingressgateway}}\n",
    "3-app.yaml": [
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: trainer, namespace: pf}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: trainer}}\n  template:\n    metadata: {labels: {app: trainer}}\n    spec:\n      containers:\n      - name: t\n        image: " + image + "\n        resources: {requests: {cpu: 100m, memory: 64Mi, nvidia.com/gpu: 1}, limits: {nvidia.com/gpu: 1}}",
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: pf}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}",
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: fast, namespace: pf}\nspec: {storageClassName: fast, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mesh, namespace: istio-system}\ndata: {a: b}",
      "",
    ].join("\n---\n"),
  };
}

describe("bundle preflight (against a real control plane)", { skip: UNAVAILABLE ?? false }, () => {
  let source: TestRegistry;
  let target: TestRegistry;
  let work: string;
  let bundle: string;
  let cluster: ControlPlane;
  let kube: TestCluster;
  const image = makeImage({ seed: "preflight", layers: [10_000] });

  before(async () => {
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    work = await mkdtemp(join(tmpdir(), "airgap-preflight-"));
    kube = await startTestCluster(join(work, "cluster"));
    cluster = kube.cluster;
    await seedRegistry(source, image, "team/trainer:1");
    const c = await saveCase(work, [`${source.host}/team/trainer:1`]);
    await mkdir(join(c.dir, "manifests"));
    for (const [name, text] of Object.entries(manifests(`${source.host}/team/trainer:1`))) await writeFile(join(c.dir, "manifests", name), text);
    const saved = await c.save(["--manifests", join(c.dir, "manifests")]);
    assert.equal(saved.code, 0, saved.stderr);
    bundle = c.tar;
  });
  after(async () => {
    await kube?.stop();
    await Promise.all([source?.stop(), target?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  const preflight = (extra: string[] = [], kubeconfig = cluster.kubeconfig) => runCli(["preflight", bundle, "--registry", target.host, "--kubeconfig", kubeconfig, ...extra]);

  test("a bare cluster: kinds, namespaces, storage, a GPU and the images are each named, one line per check; exit 1", async () => {
    const r = await preflight();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^FAIL kinds: 1 API group\/version the cluster does not serve/m);
    assert.match(r.stderr, /^ {4}networking\.istio\.io\/v1beta1 \(Gateway\): 1 object needs it \(Gateway\/pf\/gw\); provided by Istio$/m);
    assert.match(r.stderr, /^FAIL namespaces: .*\n {4}istio-system: ConfigMap\/istio-system\/mesh$/m);
    assert.match(r.stderr, /^ {4}PersistentVolumeClaim\/pf\/data: no storageClassName, and the cluster has no default StorageClass$/m);
    assert.match(r.stderr, /^ {4}PersistentVolumeClaim\/pf\/fast: StorageClass fast does not exist$/m);
    assert.match(r.stderr, /^ {4}nvidia\.com\/gpu: the workloads request 1, the 1 node advertises none \(Deployment\/pf\/trainer\)$/m);
    assert.match(r.stderr, /^pass rbac: /m);
    assert.match(r.stderr, /^pass webhooks: /m);
    assert.match(r.stderr, /^FAIL images: 1 image reference the cluster will pull does not resolve in 127\.0\.0\.1:\d+/m, "not loaded yet");
    assert.match(r.stderr, /^preflight: 2 passed, 0 warnings, 5 failed \(\d+\.\ds\)$/m);
    assert.match(r.stderr, /^error: the cluster is not ready for this bundle: kinds, namespaces, storage, capacity, images failed$/m);
    const json = await preflight(["--json"]);
    const report = JSON.parse(json.stdout.trim().split("\n")[0]!) as { type: string; checks: Array<{ check: string; status: string }> };
    assert.equal(report.type, "preflight");
    assert.deepEqual(report.checks.map((c) => `${c.check}:${c.status}`), ["kinds:fail", "namespaces:fail", "storage:fail", "rbac:pass", "capacity:fail", "webhooks:pass", "images:fail"]);
  });

  test("load runs the preflight before the push, and stops on a failure with nothing pushed", async () => {
    const fresh = await startRegistry();
    try {
      const r = await runCli(["load", bundle, "--registry", fresh.host, "--kubeconfig", cluster.kubeconfig]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^FAIL kinds: /m);
      assert.match(r.stderr, /hint: .*--skip-preflight/);
      assert.equal(await countRequests(fresh, "POST", /\/blobs\/uploads\//), 0, "nothing was pushed");
    } finally {
      await fresh.stop();
    }
  });

  test("the restricted service account: every denied permission is listed", async () => {
    const r = await preflight([], cluster.restrictedKubeconfig);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^FAIL rbac: \d+ permissions? the install needs (is|are) denied to this kubeconfig's user$/m);
    assert.match(r.stderr, /^ {4}patch namespaces \(cluster-wide\)$/m);
    // What it may not read is said, not failed: a restricted installer often cannot list nodes.
    assert.match(r.stderr, /^warn capacity: not checked: listing Node: nodes is forbidden/m);
  });

  test("an admission webhook whose service has no ready endpoint is named", async () => {
    const hook = {
      apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: "pf-hook" },
      webhooks: [{ name: "check.pf.example.com", admissionReviewVersions: ["v1"], sideEffects: "None", clientConfig: { service: { name: "gone", namespace: "default" } }, rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }] }],
    };
    assert.equal((await cluster.api("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", hook)).status, 201);
    try {
      const r = await preflight();
      assert.match(r.stderr, /^FAIL webhooks: 1 admission webhook would refuse what it watches/m);
      assert.match(r.stderr, /^ {4}ValidatingWebhookConfiguration pf-hook: webhook check\.pf\.example\.com calls service default\/gone, which has no ready endpoint$/m);
    } finally {
      await cluster.api("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/pf-hook");
    }
  });

  test("once the cluster has what the bundle needs, the preflight passes; --skip-kind leaves objects out of a real install", async () => {
    assert.equal((await runCli(["load", bundle, "--registry", target.host, "--no-install"])).code, 0);
    await cluster.api("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "istio-system" } });
    for (const [name, isDefault] of [["standard", "true"], ["fast", "false"]] as const) {
      await cluster.api("POST", "/apis/storage.k8s.io/v1/storageclasses", { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name, annotations: { "storageclass.kubernetes.io/is-default-class": isDefault } }, provisioner: "example.com/none" });
    }
    const node = kube.node?.name ?? "node-1";
    await cluster.api("PATCH", `/api/v1/nodes/${node}/status`, { status: { capacity: { "nvidia.com/gpu": "1" }, allocatable: { "nvidia.com/gpu": "1" } } }, "application/merge-patch+json");
    // Still no Istio: --skip-kind leaves its Gateway out, said aloud, and the rest installs for real.
    const skipped = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--skip-kind", "Gateway", "--no-wait"]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stderr, /warning: --skip-kind Gateway: leaving out Gateway\/pf\/gw/);
    assert.match(skipped.stderr, /^pass kinds: /m);
    assert.match(skipped.stdout, /^Deployment\/pf\/trainer created$/m);
    assert.doesNotMatch(skipped.stdout, /Gateway/);
    // With Istio's CRD the whole plan passes.
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "gateways.networking.istio.io" },
      spec: { group: "networking.istio.io", scope: "Namespaced", names: { plural: "gateways", singular: "gateway", kind: "Gateway" }, versions: [{ name: "v1beta1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }] },
    };
    assert.equal((await cluster.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)).status, 201);
    for (let i = 0; i < 50; i++) {
      const got = await cluster.api("GET", "/apis/networking.istio.io/v1beta1");
      if (got.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const r = await preflight();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^preflight: 6 passed, 1 warning, 0 failed \(\d+\.\ds\)$/m);
    // The test registry speaks plain HTTP: the nodes' containerd must be told, and the lines to add are printed.
    assert.match(r.stderr, /^warn images: 1 image reference resolves in 127\.0\.0\.1:\d+; plain HTTP$/m);
    assert.match(r.stderr, /^ {6}\[host\."http:\/\/127\.0\.0\.1:\d+"\]$/m);
  });
});
