/**
 * The mirror table on its own: where an image is asked for, in which order (containers/image's: the longest prefix's
 * mirrors in order, then the registry unless mirrors only), and how `--mirror`, registries.conf and daemon.json read.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AirgapError } from "../../src/errors.js";
import { MirrorTable, parseDockerDaemonJson, parseMirrorFlag, parseRegistriesConf } from "../../src/registry/mirrors.js";
import { parseReference } from "../../src/reference/reference.js";

const places = (table: MirrorTable, ref: string) => table.candidates(parseReference(ref)).map((c) => `${c.host}/${c.path}${c.mirror ? "" : " (registry)"}`);

describe("mirrors", () => {
  test("--mirror: Harbor proxy-cache style, in the order given, then the registry; --mirror-only leaves it out", () => {
    const rules = [parseMirrorFlag("docker.io=harbor.corp/dockerhub-proxy"), parseMirrorFlag("docker.io=https://mirror.gcr.io/"), parseMirrorFlag("gcr.io=127.0.0.1:5000/gcr.io")];
    const table = new MirrorTable(rules);
    assert.deepEqual(places(table, "nginx:1.25"), ["harbor.corp/dockerhub-proxy/library/nginx", "mirror.gcr.io/library/nginx", "docker.io/library/nginx (registry)"]);
    assert.deepEqual(places(table, "gcr.io/kubeflow-images-public/tf_operator:v1"), ["127.0.0.1:5000/gcr.io/kubeflow-images-public/tf_operator", "gcr.io/kubeflow-images-public/tf_operator (registry)"]);
    assert.deepEqual(places(table, "quay.io/jetstack/cert-manager-controller:v1.13.0"), ["quay.io/jetstack/cert-manager-controller (registry)"], "no rule: its registry");
    assert.deepEqual(places(new MirrorTable(rules, true), "nginx:1.25"), ["harbor.corp/dockerhub-proxy/library/nginx", "mirror.gcr.io/library/nginx"]);
    assert.deepEqual(places(new MirrorTable(rules, true), "quay.io/a/b:1"), [], "mirrors only, and none for it");
    assert.throws(() => parseMirrorFlag("harbor.corp/dockerhub-proxy"), /--mirror harbor\.corp\/dockerhub-proxy: expected HOST=MIRROR\[\/PREFIX\]/);
    assert.throws(() => parseMirrorFlag("docker.io=harbor"), /--mirror docker\.io=harbor: invalid registry "harbor": "harbor" is not a registry host/, "checked as a registry location is");
  });

  test("registries.conf: the longest prefix wins; location moves the registry; pull-from-mirror decides by tag or digest", () => {
    const rules = parseRegistriesConf(`
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror-a.corp/hub"
[[registry.mirror]]
location = "mirror-b.corp:5000"
insecure = true
pull-from-mirror = "digest-only"

[[registry]]
prefix = "docker.io/istio"
location = "internal.corp/istio"

[[registry]]
location = "gcr.io"
blocked = true
`, "registries.conf");
    const table = new MirrorTable(rules);
    const digest = `sha256:${"a".repeat(64)}`;
    assert.deepEqual(places(table, "docker.io/library/nginx:1.25"), ["mirror-a.corp/hub/library/nginx", "docker.io/library/nginx (registry)"], "a tag: the digest-only mirror is not asked");
    assert.deepEqual(places(table, `docker.io/library/nginx@${digest}`), ["mirror-a.corp/hub/library/nginx", "mirror-b.corp:5000/library/nginx", "docker.io/library/nginx (registry)"]);
    assert.deepEqual(places(table, "docker.io/istio/proxyv2:1.3.1"), ["internal.corp/istio/proxyv2 (registry)"], "the longer prefix wins, its location is the registry's place");
    assert.throws(() => table.candidates(parseReference("gcr.io/a/b:1")), /gcr\.io\/a\/b: its registry is blocked \(registries\.conf\)/);
    assert.deepEqual(table.insecureHosts(), ["mirror-b.corp:5000"]);
  });

  test("registries.conf that does not parse: one line naming the file, line and column, exit 2's code", () => {
    assert.throws(() => parseRegistriesConf(`[[registry]]\nprefix = "docker.io"\nlocation = docker.io\n`, "/etc/containers/registries.conf"), (err: AirgapError) => {
      assert.equal(err.code, "INVALID_ARGUMENT");
      assert.match(err.message, /^\/etc\/containers\/registries\.conf:3:\d+: /);
      return true;
    });
    assert.throws(() => parseRegistriesConf(`[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "m.corp"\npull-from-mirror = "sometimes"\n`, "r.conf"), /r\.conf: \[\[registry\]\] docker\.io: mirror number 1: pull-from-mirror must be "all", "digest-only" or "tag-only", not "sometimes"/);
    assert.throws(() => parseRegistriesConf(`[[registry]]\ninsecure = true\n`, "r.conf"), /has neither prefix nor location/);
    assert.deepEqual(parseRegistriesConf(`[registries.search]\nregistries = ["docker.io"]\n`, "v1.conf"), [], "the v1 format names no mirrors");
  });

  test("daemon.json: registry-mirrors are docker.io's mirrors; a plain-HTTP one is insecure", () => {
    const table = new MirrorTable(parseDockerDaemonJson(JSON.stringify({ "registry-mirrors": ["https://mirror.gcr.io", "http://10.0.0.9:5000/hub/"] }), "daemon.json"));
    assert.deepEqual(places(table, "busybox:1.36"), ["mirror.gcr.io/library/busybox", "10.0.0.9:5000/hub/library/busybox", "docker.io/library/busybox (registry)"]);
    assert.deepEqual(table.insecureHosts(), ["10.0.0.9:5000"]);
    assert.throws(() => parseDockerDaemonJson(`{"registry-mirrors": "https://x"}`, "daemon.json"), /registry-mirrors must be a list of URLs/);
  });
});
