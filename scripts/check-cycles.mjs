#!/usr/bin/env node
// Part of `npm run lint`: no import circle among the files of src/ (a file that, through its imports, imports
// itself), type-only imports included. Prints each circle found and exits 1.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

const files = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
});
const IMPORT = /(?:\bfrom|\bimport\(?)\s*["'](\.[^"']+)["']/g;
const edges = new Map(files("src").map((file) => [file, [...readFileSync(file, "utf8").matchAll(IMPORT)].map((m) => normalize(join(dirname(file), m[1])).replace(/\.js$/, ".ts"))]));

const circles = new Set();
const state = new Map(); // 1: on the current path, 2: done
const path = [];
function visit(file) {
  state.set(file, 1);
  path.push(file);
  for (const next of edges.get(file) ?? []) {
    if (state.get(next) === 1) circles.add([...path.slice(path.indexOf(next)), next].join(" -> "));
    else if (!state.has(next) && edges.has(next)) visit(next);
  }
  path.pop();
  state.set(file, 2);
}
for (const file of edges.keys()) if (!state.has(file)) visit(file);
for (const c of circles) console.error(`import circle: ${c}`);
process.exit(circles.size > 0 ? 1 : 0);
