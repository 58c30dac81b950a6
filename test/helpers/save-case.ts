/**
 * One `bundle save` case: a fresh folder with an imagelist, its out and cache folders, and a runner.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli, type CliResult } from "./cli.js";

/** A folder prepared for `bundle save`. */
export interface SaveCase {
  dir: string;
  imagelist: string;
  out: string;
  cache: string;
  /** The bundle it writes. */
  tar: string;
  /** The save command line with extra arguments. */
  args(extra?: string[]): string[];
  /** Runs the save (extra arguments, standard input). */
  save(extra?: string[], input?: string): Promise<CliResult>;
}

let counter = 0;

/** Makes `WORK/case-N` with an imagelist of `lines`; the bundle is NAME-VERSION.tar in its `out`. */
export async function saveCase(
  work: string,
  lines: string[],
  options: { name?: string; version?: string; env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<SaveCase> {
  const dir = join(work, `case-${++counter}`);
  await mkdir(dir, { recursive: true });
  const imagelist = join(dir, "imagelist");
  await writeFile(imagelist, `${lines.join("\n")}\n`);
  const out = join(dir, "out");
  const cache = join(dir, "cache");
  const name = options.name ?? "t";
  const version = options.version ?? "1";
  const args = (extra: string[] = []) => ["save", "--name", name, "--version", version, "--imagelist", imagelist, "--out", out, "--cache-dir", cache, ...(options.args ?? []), ...extra];
  return {
    dir, imagelist, out, cache, tar: join(out, `${name}-${version}.tar`), args,
    save: (extra = [], input) => runCli(args(extra), { cwd: dir, ...(options.env && { env: options.env }), ...(input !== undefined && { input }) }),
  };
}
