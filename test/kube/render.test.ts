import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AirgapError } from "../../src/errors.js";
import { mergeSettings, parseConfigFile, parseSetValues } from "../../src/kube/config-file.js";
import { planInstall } from "../../src/kube/plan.js";
import { Redactor, renderManifests } from "../../src/kube/render.js";
import { parseReference } from "../../src/reference/reference.js";

const registry = { host: "10.0.0.5:5000" };

describe("install settings and rendering", () => {
  test("config files read like the shell reads them; bad lines are all named", () => {
    const s = parseConfigFile("\uFEFF# comment\nA=1\nexport B = \"two words\" \nC='it''s'\nD=bare # trailing comment\nE=\nF=\"a \\\" b\"c\\ d\n", "x.config");
    assert.deepEqual(s.map((x) => [x.key, x.value, x.origin]), [["A", "1", "x.config:2"], ["B", "two words", "x.config:3"], ["C", "its", "x.config:4"], ["D", "bare", "x.config:5"], ["E", "", "x.config:6"], ["F", 'a " bc d', "x.config:7"]]);
    assert.throws(() => parseConfigFile("OK=1\nnot a setting\n9X=2\nQ=\"open\nW=two words\n", "y.config"), (err: AirgapError) => {
      assert.deepEqual(err.problems.map((p) => [p.line, p.reason]), [[2, "expected KEY=VALUE"], [3, "expected KEY=VALUE"], [4, "unterminated quote, or spaces outside quotes"], [5, "unterminated quote, or spaces outside quotes"]]);
      return true;
    });
    assert.throws(() => parseSetValues(["=x"]), /--set/);
  });

  test("--set wins over the file; a value that is its own placeholder counts as unset", () => {
    const merged = mergeSettings(parseConfigFile("REGISTRY={REGISTRY}\nDOMAIN=a\n", "f"), parseSetValues(["DOMAIN=b"]));
    assert.equal(merged.has("REGISTRY"), false);
    assert.equal(merged.get("DOMAIN")?.value, "b");
  });

  test("placeholders: defined keys replaced, unknown UPPER_CASE ones reported with file:line, shell ${VARS} left alone", () => {
    const settings = mergeSettings(parseSetValues(["DOMAIN=example.org", "lower=yes"]));
    const r = renderManifests(
      [{ path: "a.yaml", text: "a: {DOMAIN}\nb: {{DOMAIN}}\nc: ${DOMAIN} $HOME ${HOME}\nd: {lower}\ne: {MISSING}\nf: '{\"json\": 1}'\ng: {REGISTRY}/x\nh: {{REGISTRY}}/y\n" }],
      { registry, layout: "host", images: [], settings },
    );
    assert.equal(r.files[0]!.text, "a: example.org\nb: example.org\nc: ${DOMAIN} $HOME ${HOME}\nd: yes\ne: {MISSING}\nf: '{\"json\": 1}'\ng: 10.0.0.5:5000/x\nh: 10.0.0.5:5000/y\n");
    assert.deepEqual(r.unresolved, [{ file: "a.yaml", line: 5, text: "{MISSING}", reason: "no value for MISSING" }]);
  });

  test("strip-host: each bundled image's reference moves with it, and no other", () => {
    const images = [parseReference("docker.io/library/nginx:1.25"), parseReference("gcr.io/a/b:1")];
    const text = "x: {{REGISTRY}}/docker.io/library/nginx:1.25\ny: {{REGISTRY}}/gcr.io/a/b@sha256:" + "0".repeat(64) + "\nz: {{REGISTRY}}/gcr.io/a/bc:1\n";
    const r = renderManifests([{ path: "m.yaml", text }], { registry: { host: "r:5000", prefix: "proj" }, layout: "strip-host", images, settings: new Map() });
    assert.equal(r.files[0]!.text, "x: r:5000/proj/library/nginx:1.25\ny: r:5000/proj/a/b@sha256:" + "0".repeat(64) + "\nz: r:5000/proj/gcr.io/a/bc:1\n");
  });

  test("the redactor masks secret values, also as JSON writes them", () => {
    const red = new Redactor(['pa"ss', "abc"]);
    assert.equal(red.redact(`x pa"ss y abc ${JSON.stringify({ p: 'pa"ss' })}`), 'x *** y *** {"p":"***"}');
  });

  test("the plan: files in natural order, Namespaces then CRDs first within a file, Lists expanded, bad documents named", () => {
    const doc = (kind: string, name: string, apiVersion = "v1") => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${name}}\n`;
    const plan = planInstall([
      { path: "10.yaml", text: doc("ConfigMap", "ten") },
      { path: "2.yaml", text: [doc("ConfigMap", "two"), doc("CustomResourceDefinition", "crd", "apiextensions.k8s.io/v1"), doc("Namespace", "ns")].join("---\n") },
      { path: "3.yaml", text: `apiVersion: v1\nkind: List\nitems:\n- ${doc("Secret", "s").replace(/\n(?=.)/g, "\n  ")}` },
    ]);
    assert.deepEqual(plan.map((p) => `${p.file} ${p.object.kind}/${p.object.metadata.name}`), ["2.yaml Namespace/ns", "2.yaml CustomResourceDefinition/crd", "2.yaml ConfigMap/two", "3.yaml Secret/s", "10.yaml ConfigMap/ten"]);
    assert.throws(() => planInstall([{ path: "bad.yaml", text: "kind: X\n---\napiVersion: v1\nkind: Y\nmetadata: {}\n---\n: : :\n" }]), (err: AirgapError) => {
      assert.equal(err.code, "INVALID_MANIFEST");
      assert.ok(err.problems.length >= 1 && err.problems.every((p) => p.file === "bad.yaml"));
      return true;
    });
  });
});
