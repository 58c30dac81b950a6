import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable } from "../../src/cli/table.js";

test("a table of 200k rows (a diff of every tag of a large site) is formatted, columns padded to the widest cell", () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => [`repo/${i}`, `v${i}`, "added"]);
  const text = formatTable(["REPOSITORY", "TAG", "CHANGE"], rows);
  const lines = text.split("\n");
  assert.equal(lines.length, 200_001);
  assert.equal(lines[0], "REPOSITORY   TAG      CHANGE");
  assert.equal(lines[1], "repo/0       v0       added");
});

test("on a terminal a table fits its width: the widest columns give way, long cells keep their start and end", () => {
  const rows = [
    ["registry.corp.example:5000/kubeflow-images-public/tf_operator:v1.0.0-g92389064", "10.0.0.5:5000/registry.corp.example-5000/kubeflow-images-public/tf_operator:v1.0.0-g92389064", "sha256:851c2b64f3f3", "3/0/0", "yes"],
    ["docker.io/library/redis:7.2", "10.0.0.5:5000/docker.io/library/redis:7.2", "sha256:0123456789ab", "2/1/0", "yes"],
  ];
  for (const width of [80, 100, 120]) {
    const lines = formatTable(["IMAGE", "TARGET", "DIGEST", "PUSHED/SKIPPED/MOUNTED", "VERIFIED"], rows, { width, shrink: [0, 1, 4] }).split("\n");
    for (const line of lines) assert.ok(line.length <= width, `${width}: ${line.length} columns: ${line}`);
    assert.match(lines[1]!, /^regis\S*…\S*89064 /, "a shortened name keeps its start and its end");
    assert.match(lines[1]!, / sha256:851c2b64f3f3 {2}3\/0\/0 /, "digests and counts are whole");
  }
  const piped = formatTable(["IMAGE", "TARGET"], rows.map((r) => [r[0]!, r[1]!]), { width: undefined });
  assert.ok(piped.includes(rows[0]![1]!), "without a width nothing is shortened");
});
