/**
 * A real Docker engine for tests (Debian's docker.io): its own data root, its own socket, no iptables and no
 * bridge, vfs storage — nothing shared with a Docker the machine may run. Needs root.
 */
import type { ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { run, spawnTracked, stopTracked } from "./processes.js";

/** A running engine. */
export interface TestDockerd {
  /** `unix:///…/docker.sock`, for DOCKER_HOST or --host. */
  host: string;
  /** Runs the docker CLI against this engine; resolves to its stdout. */
  docker(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Why an engine cannot run here, or undefined when it can. */
export function dockerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "dockerd needs root";
  return undefined;
}

/** Starts dockerd on a private socket and waits until it answers. */
export async function startDockerd(): Promise<TestDockerd> {
  const dir = await mkdtemp(join(tmpdir(), "airgap-dockerd-"));
  const socket = join(dir, "docker.sock");
  const host = `unix://${socket}`;
  const log = createWriteStream(join(dir, "dockerd.log"));
  const child: ChildProcess = spawnTracked("dockerd", [
    "--data-root", join(dir, "data"), "--exec-root", join(dir, "exec"), "--pidfile", join(dir, "docker.pid"),
    "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false", "--bridge=none", "--host", host,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const docker = (args: string[]) => run("docker", ["--host", host, ...args]);
  const stop = async () => {
    await stopTracked(child, 10_000);
    log.end();
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      await docker(["version", "--format", "{{.Server.Version}}"]);
      return { host, docker, stop };
    } catch {
      await sleep(200);
    }
  }
  const tail = (await readFile(join(dir, "dockerd.log"), "utf8").catch(() => "")).split("\n").slice(-5).join("\n");
  await stop();
  throw new Error(`dockerd did not start: ${tail}`);
}
