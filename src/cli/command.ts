/**
 * A command described as data, so that only main.ts needs to know yargs.
 */
import type { Output } from "./output.js";

/** One option or positional argument, in the subset of yargs' vocabulary we use. */
export interface OptionSpec {
  type: "string" | "boolean" | "number";
  describe: string;
  default?: unknown;
  array?: boolean;
  choices?: readonly string[];
  demandOption?: boolean;
  alias?: string;
  /** Placeholder shown in help, e.g. FILE. */
  requiresArg?: boolean;
}

/** A CLI command: help text, options and the function that runs it. */
export interface CommandSpec {
  /** yargs command string, e.g. `images` or `verify <bundle>`. */
  command: string;
  /** One line for the command list. */
  summary: string;
  /** Left out of the command list and the help: run by another program (helm), not by people. */
  hidden?: boolean;
  /** Longer description for the command's --help. */
  description: string;
  /** `[command line, what it does]` pairs for --help. */
  examples: ReadonlyArray<readonly [string, string]>;
  options: Readonly<Record<string, OptionSpec>>;
  positionals?: Readonly<Record<string, OptionSpec>>;
  /** Ctrl-C / SIGTERM is how the command ends (a server): a clean stop exits with the command's own code, not 130. */
  runsUntilStopped?: boolean;
  /** Runs the command; returns the exit code (0 when omitted). Throws AirgapError on failure. */
  run(args: Record<string, unknown>, out: Output, context: CommandContext): Promise<number | void>;
}

/** What every command gets besides its arguments. */
export interface CommandContext {
  /** Aborted on Ctrl-C / SIGTERM: stop, clean up temporary files, return. */
  signal: AbortSignal;
  /** This tool's version. */
  toolVersion: string;
  /** Reads standard input to the end (--password-stdin, a post-renderer's manifests): at most `maxBytes` (1 MiB unless given), else INVALID_ARGUMENT naming `what`. */
  readStdin(maxBytes?: number, what?: string): Promise<string>;
  /** When the command's whole-run bound (its `--timeout`) runs out, epoch milliseconds; `signal` aborts then. */
  deadline?: number;
}

/** Options every command takes (declared to yargs as global). */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: "boolean", describe: "Machine-readable output on stdout (human text stays on stderr)" },
  quiet: { type: "boolean", alias: "q", describe: "Print only results and errors" },
  debug: { type: "boolean", describe: "Show stack traces and internal details on errors" },
};
