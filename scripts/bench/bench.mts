#!/usr/bin/env -S node --import tsx
/**
 * npm run bench — `bundle save` and `bundle load` against skopeo on the same workload, in the same run.
 *
 * 1. The workload (workload.mts, ~1.14 GB × SCALE of unique blobs) is made once and pushed into a source
 *    registry whose storage is kept under BENCH_WORK, so later runs start at once.
 * 2. Each repetition runs, tool after tool (the peers of peers.mts, then ours): its save, then its load of what it
 *    saved into a fresh target registry (ours twice: the second a no-op re-load), then its output is removed.
 * 3. Every load is checked: each image's digest in the target is exactly the source's; every bundle of ours passes
 *    `sha256sum -c` and `bundle verify --deep` (untimed).
 * 4. Medians: wall seconds, MB/s of unique blob bytes, peak RSS (GNU time), CPU seconds of the tool and of the
 *    registries, the ratio against skopeo's best, and the bundle's size ÷ the unique bytes.
 *
 * Settings: SCALE (1), REPS (3), PAR (4), BENCH_WORK (/tmp/airgap-bench), SEED (airgap-bench), ONLY (save|load|delta|serve),
 * COMPARE (another checkout of this project, built: its save and load run too, as `airgap-bundle@compare`, for an
 * A/B of a change in one run), PEERS (which peers run: `none`, or names such as `oras,skopeo`; default all),
 * MIRROR=1 (our save again, every image read through a pull-through mirror — the source registry named as its own
 * mirror, --mirror-only — as `airgap-bundle via mirror`: what reading through mirrors costs)., CHANGED (0.1: the share of new bytes in v2 for ONLY=delta, scripts/bench/delta.mts).
 * WORKLOAD=large: one image with one 3 GB layer (× SCALE) instead of the platform.
 * ONLY=serve pulls the workload from `bundle serve` and from distribution 2.8 holding the same (scripts/bench/serve.mts).
 * Needs Debian's docker-registry, skopeo and time (GNU time for peak RSS).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchDelta, pushWorkload } from "./delta.mjs";
import { exact, median, q, timed, type Run } from "./measure.mjs";
import { benchPeers, peersBin, SAME_ARTIFACT, type BenchRef, type Peer } from "./peers.mjs";
import { benchServe } from "./serve.mjs";
import { startBenchRegistry } from "./registry.mjs";
import { LARGE_IMAGES, makeWorkload, type Workload } from "./workload.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist", "bin", "main.js");
const SCALE = Number(process.env.SCALE ?? 1);
const REPS = Number(process.env.REPS ?? 3);
const PAR = Number(process.env.PAR ?? 4);
const WORK = process.env.BENCH_WORK ?? "/tmp/airgap-bench";
const SEED = process.env.SEED ?? "airgap-bench";
const ONLY = process.env.ONLY;
const COMPARE = process.env.COMPARE;
const PEERS = process.env.PEERS;
const MIRROR = process.env.MIRROR === "1";
const CHANGED = Number(process.env.CHANGED ?? 0.1);
const LARGE = process.env.WORKLOAD === "large";

const log = (line: string) => process.stderr.write(`${line}\n`);

for (const tool of ["docker-registry", "skopeo", "/usr/bin/time"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    log(`bench: ${tool} is missing: apt-get install -y docker-registry skopeo time`);
    process.exit(2);
  }
}
if (!(SCALE > 0) || !(REPS >= 1)) {
  log("bench: SCALE must be > 0 and REPS ≥ 1");
  process.exit(2);
}



async function main(): Promise<void> {
  execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" });
  await mkdir(WORK, { recursive: true });
  const workload = await makeWorkload(WORK, SCALE, SEED, log, undefined, LARGE ? { name: "-large", images: LARGE_IMAGES } : undefined);
  log(`bench: ${workload.images.length} images, ${(workload.uniqueBytes / 1e9).toFixed(2)} GB of unique blobs (SCALE=${SCALE})`);
  const source = await startBenchRegistry(join(WORK, `source-${SEED}${LARGE ? "-large" : ""}-x${SCALE}`));
  const runs: Run[] = [];
  const checks: boolean[] = [];
  const missingPeers: string[] = [];
  try {
    await pushWorkload(source, workload, "pushed", log);
    const out = join(WORK, "out");
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    if (ONLY === "delta") {
      // Both versions made by the same code (the main workload may have been made by an older one).
      const v1 = await makeWorkload(WORK, SCALE, SEED, log, { name: "v1", changed: 0 });
      const v2 = await makeWorkload(WORK, SCALE, SEED, log, { name: "v2", changed: CHANGED });
      await pushWorkload(source, v1, "pushed-v1-0", log);
      await pushWorkload(source, v2, `pushed-v2-${CHANGED}`, log);
      await benchDelta({ cli: CLI, out, source, v1, v2, reps: REPS, changed: CHANGED, log });
      return;
    }
    if (ONLY === "serve") {
      await benchServe({ cli: CLI, out, source, workload, peersBin: peersBin(ROOT), reps: REPS, par: PAR, log });
      return;
    }
    const imagelist = join(out, "imagelist");
    await writeFile(imagelist, workload.images.map((i) => `${source.host}/${i.ref}`).join("\n") + "\n");
    const refs: BenchRef[] = workload.images.map((i) => ({ src: `${source.host}/${i.ref}`, name: i.name }));
    await mkdir(join(WORK, "regctl-home"), { recursive: true });
    const all = benchPeers(ROOT, WORK, refs, PAR);
    const wanted = PEERS === undefined ? undefined : PEERS === "none" ? [] : PEERS.split(",").map((p) => p.trim());
    const peers = wanted === undefined ? all.peers : all.peers.filter((p) => wanted.some((w) => p.tool.startsWith(w)));
    const missing = wanted === undefined ? all.missing : all.missing.filter((m) => wanted.some((w) => m.startsWith(w)));
    missingPeers.push(...missing);
    for (const m of missing) log(`bench: a peer that could not be built: ${m}`);

    const bundleTar = (dir: string) => join(dir, "bench-1.tar");
    const saveWith = (cli: string, dir: string) => `node ${q(cli)} save --quiet --all-platforms --name bench --version 1 --imagelist ${q(imagelist)} --out ${q(dir)} --cache-dir ${q(`${dir}.cache`)}`;
    const build = (tool: string, cli: string, extra = ""): Peer => ({
      tool,
      save: (dir) => `${saveWith(cli, dir)}${extra} && rm -rf ${q(`${dir}.cache`)}`,
      load: (dir, t) => `node ${q(cli)} load ${q(bundleTar(dir))} --registry ${t} --target-layout strip-host --no-install --quiet >/dev/null`,
    });
    const ours = build("airgap-bundle", CLI);
    const compared = [
      ...(COMPARE ? [build("airgap-bundle@compare", join(COMPARE, "dist", "bin", "main.js"))] : []),
      ...(MIRROR ? [build("airgap-bundle via mirror", CLI, ` --mirror ${q(`${source.host}=${source.host}`)} --mirror-only`)] : []),
    ];
    for (let rep = 1; rep <= REPS; rep++) {
      log(`bench: repetition ${rep} of ${REPS}`);
      // Each tool saves, then loads what it saved into a fresh target, then its output is removed: at SCALE=8 the
      // outputs of every tool at once would not fit on a small disk.
      for (const tool of [...peers, ...compared, ours]) {
        const dir = join(out, `${tool.tool.replace(/[^a-z0-9]/gi, "_")}-${rep}`);
        try {
          const saved = await timed(tool.save(dir), [source]);
          runs.push({ tool: tool.tool, op: "save", rep, ...saved, ...((tool === ours || compared.includes(tool)) && { bundleBytes: (await stat(bundleTar(dir))).size }) });
          // Untimed: the closed side's two checks pass on every bundle of ours the bench makes.
          if (tool === ours) checks.push(spawnSync("bash", ["-c", `cd ${q(dir)} && sha256sum -c --quiet bench-1.tar.sha256 && node ${q(CLI)} verify --deep --quiet ${q(bundleTar(dir))}`]).status === 0);
          if (ONLY === "save") continue;
          const target = await startBenchRegistry(join(out, `target-${rep}`));
          try {
            runs.push({ tool: tool.tool, op: "load", rep, ...(await timed(tool.load(dir, target.host), [target])), exact: await exact(target, workload, (name) => name) });
            if (tool === ours) runs.push({ tool: tool.tool, op: "reload", rep, ...(await timed(tool.load(dir, target.host), [target])), exact: await exact(target, workload, (name) => name) });
          } finally {
            await target.stop();
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await source.stop({ keepStorage: true });
  }
  report(runs, workload, missingPeers);
  if (checks.length > 0) process.stdout.write(`our bundles passing sha256sum -c and verify --deep: ${checks.filter(Boolean).length}/${checks.length}\n`);
}


/** The table, then the lines scripts read. */
function report(runs: Run[], workload: Workload, missingPeers: readonly string[]): void {
  const mb = workload.uniqueBytes / 1e6;
  const rows: string[] = [];
  const line = (cells: string[]) => rows.push(`| ${cells.join(" | ")} |`);
  line(["op", "tool", "wall s", "MB/s", "peak RSS MB", "CPU s", "registry CPU s", "exact", "bundle ÷ unique"]);
  line(Array(9).fill("---"));
  const groups = new Map<string, Run[]>();
  for (const r of runs) groups.set(`${r.op}|${r.tool}`, [...(groups.get(`${r.op}|${r.tool}`) ?? []), r]);
  const speed = new Map<string, number>();
  for (const [key, rs] of groups) {
    const [op, tool] = key.split("|") as [string, string];
    const s = median(rs.map((r) => r.seconds));
    speed.set(key, mb / s);
    line([
      op, tool, s.toFixed(2), (mb / s).toFixed(1), median(rs.map((r) => r.rssMb)).toFixed(0), median(rs.map((r) => r.cpuSeconds)).toFixed(1),
      median(rs.map((r) => r.registryCpuSeconds)).toFixed(1),
      rs[0]!.exact === undefined ? "" : `${Math.min(...rs.map((r) => r.exact!))}/${workload.images.length}`,
      rs[0]!.bundleBytes === undefined ? "" : (median(rs.map((r) => r.bundleBytes!)) / workload.uniqueBytes).toFixed(4),
    ]);
  }
  process.stdout.write(`\n${workload.images.length} images, ${mb.toFixed(0)} MB of unique blobs (SCALE=${SCALE}), medians of ${REPS} repetition${REPS === 1 ? "" : "s"}\n\n${rows.join("\n")}\n\n`);
  const best = (op: string) => [...speed].filter(([k]) => k.startsWith(`${op}|`) && !k.includes("|airgap-bundle") && !k.endsWith(`|${SAME_ARTIFACT}`)).sort((a, b) => b[1] - a[1])[0];
  const ratio = (op: string) => {
    const peer = best(op);
    const ours = speed.get(`${op}|airgap-bundle`);
    return peer && ours ? `${(ours / peer[1]).toFixed(2)}x (${peer[0].split("|")[1]})` : "n/a";
  };
  for (const m of missingPeers) process.stdout.write(`not measured (could not be built): ${m}\n`);
  process.stdout.write(`ratio vs best peer: save ${ratio("save")}, load ${ratio("load")}\n`);
  const against = (op: string) => {
    const before = speed.get(`${op}|airgap-bundle@compare`);
    const now = speed.get(`${op}|airgap-bundle`);
    return before && now ? `${(now / before).toFixed(3)}x` : "n/a";
  };
  if (COMPARE) process.stdout.write(`this checkout vs COMPARE (speed, > 1 is faster): save ${against("save")}, load ${against("load")}\n`);
  const same = speed.get(`save|${SAME_ARTIFACT}`);
  const oursSave = speed.get("save|airgap-bundle");
  if (same && oursSave) process.stdout.write(`same artifact (one tar and its .sha256): save ${(oursSave / same).toFixed(2)}x (${SAME_ARTIFACT})\n`);
  const reload = groups.get("reload|airgap-bundle");
  const load = groups.get("load|airgap-bundle");
  if (reload && load) {
    const r = median(reload.map((x) => x.seconds));
    process.stdout.write(`no-op re-load: ${r.toFixed(2)} s = ${((100 * r) / median(load.map((x) => x.seconds))).toFixed(1)}% of a first load\n`);
  }
}

await main();
