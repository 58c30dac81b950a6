/**
 * Helm charts carried (issue 30), with Helm built from Go modules and charts the tests make: a chart with a
 * dependency and an image named only in its `helm.sh/images` annotation, served as a classic chart repository
 * over HTTPS from 127.0.0.1; a chart pushed to a registry with `helm push`; a local folder. Values that change which
 * image the chart deploys change what the save needs; a chart whose archive does not match its repository's
 * index.yaml is refused; the charts are pushed at load so that `helm pull oci://…` works in the closed registry;
 * without helm on the PATH the images are read from the values and the annotation, and the install says why it
 * cannot install such a chart. On a real node, a chart is installed from its rendering at save, into its namespace,
 * every workload ready, and uninstalled.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseChartsFile } from "../../src/charts/spec.js";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { chartRepository, deploymentTemplate, helm, helmPathDir, serveChartRepository, writeChart } from "../helpers/charts.js";
import { runCli } from "../helpers/cli.js";
import { clusterCase, type ClusterCase } from "../helpers/cluster-case.js";
import { skipWithoutControlPlane } from "../helpers/control-plane.js";
import { makeImage, seedRegistry, webServer } from "../helpers/images.js";
import { run } from "../helpers/processes.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";
import { makePki, type TestPki } from "../helpers/tls.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("Helm charts carried, found, pushed", () => {
  let work: string;
  let source: TestRegistry;
  let target: TestRegistry;
  let pki: TestPki;
  let repo: { url: string; stop(): Promise<void> };
  let repoDir: string;
  let helmDir: string;
  let withHelm: NodeJS.ProcessEnv;
  let withoutHelm: NodeJS.ProcessEnv;
  const images = {
    a: makeImage({ seed: "chart-a", layers: [1500] }),
    b: makeImage({ seed: "chart-b", layers: [1700] }),
    dep: makeImage({ seed: "chart-dep", layers: [1200] }),
    hook: makeImage({ seed: "chart-hook", layers: [900] }),
    tool: makeImage({ seed: "chart-tool", layers: [1100] }),
  };
  const ref = (name: keyof typeof images) => `${source.host}/team/${name}:1`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-charts-"));
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    for (const [name, image] of Object.entries(images)) await seedRegistry(source, image, `team/${name}:1`);
    pki = await makePki(join(work, "pki"));
    helmDir = await helmPathDir(work);
    withHelm = { PATH: `${helmDir}:${process.env.PATH}`, HOME: work };
    withoutHelm = { PATH: (process.env.PATH ?? "").split(":").filter((d) => !d.includes("helm")).join(":"), HOME: work };

    // web: a dependency (dep), values choosing between two images, an image only in the annotation.
    const web = await writeChart(join(work, "src", "web"), {
      "Chart.yaml": [
        "apiVersion: v2", "name: web", "version: 1.2.0", "appVersion: \"1\"",
        "dependencies:", "  - name: dep", "    version: 0.1.0", "    repository: file://charts/dep",
        "annotations:", "  helm.sh/images: |", `    - name: hook`, `      image: ${ref("hook")}`, "",
      ].join("\n"),
      "values.yaml": `useB: false\nimage: { repository: ${source.host}/team/a, tag: "1" }\nb: { repository: ${source.host}/team/b, tag: "1" }\n`,
      "templates/deploy.yaml": deploymentTemplate("web", "{{ if .Values.useB }}{{ .Values.b.repository }}:{{ .Values.b.tag }}{{ else }}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{ end }}"),
      "charts/dep/Chart.yaml": "apiVersion: v2\nname: dep\nversion: 0.1.0\nappVersion: \"1\"\n",
      "charts/dep/values.yaml": `image: { repository: ${source.host}/team/dep }\n`,
      "charts/dep/templates/deploy.yaml": deploymentTemplate("dep", "{{ .Values.image.repository }}:{{ .Chart.AppVersion }}"),
    });
    const tool = await writeChart(join(work, "src", "tool"), {
      "Chart.yaml": "apiVersion: v2\nname: tool\nversion: 0.3.0+build.7\n",
      "templates/deploy.yaml": deploymentTemplate("tool", ref("tool")),
    });
    repoDir = join(work, "repo");
    repo = await serveChartRepository(repoDir, pki);
    await chartRepository(work, repoDir, [web], repo.url);
    // tool goes to the source registry as an OCI chart, pushed by Helm itself.
    await helm(work, ["package", tool, "--destination", join(work, "pkg")]);
    await helm(work, ["push", join(work, "pkg", "tool-0.3.0+build.7.tgz"), `oci://${source.host}/charts`, "--plain-http"]);
    await writeFile(join(work, "b.yaml"), "useB: true\n");
  });
  after(async () => {
    await repo?.stop();
    await Promise.all([source?.stop(), target?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  const chartsFile = async (name: string, lines: string[]) => {
    const path = join(work, name);
    await writeFile(path, `# charts of a test\n${lines.join("\n")}\n`);
    return path;
  };

  test("saved from a chart repository over HTTPS and an OCI registry: the rendered images with the values given, the annotated one; pushed at load; helm pull works there", async () => {
    const charts = await chartsFile("charts-ok", [`${repo.url} web 1.2.0 --values b.yaml --namespace webns`, `oci://${source.host}/charts/tool:0.3.0_build.7`]);
    const c = await saveCase(work, [ref("b"), ref("dep"), ref("hook"), ref("tool")], { env: withHelm });
    const saved = await c.save(["--charts", charts, "--ca-file", pki.caFile]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stderr, /2 charts: web 1\.2\.0 \(3 images\), tool 0\.3\.0\+build\.7 \(1 image\)/);
    const json = bundleJsonOf(await listTar(c.tar)) as unknown as { charts: Array<{ name: string; version: string; images: string[]; chartDigest: string; digest: string; found: string; namespace: string; values: string[] }> };
    const web = json.charts.find((x) => x.name === "web")!;
    // useB: true renders b, not a; dep's image takes its appVersion; hook is only in the annotation.
    assert.deepEqual([...web.images].sort(), [ref("b"), ref("dep"), ref("hook")].sort());
    assert.equal(web.found, "rendered");
    assert.equal(web.namespace, "webns");
    const webTgz = (await readdir(repoDir)).find((n) => n.startsWith("web-"))!;
    assert.equal(web.chartDigest, `sha256:${sha256(await readFile(join(repoDir, webTgz)))}`, "the repository's archive, byte for byte");
    assert.equal((await run("sha256sum", ["-c", "t-1.tar.sha256"], { cwd: c.out }).then(() => 0, () => 1)), 0);
    assert.equal((await runCli(["verify", c.tar, "--deep"])).code, 0);
    const inspect = await runCli(["inspect", c.tar]);
    assert.match(inspect.stdout, /charts \(2\)/);
    assert.match(inspect.stdout, new RegExp(`web 1\\.2\\.0  from ${repo.url.replace(/[.]/g, "\\.")} web 1\\.2\\.0`));
    assert.match(inspect.stdout, /-> \{\{REGISTRY\}\}\/charts\/tool:0\.3\.0_build\.7/);

    const loaded = await runCli(["load", c.tar, "--registry", target.host, "--no-install"]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stderr, new RegExp(`chart web 1\\.2\\.0: oci://${target.host}/charts/web:1\\.2\\.0`));
    const pulled = join(work, "pulled");
    await mkdir(pulled, { recursive: true });
    await helm(work, ["pull", `oci://${target.host}/charts/web`, "--version", "1.2.0", "--plain-http", "--destination", pulled]);
    await helm(work, ["pull", `oci://${target.host}/charts/tool`, "--version", "0.3.0+build.7", "--plain-http", "--destination", pulled]);
    const got = await readFile(join(pulled, "web-1.2.0.tgz"));
    assert.equal(`sha256:${sha256(got)}`, web.chartDigest, "helm pull from the closed registry gives the chart that was saved");
    assert.ok((await readdir(pulled)).includes("tool-0.3.0+build.7.tgz"));
  });

  test("an image the chart deploys with these values but the imagelist lacks stops the save, naming the chart and template", async () => {
    const charts = await chartsFile("charts-missing", [`${repo.url} web 1.2.0`]);
    const c = await saveCase(work, [ref("b"), ref("dep"), ref("hook")], { env: withHelm });
    const r = await c.save(["--charts", charts, "--ca-file", pki.caFile]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the manifests and charts use 1 image reference that the imagelist lacks/);
    assert.match(r.stderr, new RegExp(`chart web 1\\.2\\.0: web/templates/deploy\\.yaml:\\d+: ${source.host}/team/a:1 is not in the imagelist`));
  });

  test("a chart whose archive does not match its repository's index.yaml is refused; nothing is written", async () => {
    const tampered = join(work, "repo-tampered");
    await mkdir(tampered, { recursive: true });
    for (const name of await readdir(repoDir)) await writeFile(join(tampered, name), await readFile(join(repoDir, name)));
    const index = await readFile(join(tampered, "index.yaml"), "utf8");
    await writeFile(join(tampered, "index.yaml"), index.replace(/digest: [0-9a-f]{64}/, `digest: ${"ab".repeat(32)}`));
    const server = await serveChartRepository(tampered, pki);
    try {
      const c = await saveCase(work, [ref("a"), ref("dep"), ref("hook")], { env: withHelm });
      const r = await c.save(["--chart", `${server.url} web 1.2.0`, "--ca-file", pki.caFile]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`web-1\\.2\\.0\\.tgz is sha256:[0-9a-f]{64}, but ${server.url.replace(/[.]/g, "\\.")}/index\\.yaml says sha256:(ab){32}; refused`));
      assert.deepEqual(await readdir(c.out).catch(() => []), []);
    } finally {
      await server.stop();
    }
  });

  test("without helm on the PATH: said once, images read from the values and the annotation; the charts still go to the registry, the install says why it cannot install them", async () => {
    const c = await saveCase(work, [ref("a"), ref("b"), ref("dep"), ref("hook")], { env: withoutHelm });
    const r = await c.save(["--chart", `${repo.url} web 1.2.0`, "--ca-file", pki.caFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/helm is not on the PATH/g)?.length, 1, r.stderr);
    const json = bundleJsonOf(await listTar(c.tar)) as unknown as { charts: Array<{ images: string[]; found: string }> };
    // The values name both a (image.*) and b (b.*), the dependency names dep with its appVersion: the value walk cannot know useB.
    assert.equal(json.charts[0]!.found, "values");
    assert.deepEqual([...json.charts[0]!.images].sort(), [ref("a"), ref("b"), ref("dep"), ref("hook")].sort());
    const dry = await runCli(["install", c.tar, "--registry", target.host, "--dry-run", "--out", join(c.dir, "rendered")]);
    assert.equal(dry.code, 1, dry.stderr);
    assert.match(dry.stderr, /chart web 1\.2\.0 cannot be installed: helm was not on the PATH when the bundle was saved/);
  });

  test("a local chart folder with its dependency packed: packed the same way twice (same digest)", async () => {
    const folder = join(work, "src", "web");
    const one = await saveCase(work, [ref("a"), ref("dep"), ref("hook")], { env: withHelm, version: "a" });
    const two = await saveCase(work, [ref("a"), ref("dep"), ref("hook")], { env: withHelm, version: "b" });
    for (const c of [one, two]) assert.equal((await c.save(["--chart", folder])).code, 0);
    const digests = await Promise.all([one, two].map(async (c) => (bundleJsonOf(await listTar(c.tar)) as unknown as { charts: Array<{ digest: string }> }).charts[0]!.digest));
    assert.equal(digests[0], digests[1]);
  });

  test("a charts file's bad lines are all reported, each with its line", () => {
    assert.throws(() => parseChartsFile(["oci://r.example/charts/x", "https://repo.example only-a-name", "# fine", "./x.tgz --values", "./ok.tgz --release Bad_Name"].join("\n"), "charts"), (err: Error & { problems?: Array<{ line?: number }> }) => {
      assert.deepEqual(err.problems?.map((p) => p.line), [1, 2, 4, 5]);
      return true;
    });
    const ok = parseChartsFile("oci://r.example/charts/x:1.0 --values v.yaml --release rel --namespace ns\nhttps://repo.example/charts web 1.2.0\n./web\n", "/tmp/x/charts");
    assert.deepEqual(ok.map((s) => s.origin.kind), ["oci", "repository", "local"]);
    assert.deepEqual(ok[0]!.values, ["/tmp/x/v.yaml"]);
    assert.equal(ok[0]!.release, "rel");
  });
});

describe("a chart installed on a real node: from its rendering at save, and as a Helm release; upgraded; uninstalled", () => {
  let started: ClusterCase | undefined;
  let skip: string | undefined;
  let work: string;
  let env: NodeJS.ProcessEnv;
  /** The chart `hello` at `version` (its templates say which), in a charts file for release hello in hello-ns. */
  const helloChart = async (sourceHost: string, version: string): Promise<string> => {
    const chart = await writeChart(join(work, `hello-${version}`), {
      "Chart.yaml": `apiVersion: v2\nname: hello\nversion: ${version}\n`,
      "values.yaml": `image: ${sourceHost}/shop/web:1\n`,
      "templates/deploy.yaml": deploymentTemplate("hello", "{{ .Values.image }}"),
      "templates/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: { name: hello }\nspec: { selector: { app: hello }, ports: [{ port: 8080 }] }\n",
      "templates/version.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: hello-version }\ndata: { version: {{ .Chart.Version | quote }}, note: \"{{ \"{{\" }}NOT_OURS{{ \"}}\" }}\" }\n",
    });
    const file = join(work, `charts-${version}.txt`);
    await writeFile(file, `${chart} --namespace hello-ns --release hello\n`);
    return file;
  };

  before(async () => {
    skip = await skipWithoutControlPlane("chart install");
    if (skip) return;
    work = await mkdtemp(join(tmpdir(), "airgap-chart-node-"));
    env = { PATH: `${await helmPathDir(work)}:${process.env.PATH}`, HOME: work };
    started = await clusterCase("chart", { "shop/web:1": webServer("chart") }, () => ({ "0-settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop-settings}\ndata: {a: b}\n" }), {
      env,
      saveArgs: async (source) => ["--charts", await helloChart(source.host, "0.1.0")],
    });
  });
  after(async () => {
    await started?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("--no-helm: applied into its namespace (made for it) with the image from the private registry, every workload ready; uninstall (no release there) removes it and leaves the namespace", async (t) => {
    if (skip) return t.skip(skip);
    const { bundle, target, cluster } = started!;
    const installed = await runCli(["install", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig, "--timeout", "180s", "--no-helm"], { timeoutMs: 240_000, env });
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stderr, /--no-helm: 1 chart installed from its rendering at save/);
    assert.doesNotMatch(installed.stdout, /^release /m);
    assert.match(installed.stderr, /every workload ready/);
    const deployment = await cluster.api("GET", "/apis/apps/v1/namespaces/hello-ns/deployments/hello");
    assert.equal(deployment.status, 200);
    const spec = deployment.body as { spec: { template: { spec: { containers: Array<{ image: string }> } } }; status: { readyReplicas?: number } };
    assert.equal(spec.spec.template.spec.containers[0]!.image, `${target.host}/${started!.source.host.replace(":", "-")}/shop/web:1`);
    assert.equal(spec.status.readyReplicas, 1);
    const note = (await cluster.api("GET", "/api/v1/namespaces/hello-ns/configmaps/hello-version")).body as { data: Record<string, string> };
    assert.equal(note.data.note, "{{NOT_OURS}}", "a chart's own braces are not our settings");
    const removed = await runCli(["uninstall", bundle, "--registry", target.host, "--kubeconfig", cluster.kubeconfig], { timeoutMs: 240_000, env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.doesNotMatch(removed.stdout, /^release /m, "no release of that name: its objects are deleted instead");
    assert.equal((await cluster.api("GET", "/apis/apps/v1/namespaces/hello-ns/deployments/hello")).status, 404);
    assert.equal((await cluster.api("GET", "/api/v1/namespaces/hello-ns")).status, 200, "the chart's namespace may hold what is not ours: kept");
  });

  test("with helm at install: a Helm release (helm list shows it) whose images helm's post-renderer relocated; the next bundle upgrades it; uninstall removes the release", async (t) => {
    if (skip) return t.skip(skip);
    const { bundle, target, cluster, source } = started!;
    const kube = ["--kubeconfig", cluster.kubeconfig];
    const releases = async () => JSON.parse(await helm(work, ["list", "--namespace", "hello-ns", "--output", "json", ...kube])) as Array<{ name: string; revision: string; status: string; chart: string }>;
    // A registry that lacks the images: what helm would render is checked first, and nothing is installed.
    const empty = await runCli(["install", bundle, "--registry", source.host, ...kube, "--timeout", "60s"], { timeoutMs: 120_000, env });
    assert.notEqual(empty.code, 0);
    assert.match(empty.stderr, /FAIL images.*\n(.*\n)*.*charts\/hello-0\.1\.0\/hello\/templates\/deploy\.yaml/, empty.stderr);
    assert.deepEqual(await releases(), [], "nothing installed");
    const installed = await runCli(["install", bundle, "--registry", target.host, ...kube, "--timeout", "180s"], { timeoutMs: 240_000, env });
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stderr, /1 chart installed as Helm release with .*helm, image references relocated by its post-renderer/);
    assert.match(installed.stdout, /^release hello \(chart hello 0\.1\.0\) in hello-ns: revision 1 deployed$/m);
    assert.match(installed.stderr, /1 Helm release \(hello revision 1\); every workload ready/);
    assert.deepEqual((await releases()).map((r) => [r.name, r.revision, r.status, r.chart]), [["hello", "1", "deployed", "hello-0.1.0"]]);
    const deployment = (await cluster.api("GET", "/apis/apps/v1/namespaces/hello-ns/deployments/hello")).body as {
      metadata: { labels?: Record<string, string> }; spec: { template: { spec: { containers: Array<{ image: string }> } } }; status: { readyReplicas?: number };
    };
    assert.equal(deployment.metadata.labels?.["app.kubernetes.io/managed-by"], "Helm", "helm applied it");
    assert.equal(deployment.spec.template.spec.containers[0]!.image, `${target.host}/${source.host.replace(":", "-")}/shop/web:1`, "relocated by the post-renderer");
    assert.equal(deployment.status.readyReplicas, 1);
    const note = (await cluster.api("GET", "/api/v1/namespaces/hello-ns/configmaps/hello-version")).body as { data: Record<string, string> };
    assert.deepEqual(note.data, { version: "0.1.0", note: "{{NOT_OURS}}" }, "helm's output is relocated, not rendered as our manifests are");

    // The next bundle, with the chart's next version: helm upgrades the release.
    const next = await saveCase(work, [`${source.host}/shop/web:1`], { name: "chart", version: "2", env });
    assert.equal((await next.save(["--charts", await helloChart(source.host, "0.2.0")])).code, 0);
    assert.equal((await runCli(["load", next.tar, "--registry", target.host, "--no-install"])).code, 0);
    const upgraded = await runCli(["install", next.tar, "--registry", target.host, ...kube, "--timeout", "180s"], { timeoutMs: 240_000, env });
    assert.equal(upgraded.code, 0, upgraded.stderr);
    assert.match(upgraded.stdout, /^release hello \(chart hello 0\.2\.0\) in hello-ns: revision 2 deployed$/m);
    assert.deepEqual((await releases()).map((r) => [r.name, r.revision, r.chart]), [["hello", "2", "hello-0.2.0"]]);
    assert.equal(((await cluster.api("GET", "/api/v1/namespaces/hello-ns/configmaps/hello-version")).body as { data: Record<string, string> }).data.version, "0.2.0");

    const removed = await runCli(["uninstall", next.tar, ...kube], { timeoutMs: 240_000, env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^release hello in hello-ns uninstalled$/m);
    assert.deepEqual(await releases(), []);
    assert.equal((await cluster.api("GET", "/apis/apps/v1/namespaces/hello-ns/deployments/hello")).status, 404);
    assert.equal((await cluster.api("GET", "/api/v1/namespaces/hello-ns")).status, 200, "the namespace stays");
  });
});

describe("helm's post-renderer (bundle helm-post-render)", () => {
  test("relocates every image reference of helm's output, pinned digests of a filtered index repinned, nothing else changed; what it cannot read fails helm", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const pushed = `sha256:${"b".repeat(64)}`;
    const manifests = [
      "---", "# Source: web/templates/deploy.yaml", "apiVersion: apps/v1", "kind: Deployment", "metadata: {name: web}",
      "spec:", "  template:", "    spec:", "      containers:",
      "        - name: web", "          image: quay.io/team/web:1.0 # the app",
      `        - name: side`, `          image: "docker.io/library/busybox@${digest}"`,
      "---", "# Source: web/templates/cm.yaml", "apiVersion: v1", "kind: ConfigMap", "metadata: {name: cm}", "data: {tpl: '{{ .NOT_OURS }}'}", "",
    ].join("\n");
    const r = await runCli(["helm-post-render", "--registry", "10.0.0.5:5000/site", "--repin", `docker.io/library/busybox@${digest}=${pushed}`], { input: manifests });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, manifests
      .replace("quay.io/team/web:1.0", "10.0.0.5:5000/site/quay.io/team/web:1.0")
      .replace(`docker.io/library/busybox@${digest}`, `10.0.0.5:5000/site/docker.io/library/busybox@${pushed}`));
    const bad = await runCli(["helm-post-render", "--registry", "10.0.0.5:5000"], { input: "kind: [unclosed\n" });
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stdout, "");
    const help = await runCli(["--help"]);
    assert.doesNotMatch(help.stdout + help.stderr, /helm-post-render/, "run by helm, not people: not in the command list");
  });
});

describe("a bundle's charts and index.json must agree", () => {
  test("a chart missing from index.json, a values file not carried, and a file under charts/ nobody lists are each named", async () => {
    const { agreementProblems } = await import("../../src/bundle/format-check.js");
    const digest = `sha256:${"1".repeat(64)}`;
    const chart = { name: "web", version: "1.0.0", source: "web", digest, chartDigest: digest, target: "charts/web:1.0.0", release: "web", namespace: "default", values: ["charts/web-1.0.0/values/1-v.yaml"], images: [], found: "rendered" as const };
    const bundle = { format: "airgap-bundle/v1" as const, name: "b", version: "1", created: "", tool: { name: "t", version: "1" }, platforms: [], images: [], manifests: [], blobs: { count: 0, bytes: 0 }, base: null, charts: [chart] };
    const problems = agreementProblems(bundle, new Map(), [], ["charts/web-1.0.0/extra.yaml"]).map((p) => `${p.file}: ${p.reason}`);
    assert.deepEqual(problems.sort(), [
      "bundle.json: chart web 1.0.0: its values file charts/web-1.0.0/values/1-v.yaml is not in the bundle",
      "charts/web-1.0.0/extra.yaml: is in the bundle but not listed in bundle.json",
      "index.json: chart web 1.0.0 is not in index.json at sha256:1111111111111111111111111111111111111111111111111111111111111111",
    ]);
  });
});
