import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { formatReference, manifestSelector, parseReference } from "../../src/reference/reference.js";
import { AirgapError } from "../../src/errors.js";

const D = "sha256:d066ae5b642885827506610ae25728d442ce11447b82df6e9cc4c174bb97ecb3";

/** input → normalised form */
const VALID: Array<[string, string]> = [
  ["mysql", "docker.io/library/mysql:latest"],
  ["mysql:8.0", "docker.io/library/mysql:8.0"],
  ["mysql:5.6", "docker.io/library/mysql:5.6"],
  ["library/mysql:8.0", "docker.io/library/mysql:8.0"],
  ["docker.io/mysql:8.0", "docker.io/library/mysql:8.0"],
  ["docker.io/library/mysql:8.0", "docker.io/library/mysql:8.0"],
  ["index.docker.io/mysql", "docker.io/library/mysql:latest"],
  ["index.docker.io/kfserving/agent:v0.5.1", "docker.io/kfserving/agent:v0.5.1"],
  ["registry-1.docker.io/library/busybox:1", "docker.io/library/busybox:1"],
  ["kfserving/agent:v0.5.1", "docker.io/kfserving/agent:v0.5.1"],
  ["tensorflow/serving:1.14.0-gpu", "docker.io/tensorflow/serving:1.14.0-gpu"],
  ["gcr.io/kubeflow-images-public/tf_operator:v1", "gcr.io/kubeflow-images-public/tf_operator:v1"],
  ["gcr.io/a/b/c/d:e", "gcr.io/a/b/c/d:e"],
  ["GCR.IO/a:b", "gcr.io/a:b"],
  ["localhost/app", "localhost/app:latest"],
  ["localhost:5000/app:1", "localhost:5000/app:1"],
  ["127.0.0.1:5401/kserve/agent:v1", "127.0.0.1:5401/kserve/agent:v1"],
  ["[::1]:5000/app:1", "[::1]:5000/app:1"],
  ["my-registry.local:443/a/b", "my-registry.local:443/a/b:latest"],
  ["nvcr.io/nvidia/tritonserver:20.08-py3", "nvcr.io/nvidia/tritonserver:20.08-py3"],
  ["mcr.microsoft.com/onnxruntime/server:v1.0.0", "mcr.microsoft.com/onnxruntime/server:v1.0.0"],
  [`gcr.io/knative-releases/knative.dev/serving/cmd/queue@${D}`, `gcr.io/knative-releases/knative.dev/serving/cmd/queue@${D}`],
  [`mysql:8.0@${D}`, `docker.io/library/mysql:8.0@${D}`],
  [`mysql@${D}`, `docker.io/library/mysql@${D}`],
  [`busybox@sha512:${"ab".repeat(64)}`, `docker.io/library/busybox@sha512:${"ab".repeat(64)}`],
  ["a_b/c__d/e-f/g--h/i.j:T_a.g-1", "docker.io/a_b/c__d/e-f/g--h/i.j:T_a.g-1"],
  ["gcr.io/ml-pipeline/minio:RELEASE.2019-08-14T20-37-41Z-license-compliance", "gcr.io/ml-pipeline/minio:RELEASE.2019-08-14T20-37-41Z-license-compliance"],
  [`x:${"t".repeat(128)}`, `docker.io/library/x:${"t".repeat(128)}`],
  ["localhost:5000", "docker.io/library/localhost:5000"],
];

/** input → a part of the reason */
const INVALID: Array<[string, RegExp]> = [
  ["", /empty reference/],
  ["UPPER/case:1", /must be lowercase/],
  ["docker.io/Library/mysql", /must be lowercase/],
  ["MySQL:8.0", /must be lowercase/],
  ["foo:bar:baz", /invalid tag "bar:baz"/],
  ["x@sha256:123", /64 hex digits, got 3/],
  [`x@md5:${"a".repeat(32)}`, /unsupported digest algorithm "md5"/],
  [`x@sha256:${"A".repeat(64)}`, /lower-case hex/],
  ["x@sha256", /no algorithm/],
  [`x@${D}@${D}`, /more than one "@"/],
  ["a//b", /empty path component/],
  ["gcr.io//b:1", /empty path component/],
  ["a/b/", /empty path component/],
  ["/a", /empty path component/],
  ["x:", /empty tag/],
  ["x:.tag", /invalid tag/],
  ["x:-tag", /invalid tag/],
  ["x:t@g", /64 hex digits|no algorithm|invalid/],
  [`x:${"t".repeat(129)}`, /129 characters long, at most 128/],
  [`gcr.io/${"a".repeat(250)}:1`, /at most 255/],
  ["my image:1", /white space/],
  ["https://gcr.io/a:b", /scheme/],
  ["a/-b", /invalid repository path component "-b"/],
  ["a/b_:1", /invalid repository path component/],
  ["host.io:99999/a", /invalid port/],
  ["host.io:http/a", /invalid port/],
  ["-host.io/a", /invalid registry host/],
  [":tag", /empty repository name/],
];

describe("parseReference", () => {
  for (const [input, want] of VALID) {
    test(`normalises ${JSON.stringify(input)} to ${want}`, () => {
      const ref = parseReference(input);
      assert.equal(formatReference(ref), want);
      // Normalising is idempotent.
      assert.equal(formatReference(parseReference(want)), want);
    });
  }
  for (const [input, reason] of INVALID) {
    test(`rejects ${JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input)}`, () => {
      assert.throws(
        () => parseReference(input),
        (err: unknown) => err instanceof AirgapError && err.code === "INVALID_REFERENCE" && reason.test(err.message),
      );
    });
  }

  test("keeps tag and digest; the digest wins for pulling", () => {
    const ref = parseReference(`mysql:8.0@${D}`);
    assert.equal(ref.tag, "8.0");
    assert.equal(ref.digest, D);
    assert.equal(manifestSelector(ref), D);
    assert.equal(manifestSelector(parseReference("mysql:8.0")), "8.0");
  });

  test("a digest-only reference gets no tag", () => {
    assert.equal(parseReference(`mysql@${D}`).tag, undefined);
  });

  test("defaultTag: false parses a repository reference without adding latest", () => {
    const ref = parseReference("tensorflow/serving", { defaultTag: false });
    assert.equal(formatReference(ref), "docker.io/tensorflow/serving");
    assert.equal(ref.tag, undefined);
  });

  test("splits host and path", () => {
    const ref = parseReference("localhost:5000/team/app:1");
    assert.deepEqual(ref, { domain: "localhost:5000", path: "team/app", tag: "1" });
  });
});

describe("the ai-devops 5.1 fixture", () => {
  const fixture = readFileSync(new URL("../fixtures/ai-devops-5.1.imagelist", import.meta.url), "utf8");
  const cleaned = readFileSync(new URL("../../imagelist", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"));
  const lines = fixture.split("\n").map((l) => l.trim()).filter((l) => l !== "");

  test("every line normalises to an entry of the cleaned top-level imagelist", () => {
    assert.equal(lines.length, 70);
    for (const line of lines) {
      const normalized = formatReference(parseReference(line));
      assert.ok(cleaned.includes(normalized), `${line} → ${normalized} is not in ./imagelist`);
    }
  });

  test("the cleaned imagelist holds each fixture image exactly once, normalised", () => {
    const distinct = new Set(lines.map((l) => formatReference(parseReference(l))));
    assert.equal(cleaned.length, distinct.size);
    assert.deepEqual(new Set(cleaned), distinct);
    for (const entry of cleaned) assert.equal(formatReference(parseReference(entry)), entry);
  });

  test("short names gain docker.io and library/", () => {
    assert.equal(formatReference(parseReference("mysql:5.6")), "docker.io/library/mysql:5.6");
    assert.equal(formatReference(parseReference("kfserving/alibi-explainer:v0.5.1")), "docker.io/kfserving/alibi-explainer:v0.5.1");
    assert.equal(formatReference(parseReference("tmaxcloudck/notebook-controller-go:b0.2.3")), "docker.io/tmaxcloudck/notebook-controller-go:b0.2.3");
  });
});
