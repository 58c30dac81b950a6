/**
 * `ONLY=serve npm run bench`: pulling the whole workload from `bundle serve` against pulling it from distribution
 * 2.8 holding the same content (the bundle loaded into it), in the same run. The client is crane (PAR images at
 * once, each into its own OCI layout; skopeo when crane is not built), the same for both; every pulled image's
 * digest is checked. Reported: wall time, MB/s of unique blob bytes, the client's CPU, the server's CPU and peak
 * RSS, and the ratio serve ÷ distribution.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../test/helpers/ports.js";
import { startServe } from "../../test/helpers/serve.js";
import { median, q, timed, type Run } from "./measure.mjs";
import type { BenchRegistry } from "./registry.mjs";
import { startBenchRegistry } from "./registry.mjs";
import type { Workload } from "./workload.mjs";

const exec = promisify(execFile);

/** What the serve bench needs from the main harness. */
export interface ServeBench {
  cli: string;
  out: string;
  source: BenchRegistry;
  workload: Workload;
  peersBin: string;
  reps: number;
  par: number;
  log: (line: string) => void;
}

/** Peak RSS (MB) of a process so far, from /proc. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** `bundle serve` on the bundle, as a server whose CPU the bench reads. */
async function startServed(bundle: string): Promise<BenchRegistry> {
  const serving = await startServe([bundle, "--listen", `127.0.0.1:${await freePort()}`, "--target-layout", "strip-host"]);
  return { host: serving.host, storage: bundle, pid: serving.pid, stop: async () => void (await serving.stop()) };
}

/** Runs the serve bench and prints its table and ratio line. */
export async function benchServe(b: ServeBench): Promise<void> {
  const { cli, out, source, workload, log } = b;
  const dir = join(out, "serve");
  await mkdir(dir, { recursive: true });
  const imagelist = join(dir, "imagelist");
  await writeFile(imagelist, workload.images.map((i) => `${source.host}/${i.ref}\n`).join(""));
  await exec("node", [cli, "save", "--quiet", "--all-platforms", "--name", "bench", "--version", "1", "--imagelist", imagelist, "--out", dir, "--cache-dir", join(dir, "cache")], { maxBuffer: 1 << 26 });
  await rm(join(dir, "cache"), { recursive: true, force: true });
  const bundle = join(dir, "bench-1.tar");
  const distribution = await startBenchRegistry(join(dir, "distribution"));
  await exec("node", [cli, "load", bundle, "--registry", distribution.host, "--target-layout", "strip-host", "--no-install", "--quiet"], { maxBuffer: 1 << 26 });
  const served = await startServed(bundle);
  const crane = join(b.peersBin, "crane");
  const client = existsSync(crane) ? `crane -P${b.par}` : `skopeo -P${b.par}`;
  // By digest: images the imagelist pins by digest are loaded without a tag.
  const at = (host: string, image: Workload["images"][number]) => `${host}/${image.name.slice(0, image.name.lastIndexOf(":"))}@${image.digest}`;
  const pull = (host: string, into: string) => {
    const lines = workload.images.map((image, i) =>
      existsSync(crane)
        ? `${q(crane)} pull --insecure --format oci ${q(at(host, image))} ${q(join(into, String(i)))}`
        : `skopeo copy --all --preserve-digests --src-tls-verify=false ${q(`docker://${at(host, image)}`)} ${q(`oci:${join(into, String(i))}:x`)}`);
    return `printf '%s\\n' ${q(lines.join("\n"))} | tr '\\n' '\\0' | xargs -0 -P${b.par} -I{} bash -c '{} >/dev/null 2>&1'`;
  };
  /** Images pulled whole at their digest: each layout's index names it. */
  const exact = async (into: string) => {
    let n = 0;
    for (const [i, image] of workload.images.entries()) {
      const index = JSON.parse(await readFile(join(into, String(i), "index.json"), "utf8").catch(() => "{}")) as { manifests?: Array<{ digest: string }> };
      if (index.manifests?.some((m) => m.digest === image.digest)) n++;
    }
    return n;
  };
  const runs: Array<Run & { server: string; serverRssMb: number }> = [];
  try {
    for (let rep = 1; rep <= b.reps; rep++) {
      log(`bench: serve repetition ${rep} of ${b.reps}`);
      for (const [server, registry] of [["distribution 2.8", distribution], ["bundle serve", served]] as const) {
        const into = join(dir, `pulled-${rep}`);
        const run = await timed(pull(registry.host, into), [registry]);
        runs.push({ tool: client, op: "pull", rep, server, ...run, exact: await exact(into), serverRssMb: await peakRssMb(registry.pid) });
        await rm(into, { recursive: true, force: true });
      }
    }
  } finally {
    await served.stop();
    await distribution.stop();
  }
  const mb = workload.uniqueBytes / 1e6;
  const rows = ["| server | client | wall s | MB/s | client CPU s | server CPU s | server peak RSS MB | exact |", "| --- | --- | --- | --- | --- | --- | --- | --- |"];
  const speed = new Map<string, number>();
  for (const server of ["distribution 2.8", "bundle serve"]) {
    const rs = runs.filter((r) => r.server === server);
    const s = median(rs.map((r) => r.seconds));
    speed.set(server, mb / s);
    rows.push(`| ${server} | ${client} | ${s.toFixed(2)} | ${(mb / s).toFixed(1)} | ${median(rs.map((r) => r.cpuSeconds)).toFixed(1)} | ${median(rs.map((r) => r.registryCpuSeconds)).toFixed(1)} | ${Math.max(...rs.map((r) => r.serverRssMb)).toFixed(0)} | ${Math.min(...rs.map((r) => r.exact!))}/${workload.images.length} |`);
  }
  process.stdout.write(`\n${workload.images.length} images, ${mb.toFixed(0)} MB of unique blobs, pulled by ${client}; medians of ${b.reps}\n\n${rows.join("\n")}\n\n`);
  process.stdout.write(`ratio serve vs distribution: pull ${(speed.get("bundle serve")! / speed.get("distribution 2.8")!).toFixed(2)}x\n`);
}
