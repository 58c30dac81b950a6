/**
 * Registries for the bench: Debian's docker-registry (distribution 2.8) on 127.0.0.1, on a free port, with
 * its storage in a folder the caller chooses (the source's is kept between runs; a target's is new each time).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { freePort } from "../../test/helpers/ports.js";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A running bench registry. */
export interface BenchRegistry {
  host: string;
  storage: string;
  /** The registry process's id (its CPU time is read from /proc). */
  pid: number;
  stop(options?: { keepStorage?: boolean }): Promise<void>;
}

/** Starts a registry on `storage` (created if needed) and waits until it answers. */
export async function startBenchRegistry(storage: string): Promise<BenchRegistry> {
  const port = await freePort();
  await mkdir(join(storage, "data"), { recursive: true });
  const config = join(storage, "config.yml");
  await writeFile(config, [
    "version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
    "storage:", "  filesystem:", `    rootdirectory: ${join(storage, "data")}`, "  delete:", "    enabled: true",
    "http:", `  addr: 127.0.0.1:${port}`, "",
  ].join("\n"));
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i === 99) throw new Error(`bench: the registry on ${host} did not start`);
    await sleep(100);
  }
  return {
    host, storage, pid: child.pid!,
    async stop(options = {}) {
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once("exit", resolve)));
      if (!options.keepStorage) await rm(storage, { recursive: true, force: true });
    },
  };
}
