/**
 * Keeps track of every process the test helpers spawn, so that each one is stopped in teardown
 * and, as a last resort, when the test process exits (even after a failed test).
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { once } from "node:events";

const running = new Set<ChildProcess>();

process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Spawns a tracked child process. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options);
  running.add(child);
  child.on("exit", () => running.delete(child));
  return child;
}

/** Stops a tracked child: SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
export async function stopTracked(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion; rejects with its stderr when it exits non-zero. */
export async function run(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  const child = spawnTracked(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.trim()}`);
  return stdout;
}
