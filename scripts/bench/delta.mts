/**
 * `ONLY=delta npm run bench`: what a delta carries and what it costs. v1 of the workload is saved and loaded into
 * a site registry, which is inventoried; v2 (CHANGED of the unique bytes new, every image re-tagged) is then saved
 * twice per repetition — whole, and `--since` the inventory — and the delta is loaded into the site. Reported: the
 * delta's blob bytes ÷ the bytes of blobs v2 has and the site lacks (target ≤ 1.01), the time of `save --since`
 * beside the whole save (it should grow with the new bytes, not with the whole), and the delta's load, every v2
 * digest checked in the site.
 */
import { execFile } from "node:child_process";
import { readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { BundleReader } from "../../src/bundle/reader.js";
import { exact, median, q, timed, type Run } from "./measure.mjs";
import { startBenchRegistry, type BenchRegistry } from "./registry.mjs";
import type { Workload } from "./workload.mjs";

const exec = promisify(execFile);

/** What the delta bench needs from the main harness. */
export interface DeltaBench {
  cli: string;
  out: string;
  source: BenchRegistry;
  v1: Workload;
  v2: Workload;
  reps: number;
  changed: number;
  log: (line: string) => void;
}

/** Pushes a workload's images into the source registry (once: a marker file remembers it). */
export async function pushWorkload(source: BenchRegistry, workload: Workload, marker: string, log: (line: string) => void): Promise<void> {
  const done = join(source.storage, marker);
  if (await stat(done).then(() => true, () => false)) return;
  for (const image of workload.images) {
    await exec("skopeo", ["copy", "--all", "--preserve-digests", "--dest-tls-verify=false", `oci:${workload.layout}:${image.name}`, `docker://${source.host}/${image.name}`]);
    log(`bench: pushed ${image.name}`);
  }
  await writeFile(done, "");
}

/** Digests of a workload layout's blobs, with sizes. */
async function layoutBlobs(w: Workload): Promise<Map<string, number>> {
  const dir = join(w.layout, "blobs", "sha256");
  const out = new Map<string, number>();
  for (const hex of await readdir(dir)) out.set(hex, (await stat(join(dir, hex))).size);
  return out;
}

/** Runs the delta bench and prints its lines. */
export async function benchDelta(b: DeltaBench): Promise<void> {
  const { cli, out, source, v1, v2 } = b;
  const list = async (w: Workload, file: string) => (await writeFile(file, w.images.map((i) => `${source.host}/${i.ref}`).join("\n") + "\n"), file);
  const v1List = await list(v1, join(out, "imagelist-v1"));
  const v2List = await list(v2, join(out, "imagelist-v2"));
  const save = (imagelist: string, dir: string, version: string, extra = "") =>
    `node ${q(cli)} save --quiet --all-platforms --name bench --version ${version} --imagelist ${q(imagelist)} --out ${q(dir)} --cache-dir ${q(`${dir}.cache`)} ${extra}`;
  // What the site lacks: the v2 blobs that v1 does not have (manifests, configs and layers).
  const [a, c] = await Promise.all([layoutBlobs(v1), layoutBlobs(v2)]);
  const lacking = [...c].filter(([hex]) => !a.has(hex)).reduce((n, [, size]) => n + size, 0);
  const runs: Run[] = [];
  const carried: number[] = [];
  for (let rep = 1; rep <= b.reps; rep++) {
    b.log(`bench: delta repetition ${rep} of ${b.reps}`);
    const site = await startBenchRegistry(join(out, `site-${rep}`));
    try {
      const v1Dir = join(out, `v1-${rep}`);
      await exec("bash", ["-c", `${save(v1List, v1Dir, "1")} && node ${q(cli)} load ${q(join(v1Dir, "bench-1.tar"))} --registry ${site.host} --target-layout strip-host --no-install --quiet >/dev/null`]);
      const inventory = join(out, `site-${rep}.json`);
      // The site's registry, and the last bundle for the images it names by digest (they have no tag there).
      await exec("node", [cli, "inventory", "--registry", site.host, "--from-bundle", join(v1Dir, "bench-1.tar"), "--target-layout", "strip-host", "-o", inventory, "--quiet"]);
      const whole = join(out, `v2-${rep}`);
      runs.push({ tool: "airgap-bundle", op: "save", rep, ...(await timed(save(v2List, whole, "2"), [source])) });
      const delta = join(out, `delta-${rep}`);
      runs.push({ tool: "airgap-bundle --since", op: "delta-save", rep, ...(await timed(save(v2List, delta, "2", `--since ${q(inventory)}`), [source])) });
      const reader = await BundleReader.open(join(delta, "bench-2.tar"));
      carried.push([...reader.entries.values()].filter((e) => e.type === "file" && e.name.startsWith("blobs/sha256/")).reduce((n, e) => n + e.size, 0));
      await reader.close();
      const load = await timed(`node ${q(cli)} load ${q(join(delta, "bench-2.tar"))} --registry ${site.host} --target-layout strip-host --no-install --quiet >/dev/null`, [site]);
      runs.push({ tool: "airgap-bundle", op: "delta-load", rep, ...load, exact: await exact(site, v2, (name) => name) });
      await Promise.all([v1Dir, whole, delta].flatMap((d) => [rm(d, { recursive: true, force: true }), rm(`${d}.cache`, { recursive: true, force: true })]));
    } finally {
      await site.stop();
    }
  }
  const med = (op: string, f: (r: Run) => number) => median(runs.filter((r) => r.op === op).map(f));
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const deltaExact = Math.min(...runs.filter((r) => r.op === "delta-load").map((r) => r.exact!));
  process.stdout.write(
    `\n${v2.images.length} images, ${mb(v2.uniqueBytes)} of unique blobs in v2, ${(b.changed * 100).toFixed(0)}% asked to change: the site lacks ${mb(lacking)}; medians of ${b.reps}\n\n` +
      `| step | wall s | peak RSS MB | CPU s | exact |\n| --- | --- | --- | --- | --- |\n` +
      `| save v2 whole | ${med("save", (r) => r.seconds).toFixed(2)} | ${med("save", (r) => r.rssMb).toFixed(0)} | ${med("save", (r) => r.cpuSeconds).toFixed(1)} |  |\n` +
      `| save v2 --since inventory | ${med("delta-save", (r) => r.seconds).toFixed(2)} | ${med("delta-save", (r) => r.rssMb).toFixed(0)} | ${med("delta-save", (r) => r.cpuSeconds).toFixed(1)} |  |\n` +
      `| load the delta into the site | ${med("delta-load", (r) => r.seconds).toFixed(2)} | ${med("delta-load", (r) => r.rssMb).toFixed(0)} | ${med("delta-load", (r) => r.cpuSeconds).toFixed(1)} | ${deltaExact}/${v2.images.length} |\n\n` +
      `delta: carries ${mb(median(carried))} for ${mb(lacking)} the site lacks: ${(median(carried) / lacking).toFixed(4)} (target ≤ 1.01); ` +
      `save --since ${med("delta-save", (r) => r.seconds).toFixed(2)} s = ${((100 * med("delta-save", (r) => r.seconds)) / med("save", (r) => r.seconds)).toFixed(0)}% of the whole save\n`,
  );
}
