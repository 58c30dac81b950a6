#!/usr/bin/env node
/**
 * The CLI entry point: reads the command line (yargs), runs the command, maps the outcome to an exit code, and
 * turns Ctrl-C / SIGTERM into a clean stop.
 */
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { AirgapError } from "../errors.js";
import type { CommandSpec } from "./command.js";
import { COMMANDS } from "./commands.js";
import { EXIT, Output } from "./output.js";

function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function outputFrom(args: Record<string, unknown>): Output {
  return new Output({ json: args.json === true, quiet: args.quiet === true, debug: args.debug === true });
}

const controller = new AbortController();
// Every in-flight request listens to this signal; there are legitimately many.
setMaxListeners(0, controller.signal);

/** Most bytes read from standard input unless a command says otherwise (a password is a line). */
const DEFAULT_STDIN_BYTES = 1024 * 1024;

async function readStdin(maxBytes = DEFAULT_STDIN_BYTES, what = "standard input"): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new AirgapError("INVALID_ARGUMENT", `${what} is more than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Runs one parsed command; resolves to its exit code (errors are printed here, once). */
async function runCommand(spec: CommandSpec, args: Record<string, unknown>): Promise<number> {
  const out = outputFrom(args);
  let code: number;
  try {
    code = (await spec.run(args, out, { signal: controller.signal, toolVersion: toolVersion(), readStdin })) ?? EXIT.OK;
  } catch (err) {
    // Stopped by Ctrl-C: what the stop broke on its way out is not news (the "interrupted" line was printed).
    if (controller.signal.aborted && !(err instanceof AirgapError)) return EXIT.INTERRUPTED;
    code = out.error(err);
  }
  return controller.signal.aborted && spec.runsUntilStopped !== true ? EXIT.INTERRUPTED : code;
}

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { runYargs } = await import("./yargs-cli.js");
  return runYargs(argv, COMMANDS, toolVersion(), runCommand);
}

/**
 * How long a stop may take after the first Ctrl-C / SIGTERM before the process ends regardless (exit 130): enough
 * to remove temporary files and print the last line, never a wait on something that does not answer.
 */
export const STOP_GRACE_MS = 2_000;

const serving = process.argv.slice(2).includes("serve");
// First Ctrl-C: stop cleanly (temporary files removed, the cache kept for a rerun). Second: stop now.
const interrupt = () => {
  if (controller.signal.aborted) process.exit(EXIT.INTERRUPTED);
  process.stderr.write("\ninterrupted: stopping (press Ctrl-C again to stop at once)\n");
  controller.abort();
  // A server drains its requests for STOP_GRACE_MS itself; give it that and its last line.
  setTimeout(() => process.exit(EXIT.INTERRUPTED), serving ? 2 * STOP_GRACE_MS : STOP_GRACE_MS).unref();
};
process.on("SIGINT", interrupt);
process.on("SIGTERM", interrupt);
let finished = false;
// A command whose every pending promise lost its last handle (a request that can never settle) would let Node
// end with 0 and no summary line: never. That is a bug of ours, said as one.
process.on("beforeExit", () => {
  if (finished) return;
  finished = true;
  process.exitCode = new Output({ json: false, quiet: false, debug: false }).error(
    new AirgapError("INTERNAL", "the command stopped before it finished: something it waited on can never answer"),
  );
});
const ended = (code: number) => {
  finished = true;
  process.exitCode = code;
  // Done: what is still open (a credential plugin killed but not yet reaped, a keep-alive socket) must not hold the exit.
  setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
};
main(process.argv.slice(2)).then(ended, (err: unknown) => ended(new Output({ json: false, quiet: false, debug: process.argv.includes("--debug") }).error(err)));
