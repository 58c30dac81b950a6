import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AirgapError } from "../../src/errors.js";
import { formatReference, parseReference } from "../../src/reference/reference.js";
import {
  assertNoTargetCollisions,
  parseRegistry,
  REGISTRY_PLACEHOLDER,
  targetReference,
} from "../../src/reference/target.js";

const D = "sha256:d066ae5b642885827506610ae25728d442ce11447b82df6e9cc4c174bb97ecb3";
const reg = parseRegistry("10.0.0.5:5000");

describe("targetReference", () => {
  const cases: Array<[string, string, string]> = [
    ["gcr.io/kubeflow-images-public/tf_operator:v1", "10.0.0.5:5000", "10.0.0.5:5000/gcr.io/kubeflow-images-public/tf_operator:v1"],
    ["mysql:8.0", "10.0.0.5:5000", "10.0.0.5:5000/docker.io/library/mysql:8.0"],
    ["localhost:5000/app:1", "10.0.0.5:5000", "10.0.0.5:5000/localhost-5000/app:1"],
    [`gcr.io/knative-releases/knative.dev/serving/cmd/queue@${D}`, "reg.local", `reg.local/gcr.io/knative-releases/knative.dev/serving/cmd/queue@${D}`],
    [`mysql:8.0@${D}`, "reg.local", `reg.local/docker.io/library/mysql:8.0@${D}`],
    ["kfserving/agent:v0.5.1", "harbor.local/ai-devops", "harbor.local/ai-devops/docker.io/kfserving/agent:v0.5.1"],
    ["127.0.0.1:5401/kserve/agent:v1", "127.0.0.1:5402", "127.0.0.1:5402/127.0.0.1-5401/kserve/agent:v1"],
  ];
  for (const [source, registry, want] of cases) {
    test(`maps ${source} to ${want}`, () => {
      const target = targetReference(parseReference(source), parseRegistry(registry));
      assert.equal(target, want);
      // The target is itself a valid reference with the same tag and digest.
      const parsed = parseReference(target);
      assert.equal(parsed.tag, parseReference(source).tag);
      assert.equal(parsed.digest, parseReference(source).digest);
    });
  }

  test("the manifest rewrite uses the {{REGISTRY}} placeholder with the same path", () => {
    assert.equal(
      targetReference(parseReference("gcr.io/a/b:1"), REGISTRY_PLACEHOLDER),
      "{{REGISTRY}}/gcr.io/a/b:1",
    );
  });

  test("strip-host drops the source host", () => {
    assert.equal(targetReference(parseReference("127.0.0.1:5401/kserve/agent:v1"), parseRegistry("127.0.0.1:5402"), "strip-host"), "127.0.0.1:5402/kserve/agent:v1");
    assert.equal(targetReference(parseReference("mysql:8.0"), reg, "strip-host"), "10.0.0.5:5000/library/mysql:8.0");
  });

  test("strip-host refuses two source repositories that would land on one target", () => {
    const refs = ["docker.io/library/x:1", "quay.io/library/x:2", "gcr.io/y:1"].map((r) => parseReference(r));
    assert.throws(
      () => assertNoTargetCollisions(refs, "strip-host"),
      (err: unknown) => err instanceof AirgapError && err.code === "TARGET_COLLISION" && /docker\.io\/library\/x and quay\.io\/library\/x/.test(err.message),
    );
    assertNoTargetCollisions(refs, "host");
    // Two tags of one repository are not a collision.
    assertNoTargetCollisions(["a/x:1", "a/x:2"].map((r) => parseReference(r)), "strip-host");
  });

  test("an IPv6 source host becomes a valid path component, as a port does", () => {
    const target = targetReference(parseReference("[::1]:5000/a:1"), reg);
    assert.equal(target, "10.0.0.5:5000/ipv6---1-5000/a:1");
    assert.equal(formatReference(parseReference(target)), target, "the target parses as a reference");
    assert.equal(targetReference(parseReference("[FE80::A]/b@sha256:" + "a".repeat(64)), reg), `10.0.0.5:5000/ipv6-fe80--a/b@sha256:${"a".repeat(64)}`);
  });
});

describe("parseRegistry", () => {
  test("reads host, port and prefix", () => {
    assert.deepEqual(parseRegistry("10.0.0.5:5000"), { host: "10.0.0.5:5000" });
    assert.deepEqual(parseRegistry("Harbor.Local/ai-devops/"), { host: "harbor.local", prefix: "ai-devops" });
    assert.deepEqual(parseRegistry("localhost:5000/a/b"), { host: "localhost:5000", prefix: "a/b" });
  });
  for (const bad of ["http://10.0.0.5:5000", "", "registry/x", "host.io:0", "reg.local/UP", "reg.local//x"]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseRegistry(bad), (err: unknown) => err instanceof AirgapError && err.code === "INVALID_REGISTRY");
    });
  }
});
