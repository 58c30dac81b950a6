import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AirgapError } from "../../src/errors.js";
import { parseImagelist } from "../../src/reference/imagelist.js";

const D = "sha256:d066ae5b642885827506610ae25728d442ce11447b82df6e9cc4c174bb97ecb3";

function invalidLines(text: string): number[] {
  try {
    parseImagelist(text, "list");
  } catch (err) {
    assert.ok(err instanceof AirgapError && err.code === "INVALID_IMAGELIST", String(err));
    return err.problems.map((p) => p.line ?? -1);
  }
  assert.fail("expected INVALID_IMAGELIST");
}

describe("parseImagelist", () => {
  test("reads comments, blank lines, CRLF, surrounding white space and a BOM", () => {
    const text = "\uFEFF# header\r\n\r\n  mysql:8.0   \r\nkfserving/agent:v0.5.1 # trailing comment\r\n\t# indented comment\r\n\tgcr.io/a/b:c\t\r\n";
    const list = parseImagelist(text, "list");
    assert.deepEqual(
      list.entries.map((e) => [e.line, e.source, e.normalized]),
      [
        [3, "mysql:8.0", "docker.io/library/mysql:8.0"],
        [4, "kfserving/agent:v0.5.1", "docker.io/kfserving/agent:v0.5.1"],
        [6, "gcr.io/a/b:c", "gcr.io/a/b:c"],
      ],
    );
    assert.deepEqual(list.warnings, []);
  });

  test("drops duplicates after normalisation with a warning naming both lines", () => {
    const list = parseImagelist(`mysql:8.0\nx@${D}\ndocker.io/library/mysql:8.0\nx@${D}\nindex.docker.io/mysql:8.0\n`, "list");
    assert.deepEqual(list.entries.map((e) => e.line), [1, 2]);
    assert.deepEqual(
      list.warnings.map((w) => [w.line, w.reason]),
      [
        [3, "duplicate of line 1 (docker.io/library/mysql:8.0); dropped"],
        [4, `duplicate of line 2 (docker.io/library/x@${D}); dropped`],
        [5, "duplicate of line 1 (docker.io/library/mysql:8.0); dropped"],
      ],
    );
  });

  test("a tag and a digest of the same repository are different entries", () => {
    const list = parseImagelist(`mysql:8.0\nmysql@${D}\nmysql:8.1@${D}\n`, "list");
    assert.equal(list.entries.length, 3);
  });

  test("two images for one target tag are refused, both lines named (the tag would flip between loads)", () => {
    assert.throws(
      () => parseImagelist(`nginx:1.25.3\n# comment\nnginx:1.25.3@${D}\n`, "list"),
      (err: unknown) =>
        err instanceof AirgapError && err.code === "INVALID_IMAGELIST" &&
        err.problems.length === 1 && err.problems[0]!.line === 3 &&
        /the tag docker\.io\/library\/nginx:1\.25\.3 is also given by line 1 \(docker\.io\/library\/nginx:1\.25\.3\)/.test(err.problems[0]!.reason),
    );
  });

  test("lists EVERY invalid line with its number, not just the first", () => {
    assert.deepEqual(invalidLines("UPPER/case:1\nmysql:8.0\nfoo:bar:baz\n# ok\nx@sha256:123\n"), [1, 3, 5]);
  });

  test("the error message counts the bad lines and each problem names file, line and text", () => {
    try {
      parseImagelist("ok:1\nbad//x\n", "my.list");
      assert.fail("expected an error");
    } catch (err) {
      assert.ok(err instanceof AirgapError);
      assert.equal(err.message, "my.list: 1 invalid line");
      assert.deepEqual(err.problems, [{ file: "my.list", line: 2, text: "bad//x", reason: 'empty path component in repository "bad//x"' }]);
    }
  });

  test("an empty list is an error", () => {
    assert.throws(() => parseImagelist("# nothing here\n\n   \n", "empty.list"), /empty\.list: the imagelist has no images/);
    assert.throws(() => parseImagelist("", "empty.list"), /has no images/);
  });

  test("the shared fixture: 68 images, the pytorch-mnist and knative queue duplicates reported", async () => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(new URL("../fixtures/ai-devops-5.1.imagelist", import.meta.url), "utf8");
    const list = parseImagelist(text, "fixture");
    assert.equal(list.entries.length, 68);
    assert.deepEqual(list.warnings.map((w) => w.line), [30, 43]);
    assert.match(list.warnings[0]?.reason ?? "", /duplicate of line 29 \(docker\.io\/kubeflowkatib\/pytorch-mnist:v1beta1-45c5727\)/);
    assert.match(list.warnings[1]?.reason ?? "", /duplicate of line 42 \(gcr\.io\/knative-releases\/knative\.dev\/serving\/cmd\/queue@sha256:d066ae/);
  });
});
