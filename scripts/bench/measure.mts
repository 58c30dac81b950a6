/**
 * Measuring a bench run: wall time, peak RSS and CPU of a command under GNU time, the registries' CPU from /proc,
 * and whether a target holds every image at exactly the source's digest.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import type { BenchRegistry } from "./registry.mjs";
import type { Workload } from "./workload.mjs";

const exec = promisify(execFile);

/** One timed command. */
export interface Run { tool: string; op: "save" | "load" | "reload" | "delta-save" | "delta-load" | "pull"; rep: number; seconds: number; rssMb: number; cpuSeconds: number; registryCpuSeconds: number; exact?: number; bundleBytes?: number }

/** CPU seconds (user + system) a process has used so far, from /proc. */
async function cpuOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")).split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  return ticks / 100;
}

/** Runs `script` under GNU time; returns wall seconds, peak RSS (MB), CPU seconds, and the registries' CPU. */
export async function timed(script: string, registries: BenchRegistry[]): Promise<Pick<Run, "seconds" | "rssMb" | "cpuSeconds" | "registryCpuSeconds">> {
  const before = await Promise.all(registries.map((r) => cpuOf(r.pid)));
  const { stderr } = await exec("/usr/bin/time", ["-f", "BENCH %e %M %U %S", "bash", "-c", script], { maxBuffer: 64 * 1024 * 1024 });
  const after = await Promise.all(registries.map((r) => cpuOf(r.pid)));
  const m = /BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (!m) throw new Error(`bench: no timing from: ${script}\n${stderr.slice(-2000)}`);
  return {
    seconds: Number(m[1]), rssMb: Number(m[2]) / 1024, cpuSeconds: Number(m[3]) + Number(m[4]),
    registryCpuSeconds: after.reduce((n, a, i) => n + a - before[i]!, 0),
  };
}

/** How many images of the workload the target holds at exactly the source's digest. */
export async function exact(target: BenchRegistry, workload: Workload, path: (name: string) => string): Promise<number> {
  let n = 0;
  for (const image of workload.images) {
    const repo = path(image.name.slice(0, image.name.lastIndexOf(":")));
    const res = await fetch(`http://${target.host}/v2/${repo}/manifests/${image.digest}`, { method: "HEAD", headers: { accept: image.mediaType } });
    if (res.ok && res.headers.get("docker-content-digest") === image.digest) n++;
  }
  return n;
}

export const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** The median of some numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
