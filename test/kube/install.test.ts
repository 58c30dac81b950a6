import assert from "node:assert/strict";
import { chmod, copyFile, mkdir, open, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { tarEntryOffsets } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { clusterCase, type ClusterCase } from "../helpers/cluster-case.js";
import { busyboxImage, seedRegistry, webServer } from "../helpers/images.js";
import { skipWithoutControlPlane, countingRelay, type ControlPlane } from "../helpers/control-plane.js";
import type { TestCluster } from "../helpers/node.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { freePort } from "../helpers/ports.js";
import { saveCase } from "../helpers/save-case.js";

const SECRET = "s3cr3t-Value-93f1";

/** The test manifests: natural order matters (2 before 10), a CRD after its CR in the file, placeholders. */
function manifests(src: string): Record<string, string> {
  return {
    "1-namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
    "2-crd.yaml": [
      "apiVersion: example.com/v1",
      "kind: Widget",
      "metadata:",
      "  name: first",
      "  namespace: demo",
      "spec:",
      "  size: 3",
      "---",
      "apiVersion: apiextensions.k8s.io/v1",
      "kind: CustomResourceDefinition",
      "metadata:",
      "  name: widgets.example.com",
      "spec:",
      "  group: example.com",
      "  scope: Namespaced",
      "  names: {plural: widgets, singular: widget, kind: Widget}",
      "  versions:",
      "  - name: v1",
      "    served: true",
      "    storage: true",
      "    schema:",
      "      openAPIV3Schema:",
      "        type: object",
      "        properties:",
      "          spec: {type: object, properties: {size: {type: integer}}}",
      "",
    ].join("\n"),
    "10-app.yaml": [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata:",
      "  name: web",
      "  namespace: demo",
      "spec:",
      "  replicas: 1",
      "  selector:",
      "    matchLabels: {app: web}",
      "  template:",
      "    metadata:",
      "      labels: {app: web}",
      "    spec:",
      "      containers:",
      "      - name: web",
      `        image: ${src}/team/web:1`,
      "        readinessProbe:",
      "          httpGet: {path: /, port: 8080}",
      "          periodSeconds: 1",
      "---",
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata:",
      "  name: settings",
      "  namespace: demo",
      "data:",
      "  secret: \"{CLIENT_SECRET}\"",
      "  url: https://app.{DOMAIN}/login",
      "  script: echo ${HOME}",
      "---",
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata:",
      "  name: in-default",
      "data: {a: b}",
      "---",
      "apiVersion: batch/v1",
      "kind: Job",
      "metadata:",
      "  generateName: migrate-",
      "  namespace: demo",
      "spec:",
      "  template:",
      "    spec:",
      "      restartPolicy: Never",
      "      containers:",
      "      - name: migrate",
      `        image: ${src}/team/job:1`,
      "---",
      "apiVersion: apps/v1",
      "kind: StatefulSet",
      "metadata: {name: db, namespace: demo}",
      "spec:",
      "  selector: {matchLabels: {app: db}}",
      "  template:",
      "    metadata: {labels: {app: db}}",
      `    spec: {containers: [{name: db, image: "${src}/team/web:1"}]}`,
      "---",
      "apiVersion: apps/v1",
      "kind: DaemonSet",
      "metadata: {name: agent, namespace: demo}",
      "spec:",
      "  selector: {matchLabels: {app: agent}}",
      "  template:",
      "    metadata: {labels: {app: agent}}",
      `    spec: {containers: [{name: agent, image: "${src}/team/web:1"}]}`,
      "",
    ].join("\n"),
  };
}

/** A Job's container: one line, exit 0. */
const JOB = { entrypoint: ["/bin/busybox", "sh", "-c"], cmd: ["echo migrated"] };

const UNAVAILABLE = await skipWithoutControlPlane("the install tests");

describe("bundle install and uninstall (against a real control plane)", { skip: UNAVAILABLE ?? false }, () => {
  let source: TestRegistry;
  let target: TestRegistry;
  let work: string;
  let bundle: string;
  let config: string;
  let cluster: ControlPlane;
  let kube: TestCluster;
  let started: ClusterCase | undefined;

  before(async () => {
    started = await clusterCase("install", { "team/web:1": webServer(), "team/job:1": JOB }, manifests);
    ({ source, target, work, bundle, cluster, kube } = started);
    config = join(work, "ai-devops.config");
    await writeFile(config, `# like the seed's ai-devops.config\nCLIENT_SECRET=${SECRET}\nREGISTRY={REGISTRY}\nexport DOMAIN="example.org"\n`);
  });
  after(() => started?.stop());

  /** An object as the API server holds it (admin), or undefined. */
  async function object(path: string): Promise<Record<string, unknown> | undefined> {
    const r = await cluster.api("GET", path);
    return r.status === 200 ? r.body : undefined;
  }

  /** Removes what a test installed (the uninstall the last test proves), so the next starts from nothing. */
  async function clean(): Promise<void> {
    const r = await runCli(["uninstall", bundle, "--kubeconfig", cluster.kubeconfig, "--config", config]);
    assert.equal(r.code, 0, r.stderr);
    await cluster.api("DELETE", "/api/v1/namespaces/default/configmaps/in-default");
  }

  test("load installs in order: namespace first, CRD Established before its CR, 2 before 10; workloads ready; a re-install changes nothing", async () => {
    const r = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--config", config]);
    assert.equal(r.code, 0, r.stderr);
    const applied = r.stdout.split("\n").filter((l) => / (created|configured|unchanged|failed)/.test(l));
    const at = (prefix: string) => applied.findIndex((l) => l.startsWith(prefix));
    for (const line of ["Namespace/demo created", "CustomResourceDefinition/widgets.example.com created", "Widget/demo/first created", "Deployment/demo/web created", "ConfigMap/demo/settings created", "ConfigMap/default/in-default created"]) {
      assert.match(r.stdout, new RegExp(`^${line}$`, "m"), line);
    }
    assert.match(r.stdout, /^Job\/demo\/migrate-\w+ created$/m, "generateName: the server named it");
    assert.ok(at("Namespace/demo") < at("CustomResourceDefinition/") && at("CustomResourceDefinition/") < at("Widget/demo/first"), applied.join("\n"));
    assert.ok(at("Widget/demo/first") < at("Deployment/demo/web"), "2-crd.yaml before 10-app.yaml");
    assert.match(r.stderr, /waiting for CustomResourceDefinition widgets\.example\.com to be Established/);
    assert.match(r.stderr, /every workload ready/);
    for (const w of ["Deployment/demo/web", "StatefulSet/demo/db", "DaemonSet/demo/agent", "Job/demo/migrate-"]) assert.match(r.stderr, new RegExp(`^ready: ${w}`, "m"));
    // What the API server holds: rendered values, the private registry's image, applied server-side by us.
    assert.equal(((await object("/apis/example.com/v1/namespaces/demo/widgets/first"))!.spec as { size: number }).size, 3);
    const cm = (await object("/api/v1/namespaces/demo/configmaps/settings"))!;
    assert.deepEqual(cm.data, { secret: SECRET, url: "https://app.example.org/login", script: "echo ${HOME}" });
    const managers = ((cm.metadata as { managedFields: Array<{ manager: string; operation: string }> }).managedFields).map((m) => `${m.manager}/${m.operation}`);
    assert.deepEqual(managers, ["airgap-bundle/Apply"], "server-side apply, field manager airgap-bundle");
    const deployment = (await object("/apis/apps/v1/namespaces/demo/deployments/web"))!;
    const container = (deployment.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec.containers[0]!;
    assert.equal(container.image, `${target.host}/${source.host.replace(":", "-")}/team/web:1`);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(SECRET), "the secret value is never printed");
    if (kube.node) {
      // The real node ran them: pulled from the private registry by containerd, the web pod Ready through its
      // HTTP readiness probe, the Job's pod done with exit code 0, its output read back through the API server.
      const node = (await object(`/api/v1/nodes/${kube.node.name}`))!;
      assert.match((node.status as { nodeInfo: { containerRuntimeVersion: string } }).nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
      type PodStatus = { phase: string; podIP?: string; containerStatuses: Array<{ imageID: string; ready: boolean; state: { terminated?: { exitCode: number } } }> };
      const pods = ((await cluster.api("GET", "/api/v1/namespaces/demo/pods")).body.items as Array<{ metadata: { name: string; labels?: Record<string, string> }; status: PodStatus }>);
      const webPod = pods.find((p) => p.metadata.labels?.app === "web")!;
      const webDigest = (await busyboxImage(webServer())).manifest.digest;
      assert.equal(webPod.status.containerStatuses[0]!.imageID, `${target.host}/${source.host.replace(":", "-")}/team/web@${webDigest}`);
      assert.equal(webPod.status.containerStatuses[0]!.ready, true);
      assert.ok(webPod.status.podIP?.startsWith(kube.node.address.replace(/\.1$/, ".")), `pod IP ${webPod.status.podIP} on the node's bridge`);
      const jobPod = pods.find((p) => p.metadata.labels?.["job-name"]?.startsWith("migrate-"))!;
      assert.equal(jobPod.status.phase, "Succeeded");
      assert.equal(jobPod.status.containerStatuses[0]!.state.terminated?.exitCode, 0);
      assert.deepEqual((await cluster.api("GET", `/api/v1/namespaces/demo/pods/${jobPod.metadata.name}/log`)).body, { text: "migrated\n" });
    }

    const again = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--config", config, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const events = again.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; outcome?: string; key?: string });
    const outcomes = events.filter((e) => e.type === "applied" && !e.key!.startsWith("Job/")).map((e) => `${e.key} ${e.outcome}`);
    // The real server records a Namespace's field owners only at its second apply (the first leaves none): a new
    // resourceVersion, but nothing of the object changed, so it is reported unchanged like the rest.
    assert.deepEqual(outcomes.filter((o) => !o.endsWith(" unchanged")), [], "a second install changes nothing");
    assert.ok(!again.stdout.includes(SECRET));
    const third = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--config", config, "--no-wait"]);
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(third.stdout.split("\n").filter((l) => / (created|configured|failed)/.test(l) && !l.startsWith("Job/")), [], "a third changes nothing at all");
    await clean();
  });

  test("a field another manager owns is a conflict naming --force-conflicts; with it, the install takes the field", async () => {
    const args = ["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--config", config, "--no-wait"];
    assert.equal((await runCli(args)).code, 0);
    // Someone edits the ConfigMap with kubectl (another field manager), over our field.
    const edit = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "demo" }, data: { url: "https://edited" } };
    const path = "/api/v1/namespaces/demo/configmaps/settings?fieldManager=kubectl";
    assert.equal((await cluster.api("PATCH", path, edit, "application/apply-patch+yaml")).status, 409, "the real server reports the conflict to kubectl too");
    assert.equal((await cluster.api("PATCH", `${path}&force=true`, edit, "application/apply-patch+yaml")).status, 200);
    const r = await runCli(args);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ConfigMap\/demo\/settings failed: .*conflict.*--force-conflicts/m);
    assert.match(r.stderr, /error: 1 of \d+ objects could not be applied/);
    const f = await runCli([...args, "--force-conflicts"]);
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /^ConfigMap\/demo\/settings configured$/m);
    assert.equal(((await object("/api/v1/namespaces/demo/configmaps/settings"))!.data as Record<string, string>).url, "https://app.example.org/login");
    await clean();
  });

  test("--context picks the kubeconfig context (and its default namespace); an API refusal is shown per object", async () => {
    // The preflight finds the missing namespace before anything is applied…
    const checked = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--context", "elsewhere", "--config", config, "--no-wait"]);
    assert.equal(checked.code, 1);
    assert.match(checked.stderr, /^FAIL namespaces: 1 namespace neither in the cluster nor created by the bundle$/m);
    assert.match(checked.stderr, /^ {4}elsewhere: ConfigMap\/in-default/m);
    assert.doesNotMatch(checked.stdout, /created|configured/, "nothing was applied");
    // …and past it, the API server's own refusal is shown on that object's line.
    const r = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--context", "elsewhere", "--config", config, "--no-wait", "--skip-preflight"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ConfigMap\/elsewhere\/in-default failed: .*namespaces "elsewhere" not found/m);
    assert.match(r.stdout, /^Deployment\/demo\/web created$/m, "the other objects were applied");
    assert.match(r.stderr, /^ {2}10-app\.yaml: "ConfigMap\/elsewhere\/in-default": /m);
    const bad = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--context", "nope", "--config", config]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--context nope: no such context in the kubeconfig \(it has: admin, elsewhere\)/);
    await clean();
  });

  test("pods that cannot pull are reported with the image and whether the bundle has it; timeout exits non-zero", async () => {
    const empty = await startRegistry();
    try {
      // Installed against a registry the images were never loaded into: the bundle has them, the nodes cannot pull.
      const r = await runCli(["install", bundle, "--registry", empty.host, "--kubeconfig", cluster.kubeconfig, "--config", config, "--timeout", "8s", "--skip-preflight"]);
      assert.equal(r.code, 1);
      const wanted = `${empty.host}/${source.host.replace(":", "-")}/team/web:1`;
      // The container runtime's own words (the real node's containerd; the simulated node says none).
      const said = kube.node ? `: failed to resolve reference "${wanted}": ${wanted}: not found` : "";
      assert.ok(r.stderr.includes(`Deployment/demo/web: 0/1 replicas available; ErrImagePull for ${wanted}${said} (the bundle has it: can the nodes pull from ${empty.host}?`) ||
        r.stderr.includes(`Deployment/demo/web: 0/1 replicas available; ImagePullBackOff for ${wanted}${said} (the bundle has it: can the nodes pull from ${empty.host}?`), r.stderr);
      assert.match(r.stderr, /error: 4 workloads are not ready in time/);
      assert.match(r.stderr, /StatefulSet\/demo\/db: 0\/1 replicas ready; (ImagePullBackOff|ErrImagePull) for /);
      assert.match(r.stderr, /DaemonSet\/demo\/agent: 0\/1 pods available; (ImagePullBackOff|ErrImagePull) for /);
      assert.match(r.stderr, /hint: rerun with a longer --timeout/);
    } finally {
      await empty.stop();
      await clean();
    }
  });

  test("an image the bundle does not carry is named as such", async () => {
    const c = await saveCase(work, [`${source.host}/team/web:1`]);
    const dir = join(c.dir, "manifests");
    await mkdir(dir);
    await writeFile(join(dir, "app.yaml"), manifests(source.host)["10-app.yaml"]!.split("---")[0]!.replace("namespace: demo", "namespace: default"));
    await writeFile(join(dir, "job.yaml"), `apiVersion: batch/v1\nkind: Job\nmetadata: {name: extra}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: x, image: "${source.host}/team/absent:1"}]\n`);
    assert.equal((await c.save(["--manifests", dir, "--allow-missing"])).code, 0);
    // The load refuses to install what the registry cannot serve, naming the file and line…
    const relay = await countingRelay(cluster);
    try {
      const load = await runCli(["load", c.tar, "--registry", target.host, "--kubeconfig", relay.kubeconfig, "--timeout", "8s"]);
      assert.equal(load.code, 1);
      assert.match(load.stderr, /manifests\/job\.yaml:8: ".*team\/absent:1": the tag 1 is not in /);
      assert.equal(await object("/apis/batch/v1/namespaces/default/jobs/extra"), undefined, "nothing was applied");
    } finally {
      await relay.stop();
    }
    // …and an install run anyway names the image the pods cannot pull, and that the bundle lacks it.
    const r = await runCli(["install", c.tar, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--timeout", "15s", "--skip-preflight"]);
    assert.equal(r.code, 1);
    const absent = `${target.host}/${source.host.replace(":", "-")}/team/absent:1`;
    assert.match(r.stderr, new RegExp(`Job/default/extra: 0/1 completions; (ImagePullBackOff|ErrImagePull) for ${absent.replace(/[.]/g, "\\.")}${kube.node ? ": failed to resolve reference .*: not found" : ""} \\(NOT in the bundle`));
    assert.match(r.stderr, /ready: Deployment\/default\/web/);
    const gone = await runCli(["uninstall", c.tar, "--kubeconfig", cluster.kubeconfig]);
    assert.equal(gone.code, 0, gone.stderr);
  });

  test("a container that keeps exiting is reported with its exit code and last line: a crash loop at the deadline, a failed Job at once", async (t) => {
    if (!kube.node) return t.skip("the simulated node runs no container");
    await seedRegistry(source, await busyboxImage({ entrypoint: ["/bin/busybox", "sh", "-c"], cmd: ["echo loading; echo cannot open /data/model.bin; exit 3"] }), "team/crash:1");
    const image = `${source.host}/team/crash:1`;
    const cases = {
      loop: `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: crash, namespace: default}\nspec:\n  selector: {matchLabels: {app: crash}}\n  template:\n    metadata: {labels: {app: crash}}\n    spec: {containers: [{name: model, image: "${image}", readinessProbe: {exec: {command: [/bin/busybox, "true"]}, initialDelaySeconds: 2, periodSeconds: 1}}]}\n`,
      job: `apiVersion: batch/v1\nkind: Job\nmetadata: {name: fail, namespace: default}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: model, image: "${image}"}]\n`,
    };
    for (const [name, text] of Object.entries(cases)) {
      const c = await saveCase(work, [image], { name: `crash-${name}` });
      await mkdir(join(c.dir, "manifests"));
      await writeFile(join(c.dir, "manifests", "app.yaml"), text);
      assert.equal((await c.save(["--manifests", join(c.dir, "manifests")])).code, 0);
      try {
        const started = Date.now();
        const r = await runCli(["load", c.tar, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--timeout", "25s"]);
        assert.equal(r.code, 1, r.stderr);
        const said = `container model of pod default/${name === "loop" ? "crash-" : "fail-"}\\S+ exited 3, its last line: "cannot open /data/model.bin"`;
        if (name === "loop") {
          assert.match(r.stderr, new RegExp(`Deployment/default/crash: 0/1 replicas available; (CrashLoopBackOff|Error): ${said}`));
        } else {
          assert.match(r.stderr, /error: 1 job failed/);
          assert.match(r.stderr, new RegExp(`Job/default/fail": failed: .*; Error: ${said}`));
          assert.ok(Date.now() - started < 20_000, "a failed Job ends the wait at once");
        }
      } finally {
        const gone = await runCli(["uninstall", c.tar, "--kubeconfig", cluster.kubeconfig]);
        assert.equal(gone.code, 0, gone.stderr);
        // The uninstall returns once the kubelet has stopped the deleted workload's pods, not before.
        const selector = name === "loop" ? "app=crash" : "job-name=fail";
        assert.deepEqual((await cluster.api("GET", `/api/v1/namespaces/default/pods?labelSelector=${selector}`)).body.items, [], gone.stderr);
      }
    }
  });

  test("unresolved placeholders are listed with file:line before anything is pushed or applied", async () => {
    const relay = await countingRelay(cluster);
    const fresh = await startRegistry();
    try {
      const r = await runCli(["load", bundle, "--registry", fresh.host, "--kubeconfig", relay.kubeconfig, "--set", `CLIENT_SECRET=${SECRET}`]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /error: 1 placeholder without a value/);
      assert.match(r.stderr, /^ {2}10-app\.yaml:\d+: "\{DOMAIN\}": no value for DOMAIN$/m);
      assert.match(r.stderr, /hint: give values with --config FILE or --set KEY=VALUE/);
      assert.equal(relay.connections(), 0, "the cluster was not contacted");
      const catalog = JSON.parse((await fresh.fetch("/v2/_catalog")).body.toString()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, [], "nothing was pushed");
      assert.ok(!`${r.stdout}${r.stderr}`.includes(SECRET));
      // A config value that is still its seed template is named too.
      const templ = join(work, "templ.config");
      await writeFile(templ, "DISCOVERY_URL=https://{{HyperAuth_URL}}/auth/realms/tmax\nDOMAIN=x\nCLIENT_SECRET=y\n");
      const t = await runCli(["install", bundle, "--registry", fresh.host, "--config", templ, "--dry-run", "--out", join(work, "never")]);
      assert.equal(t.code, 2);
      assert.match(t.stderr, /templ\.config:1: "DISCOVERY_URL": its value still holds the template \{\{HyperAuth_URL\}\}: edit it/);
      // A registry that does not answer: rendered all the same, its references not checked (said so).
      const nowhere = `127.0.0.1:${await freePort()}`;
      const allowed = await runCli(["install", bundle, "--registry", nowhere, "--dry-run", "--allow-unresolved", "--out", join(work, "unresolved")]);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.match(allowed.stderr, /warning: cannot reach 127\.0\.0\.1:\d+ \(.*\): the rendered image references were not checked/);
      assert.match(await readFile(join(work, "unresolved", "10-app.yaml"), "utf8"), /url: https:\/\/app\.\{DOMAIN\}\/login/);
    } finally {
      await Promise.all([relay.stop(), fresh.stop()]);
    }
  });

  test("a damaged manifest in the bundle is a verification error before anything is rendered, pushed or applied", async () => {
    const relay = await countingRelay(cluster);
    const fresh = await startRegistry();
    try {
      const dir = join(work, "damaged");
      await mkdir(dir);
      const copy = join(dir, "t-1.tar");
      await copyFile(bundle, copy);
      await copyFile(`${bundle}.sha256`, `${copy}.sha256`);
      const entry = (await tarEntryOffsets(copy)).find((e) => e.name === "manifests/10-app.yaml")!;
      const fh = await open(copy, "r+");
      await fh.write(Buffer.from("b"), 0, 1, entry.offset); // apiVersion → bpiVersion
      await fh.close();
      const r = await runCli(["load", copy, "--registry", fresh.host, "--kubeconfig", relay.kubeconfig, "--config", config]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /t-1\.tar: checksum mismatch/);
      assert.doesNotMatch(r.stderr, /apiVersion/);
      assert.equal(relay.connections(), 0, "the cluster was not contacted");
      assert.equal(await countRequests(fresh, "POST", /\/blobs\/uploads\//), 0);
    } finally {
      await Promise.all([relay.stop(), fresh.stop()]);
    }
  });

  test("--dry-run writes the rendered files and prints the plan without touching the cluster", async () => {
    const relay = await countingRelay(cluster);
    try {
      const out = join(work, "rendered");
      // Images loaded under /proj: the dry run finds every rendered reference there.
      assert.equal((await runCli(["load", bundle, "--registry", `${target.host}/proj`, "--no-install"])).code, 0);
      const r = await runCli(["install", bundle, "--registry", `${target.host}/proj`, "--kubeconfig", relay.kubeconfig, "--config", config, "--dry-run", "--out", out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /every image reference of the rendered manifests resolves in 127\.0\.0\.1:\d+\/proj/);
      assert.equal(relay.connections(), 0, "the cluster was not contacted");
      assert.deepEqual((await readdir(out)).sort(), ["1-namespace.yaml", "10-app.yaml", "2-crd.yaml"]);
      const app = await readFile(join(out, "10-app.yaml"), "utf8");
      assert.match(app, new RegExp(`image: ${target.host}/proj/${source.host.replace(":", "-")}/team/web:1`));
      assert.match(app, new RegExp(`secret: "${SECRET}"`));
      assert.equal((await stat(join(out, "10-app.yaml"))).mode & 0o777, 0o600, "a file holding a secret is private");
      const plan = r.stdout.split("\n").filter((l) => l.startsWith("  ")).map((l) => l.trim().split("  ")[0]);
      assert.deepEqual(plan, [
        "Namespace/demo", "CustomResourceDefinition/widgets.example.com", "Widget/demo/first",
        "Deployment/demo/web", "ConfigMap/demo/settings", "ConfigMap/in-default", "Job/demo/migrate-*",
        "StatefulSet/demo/db", "DaemonSet/demo/agent",
      ]);
      assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
    } finally {
      await relay.stop();
    }
  });

  test("uninstall deletes in reverse order, ignores what is gone, and waits for the namespace to terminate", async () => {
    assert.equal((await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--config", config])).code, 0);
    const r = await runCli(["uninstall", bundle, "--kubeconfig", cluster.kubeconfig, "--config", config]);
    assert.equal(r.code, 0, r.stderr);
    const deleted = r.stdout.split("\n").filter((l) => l.endsWith(" deleted")).map((l) => l.replace(/ deleted$/, ""));
    assert.deepEqual(deleted, [
      "DaemonSet/demo/agent", "StatefulSet/demo/db", "ConfigMap/default/in-default", "ConfigMap/demo/settings", "Deployment/demo/web",
      "Widget/demo/first", "CustomResourceDefinition/widgets.example.com", "Namespace/demo",
    ]);
    assert.match(r.stdout, /^Job\/demo\/migrate-\* skipped: generateName/m);
    assert.match(r.stderr, /waiting for namespace to go: demo/);
    assert.equal((await cluster.api("GET", "/api/v1/namespaces/demo")).status, 404, "the namespace is gone when uninstall returns");
    assert.deepEqual((await cluster.api("GET", "/api/v1/namespaces/demo/pods")).body.items ?? [], [], "its pods went with it");
    const again = await runCli(["uninstall", bundle, "--kubeconfig", cluster.kubeconfig, "--config", config]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Namespace\/demo already gone$/m);
  });

  test("what only a real server shows: a CR its CRD's schema rejects, a CRD over 1 MB applied server-side, RBAC, a webhook without endpoints", async () => {
    const dir = join(work, "real");
    await mkdir(join(dir, "manifests"), { recursive: true });
    // A CRD of ~1.2 MB (Kubeflow's are ~30,000 lines): client-side apply's annotation would not fit; server-side does.
    const props = Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`field${i}`, { type: "string", description: `a long description of field ${i} `.repeat(5) }]));
    const big = {
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "bigs.example.com" },
      spec: { group: "example.com", scope: "Namespaced", names: { plural: "bigs", singular: "big", kind: "Big" }, versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: props } } } } }] },
    };
    const bigText = JSON.stringify(big, null, 1);
    assert.ok(bigText.length > 1_000_000, `${bigText.length} bytes`);
    await writeFile(join(dir, "manifests", "1-big-crd.json"), bigText);
    await writeFile(join(dir, "manifests", "2-objects.yaml"), [
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: real}",
      "apiVersion: example.com/v1\nkind: Big\nmetadata: {name: ok, namespace: real}\nspec: {field1: x}",
      "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: bad, namespace: real}\nspec: {size: not-a-number}",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: real}\ndataa: {a: b}",
      "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}",
      "",
    ].join("\n---\n"));
    const il = join(dir, "imagelist");
    await writeFile(il, `${source.host}/team/web:1\n`);
    const c = await saveCase(dir, [`${source.host}/team/web:1`], { name: "real" });
    assert.equal((await c.save(["--manifests", join(dir, "manifests"), "--allow-missing"])).code, 0);
    const r = await runCli(["install", c.tar, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--no-wait"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^CustomResourceDefinition\/bigs\.example\.com created$/m, "the 1 MB CRD went in server-side");
    assert.match(r.stdout, /^Big\/real\/ok created$/m);
    // The real server's words (server-side apply types the object against the CRD's schema first).
    assert.match(r.stdout, /^Widget\/real\/bad failed: .*\.spec\.size: expected numeric \(int or float\), got string/m, "the API's own message on the object's line");
    assert.match(r.stdout, /^ConfigMap\/real\/typo failed: .*\.dataa: field not declared in schema/m, "an unknown field is refused, named");

    // The restricted service account may edit objects in namespaces, not define kinds for the whole cluster.
    const restricted = await runCli(["install", c.tar, "--registry", target.host, "--kubeconfig", cluster.restrictedKubeconfig, "--no-wait", "--skip-preflight"]);
    assert.equal(restricted.code, 1);
    assert.match(restricted.stdout, /^CustomResourceDefinition\/bigs\.example\.com failed: .*forbidden: User "system:serviceaccount:airgap-restricted:installer" cannot (patch|get) resource "customresourcedefinitions"/m);
    assert.match(restricted.stdout, /^Namespace\/real failed: .*cannot (patch|get) resource "namespaces"/m);

    // An admission webhook whose service has no ready pods refuses everything it watches, and says which.
    const hook = {
      apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: "airgap-test-hook" },
      webhooks: [{
        name: "check.widgets.example.com", admissionReviewVersions: ["v1"], sideEffects: "None", failurePolicy: "Fail",
        clientConfig: { service: { name: "nobody", namespace: "real", port: 443 } },
        rules: [{ apiGroups: ["example.com"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["bigs"] }],
      }],
    };
    assert.equal((await cluster.api("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", hook)).status, 201);
    await cluster.api("POST", "/api/v1/namespaces/real/services", { apiVersion: "v1", kind: "Service", metadata: { name: "nobody" }, spec: { ports: [{ port: 443 }], selector: { app: "nobody" } } });
    try {
      await writeFile(join(dir, "manifests", "2-objects.yaml"), "apiVersion: example.com/v1\nkind: Big\nmetadata: {name: changed, namespace: real}\nspec: {field2: y}\n");
      const c2 = await saveCase(dir, [`${source.host}/team/web:1`], { name: "hooked" });
      assert.equal((await c2.save(["--manifests", join(dir, "manifests")])).code, 0);
      const w = await runCli(["install", c2.tar, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--no-wait", "--skip-preflight"]);
      assert.equal(w.code, 1);
      assert.match(w.stdout, /^Big\/real\/changed failed: .*failed calling webhook "check\.widgets\.example\.com"/m);
    } finally {
      await cluster.api("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/airgap-test-hook");
      await cluster.api("DELETE", "/api/v1/namespaces/real");
      await cluster.api("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/bigs.example.com");
    }
  });

  test("--install-script runs the user's installer with the rendered manifests and settings; its exit code is ours", async () => {
    const script = join(work, "install.sh");
    await writeFile(script, [
      "#!/bin/sh",
      'echo "registry=$REGISTRY"',
      'echo "domain=$DOMAIN"',
      'echo "secret=$CLIENT_SECRET"',
      'ls "$BUNDLE_MANIFESTS"',
      'grep -c "image: $REGISTRY/" "$BUNDLE_MANIFESTS/10-app.yaml"',
      "echo oops >&2",
      "exit 3",
      "",
    ].join("\n"));
    await chmod(script, 0o755);
    const r = await runCli(["install", bundle, "--registry", target.host, "--config", config, "--install-script", script, "--secret-key", "DOMAIN"]);
    assert.equal(r.code, 3);
    assert.match(r.stdout, new RegExp(`^registry=${target.host}$`, "m"));
    assert.match(r.stdout, /^domain=\*\*\*$/m, "--secret-key DOMAIN keeps its value from the output");
    assert.match(r.stdout, /^secret=\*\*\*$/m, "the script's output is masked too");
    assert.match(r.stdout, /^1-namespace\.yaml\n10-app\.yaml\n2-crd\.yaml$/m);
    assert.match(r.stdout, /^2$/m, "both images point at the registry");
    assert.match(r.stderr, /^oops$/m);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(SECRET));
  });

  test("with no reachable cluster, load stops before pushing and suggests --no-install, which only pushes", async () => {
    const fresh = await startRegistry();
    try {
      const dead = join(work, "dead.kubeconfig");
      await writeFile(dead, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n");
      const r = await runCli(["load", bundle, "--registry", fresh.host, "--config", config], { env: { KUBECONFIG: dead } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: no Kubernetes API server answers at https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/m);
      assert.match(r.stderr, /--no-install/);
      assert.equal(r.stderr.split("\n").filter((l) => l.startsWith("    at ")).length, 0, "no stack trace");
      const catalog = JSON.parse((await fresh.fetch("/v2/_catalog")).body.toString()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, []);
      const only = await runCli(["load", bundle, "--registry", fresh.host, "--no-install"], { env: { KUBECONFIG: dead } });
      assert.equal(only.code, 0, only.stderr);
      assert.match(only.stderr, /not installing the bundle's manifests \(--no-install\)/);
      const none = await runCli(["install", bundle, "--registry", fresh.host, "--config", config], { env: { KUBECONFIG: "", HOME: work } });
      assert.equal(none.code, 2, "an input error");
      assert.match(none.stderr, /error: no Kubernetes cluster configured/);
      assert.doesNotMatch(none.stderr, /--no-install/, "install has no --no-install to suggest");
    } finally {
      await fresh.stop();
    }
  });
});
