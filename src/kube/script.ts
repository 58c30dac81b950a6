/**
 * Bring-your-own installer: runs the user's script (e.g. the seed's `install-ai-devops.sh`) instead of our
 * apply, with the registry, the rendered manifests and the settings in its environment. Its output is
 * streamed line by line with secret values masked; its exit code becomes ours.
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { AirgapError } from "../errors.js";

/** Where lines of output go. */
export interface TextSink {
  write(text: string): unknown;
}

/** How to run the script. */
export interface ScriptOptions {
  path: string;
  /** Added to the script's environment (REGISTRY, BUNDLE_MANIFESTS, the settings…). */
  env: Record<string, string>;
  stdout: TextSink;
  stderr: TextSink;
  redact: (line: string) => string;
  signal?: AbortSignal;
  /** Told when a script that is not executable is run through bash. */
  onNotice?: (message: string) => void;
}

/** Runs the script to its end; resolves to its exit code (128 + signal number when a signal ended it). */
export async function runInstallScript(options: ScriptOptions): Promise<number> {
  const path = resolve(options.path);
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new AirgapError("FILE_NOT_FOUND", `--install-script: cannot read ${options.path}`);
  }
  let command = path;
  let args: string[] = [];
  try {
    await access(path, constants.X_OK);
  } catch {
    options.onNotice?.(`${options.path} is not executable: running it with bash`);
    command = "bash";
    args = [path];
  }
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ["inherit", "pipe", "pipe"] });
  const onAbort = () => child.kill("SIGTERM");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const pipes = [relay(child.stdout, options.stdout, options.redact), relay(child.stderr, options.stderr, options.redact)];
  try {
    return await new Promise<number>((done, fail) => {
      child.once("error", (err) => fail(new AirgapError("SCRIPT_FAILED", `--install-script ${options.path}: ${err.message}`, { cause: err })));
      child.once("close", (code, signal) => {
        void Promise.all(pipes).then(() => done(code ?? 128 + (signal ? (signalNumbers[signal] ?? 1) : 1)));
      });
    });
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/** Copies lines from the child to our stream, each with secrets masked. */
async function relay(from: Readable, to: TextSink, redact: (line: string) => string): Promise<void> {
  for await (const line of createInterface({ input: from, crlfDelay: Infinity })) to.write(`${redact(line)}\n`);
}
