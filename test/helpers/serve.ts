/**
 * Runs `bundle serve` (the built CLI) in the background for a test or the bench: waits for its "serving … at URL" line, and
 * stops it with SIGINT as a user's Ctrl-C would.
 */
import { spawn } from "node:child_process";
import { CLI } from "./cli.js";

/** A running `bundle serve`. */
export interface Serving {
  /** `HOST:PORT` as image references name it. */
  host: string;
  /** `http(s)://HOST:PORT`. */
  url: string;
  /** The serving process (the bench reads its CPU time). */
  pid: number;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** Ctrl-C, then waits for the exit. */
  stop(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts `bundle serve ARGS…`; rejects with its output if it exits before serving. */
export function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`bundle serve did not start within 60 s:\n${stderr}`));
    }, 60_000);
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const m = / at (https?:\/\/(\S+))\n/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!, host: m[2]!, pid: child.pid!, stderr: () => stderr,
          stop: () => {
            child.kill("SIGINT");
            return exited;
          },
        });
      }
    });
    void exited.then((r) => {
      clearTimeout(timer);
      reject(new Error(`bundle serve exited (${r.code}) before serving:\n${r.stderr}`));
    });
  });
}
