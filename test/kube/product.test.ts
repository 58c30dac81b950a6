/**
 * The whole product, under its real image names, end to end (issue 26): a Kubeflow-shaped product
 * (test/helpers/product.ts: 38 images across docker.io, gcr.io, quay.io, ghcr.io, nvcr.io, mcr.microsoft.com) is
 * saved through pull-through mirrors only — local registries standing for each public host, nothing asked of the
 * internet — checked with sha256sum and verify --deep, loaded into a closed registry, installed on the real node
 * (every workload ready, every rendered reference resolving), and uninstalled to nothing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { skipWithoutControlPlane, type ControlPlane } from "../helpers/control-plane.js";
import { seedRegistry } from "../helpers/images.js";
import { startTestCluster, type TestCluster } from "../helpers/node.js";
import { kubeflowLike, type Product } from "../helpers/product.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

const exec = promisify(execFile);
const UNAVAILABLE = await skipWithoutControlPlane("the product test");

const PUBLIC_HOSTS = ["gcr.io", "quay.io", "ghcr.io", "nvcr.io", "mcr.microsoft.com"];

describe("a Kubeflow-shaped product under its real names: save through mirrors → load → install → uninstall", { skip: UNAVAILABLE ?? false }, () => {
  let work: string;
  let hub: TestRegistry;
  let others: TestRegistry;
  let target: TestRegistry;
  let kube: TestCluster;
  let cluster: ControlPlane;
  let product: Product;
  let tar: string;
  let out: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-product-"));
    [hub, others, target] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
    kube = await startTestCluster(join(work, "cluster"));
    cluster = kube.cluster;
    product = await kubeflowLike();
    // docker.io stands behind a Harbor-style proxy project; the other hosts each under a folder of one registry.
    for (const i of product.images) {
      const where = i.host === "docker.io" ? { registry: hub, path: `dockerhub-proxy/${i.path}` } : { registry: others, path: `${i.host}/${i.path}` };
      await seedRegistry(where.registry, i.artifact, `${where.path}:${i.tag}`);
    }
    const empty = join(work, "registries.conf");
    await writeFile(empty, "");
    env = { ...process.env, CONTAINERS_REGISTRIES_CONF: empty };
  });
  after(async () => {
    await kube?.stop();
    await Promise.all([hub?.stop(), others?.stop(), target?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  test("save through the mirrors only: every image under its own name, each served by its mirror; sha256sum -c and verify --deep pass", async () => {
    const c = await saveCase(work, product.imagelist, { name: "kubeflow-like", version: "1.8.0", env });
    const manifests = join(c.dir, "manifests");
    await mkdir(manifests);
    for (const [name, text] of Object.entries(product.manifests)) await writeFile(join(manifests, name), text);
    const mirrors = ["--mirror", `docker.io=${hub.host}/dockerhub-proxy`, ...PUBLIC_HOSTS.flatMap((h) => ["--mirror", `${h}=${others.host}/${h}`])];
    const r = await c.save(["--manifests", manifests, ...mirrors, "--mirror-only"]);
    assert.equal(r.code, 0, r.stderr);
    tar = c.tar;
    out = c.out;
    const json = bundleJsonOf(await listTar(tar));
    assert.equal(json.images.length, 38);
    assert.ok(json.images.every((i) => /^(docker\.io|gcr\.io|quay\.io|ghcr\.io|nvcr\.io|mcr\.microsoft\.com)\//.test(i.source)), "the images' own names");
    assert.ok(json.images.every((i) => i.mirror?.startsWith(i.source.startsWith("docker.io/") ? `${hub.host}/dockerhub-proxy/` : `${others.host}/`)), "each served by its mirror");
    const names = json.images.map((i) => i.source);
    for (const n of ["docker.io/library/busybox:latest", "docker.io/library/mysql:8.0.26", "docker.io/kserve/agent:v0.11.2", product.pinned.reference]) assert.ok(names.includes(n), n);
    await exec("sha256sum", ["-c", "kubeflow-like-1.8.0.tar.sha256"], { cwd: out });
    const deep = await runCli(["verify", tar, "--deep"]);
    assert.equal(deep.code, 0, deep.stderr);
  });

  test("load into the closed registry: every image and every reference the rendered manifests will pull resolves", async () => {
    const r = await runCli(["load", tar, "--registry", target.host, "--no-install"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /every image reference of the rendered manifests resolves in/);
    if (kube.node) assert.equal((await runCli(["node-config", "--bundle", tar, "--registry", target.host, "--plain-http", "--out", kube.node.hostsDir])).code, 0);
  });

  test("install: every workload ready on the node, references rewritten where the product wrote them", async () => {
    const r = await runCli(["install", tar, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--timeout", "5m"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /every workload ready/);
    assert.doesNotMatch(r.stdout, / failed/);
    const get = async (path: string) => (await cluster.api("GET", path)).body;
    /** A value deep in an object the API server answered. */
    const at = (o: unknown, ...keys: Array<string | number>): unknown => keys.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], o);
    const mapped = (ref: string) => `${target.host}/${ref}`;
    // The CRD default, applied by the API server to a CR that names no image.
    const notebook = await get("/apis/kubeflow.org/v1/namespaces/kubeflow/notebooks/team-notebook");
    assert.equal(at(notebook, "spec", "image"), mapped("docker.io/kubeflownotebookswg/jupyter-scipy:v1.8.0"));
    // The digest-pinned index: pinned to what the load pushed (its linux/amd64 manifest), and running.
    const postgres = await get("/apis/apps/v1/namespaces/kubeflow/deployments/postgres");
    assert.equal(at(postgres, "spec", "template", "spec", "containers", 0, "image"), mapped(`docker.io/library/postgres@${product.pinned.amd64.manifest.digest}`));
    assert.equal(at(postgres, "status", "readyReplicas"), 1);
    // Env values, init containers (the tagless one), JSON with spaces, Knative's queueSidecarImage.
    const pipeline = await get("/apis/apps/v1/namespaces/kubeflow/deployments/ml-pipeline");
    assert.equal(at(pipeline, "spec", "template", "spec", "initContainers", 0, "image"), mapped("docker.io/library/busybox:latest"));
    assert.deepEqual((at(pipeline, "spec", "template", "spec", "containers", 0, "env") as Array<{ value: string }>).map((e) => e.value), [mapped("gcr.io/ml-pipeline/kfp-driver:2.0.5"), mapped("gcr.io/ml-pipeline/kfp-launcher:2.0.5")]);
    const kserve = at(await get("/api/v1/namespaces/kserve/configmaps/inferenceservice-config"), "data") as Record<string, string>;
    assert.match(kserve.agent ?? "", new RegExp(`"image" : "${mapped("docker.io/kserve/agent:v0.11.2").replace(/[.]/g, "\\.")}"`));
    assert.match(kserve.predictors ?? "", new RegExp(`"image" : "${mapped("nvcr.io/nvidia/tritonserver").replace(/[.]/g, "\\.")}", "defaultImageVersion": "23\\.05-py3"`));
    const knative = at(await get("/api/v1/namespaces/knative-serving/configmaps/config-deployment"), "data") as Record<string, string>;
    assert.equal(knative.queueSidecarImage, mapped("gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.10.1"));
  });

  test("uninstall leaves nothing", async () => {
    const r = await runCli(["uninstall", tar, "--kubeconfig", cluster.kubeconfig, "--timeout", "5m"]);
    assert.equal(r.code, 0, r.stderr);
    for (const ns of product.namespaces) assert.equal((await cluster.api("GET", `/api/v1/namespaces/${ns}`)).status, 404, ns);
    assert.equal((await cluster.api("GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/nvidia-device-plugin")).status, 404);
    assert.equal((await cluster.api("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/notebooks.kubeflow.org")).status, 404);
    const pods = (await cluster.api("GET", "/api/v1/namespaces/kube-system/pods?labelSelector=app%3Dnvidia-device-plugin")).body as { items: unknown[] };
    assert.deepEqual(pods.items, [], "the DaemonSet's pod is gone too");
  });
});
