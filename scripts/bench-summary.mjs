#!/usr/bin/env node
// Summarises a shared-bench run (results.tsv): median wall seconds, MB/s of unique blob bytes, the
// ratio of this tool to sequential skopeo from the SAME run, peak RSS and output size ÷ unique bytes.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const run = process.argv[2];
const rows = readFileSync(join(run, "results.tsv"), "utf8").trim().split("\n");
const head = rows.shift().split("\t");
const data = rows.map((r) => Object.fromEntries(r.split("\t").map((v, i) => [head[i], v])));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const summary = (phase, method) => {
  const ok = data.filter((r) => r.phase === phase && r.method === method && r.rc === "0");
  const all = data.filter((r) => r.phase === phase && r.method === method);
  if (ok.length === 0) return undefined;
  const wall = median(ok.map((r) => Number(r.wall_s)));
  const unique = Number(ok[0].basis_bytes);
  return {
    method, reps: `${ok.length}/${all.length}`, wall, mbps: unique / 1e6 / wall,
    rssMB: Math.max(...ok.map((r) => Number(r.maxrss_kb) / 1024)),
    outRatio: Number(ok.at(-1).out_bytes) / unique, verify: ok.at(-1).verify, unique,
  };
};
for (const phase of ["save", "load"]) {
  const tool = summary(phase, "airgap-bundle");
  const skopeo = summary(phase, "skopeo-seq");
  if (!tool) continue;
  const lines = [`${phase.toUpperCase()} (median of ${tool.reps} repetitions, ${(tool.unique / 1e6).toFixed(0)} MB unique blob bytes)`];
  const others = ["skopeo-seq", "skopeo-par-onelayout", "skopeo-par", "skopeo-par-blobdir"].map((m) => summary(phase, m)).filter(Boolean);
  // The parallel one-layout save loses images (a skopeo race); it is not a valid best.
  const best = others.filter((s) => !(phase === "save" && s.method === "skopeo-par-onelayout")).sort((x, y) => y.mbps - x.mbps)[0];
  for (const s of [...others, tool]) {
    lines.push(`  ${s.method.padEnd(20)} ${s.wall.toFixed(2).padStart(7)} s ${s.mbps.toFixed(1).padStart(7)} MB/s  peak RSS ${s.rssMB.toFixed(0).padStart(4)} MB  output/unique ${s.outRatio.toFixed(4)}  ${s.verify}`);
  }
  if (skopeo) lines.push(`  ratio airgap-bundle / sequential skopeo (same run): ${(tool.mbps / skopeo.mbps).toFixed(2)}×`);
  if (best) lines.push(`  ratio airgap-bundle / best skopeo (${best.method}, same run): ${(tool.mbps / best.mbps).toFixed(2)}×`);
  console.log(lines.join("\n"));
}
