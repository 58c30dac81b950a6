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
