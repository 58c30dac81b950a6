/**
 * Where the CLI's words go: results on stdout (JSON with --json), everything for people on stderr.
 */
import { AirgapError, formatProblem, INPUT_ERROR_CODES, type Problem } from "../errors.js";
import { printable } from "../util/printable.js";

/** Exit codes, documented in README.md. */
export const EXIT = {
  /** Everything worked. */
  OK: 0,
  /** The work failed (network, registry, verification, I/O). */
  FAILURE: 1,
  /** The command line or an input file is wrong; nothing was done. */
  USAGE: 2,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM; rerun to resume. */
  INTERRUPTED: 130,
} as const;

/** Global output settings from the command line. */
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  debug: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Where text goes: a stream, or the redacting front of one. */
export interface TextOut {
  write(text: string): unknown;
}

/** Writes results, messages and errors according to --json / --quiet / --debug. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly debug: boolean;
  private readonly stdout: TextOut;
  private readonly stderr: TextOut;
  private readonly rawStderr: NodeJS.WritableStream;
  private readonly scriptStdout: TextOut;
  private readonly scriptStderr: TextOut;
  private redact: (text: string) => string = (t) => t;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.debug = options.debug;
    const stdout = options.stdout ?? process.stdout;
    const stderr = options.stderr ?? process.stderr;
    // Everything this prints passes the redactor (secret install settings are masked as "***"), and text from
    // outside (imagelist lines, registry messages) cannot send escape sequences to the terminal.
    this.stdout = { write: (text: string) => stdout.write(printable(this.redact(text))) };
    this.stderr = { write: (text: string) => stderr.write(printable(this.redact(text))) };
    this.scriptStdout = { write: (text: string) => stdout.write(this.redact(text)) };
    this.scriptStderr = { write: (text: string) => stderr.write(this.redact(text)) };
    this.rawStderr = stderr;
  }

  /** Masks secret values in everything printed from now on. */
  setRedactor(redact: (text: string) => string): void {
    this.redact = redact;
  }

  /** A message for people (stderr), hidden by --quiet. */
  info(message: string): void {
    if (!this.quiet) this.stderr.write(`${message}\n`);
  }

  /** A warning (stderr), hidden by --quiet. */
  warn(message: string): void {
    if (!this.quiet) this.stderr.write(`warning: ${message}\n`);
  }

  /** Warnings about lines of a file. */
  warnProblems(problems: readonly Problem[]): void {
    for (const p of problems) this.warn(formatProblem(p));
  }

  /** The command's result: `human` text on stdout, or `json` as one JSON document with --json. */
  result(human: string, json: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else if (human !== "") this.stdout.write(human.endsWith("\n") ? human : `${human}\n`);
  }

  /** One JSON object on one line of stdout (event streams with --json). */
  jsonLine(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** The stream for progress display (stderr), and whether it is a terminal. */
  get progressStream(): NodeJS.WritableStream & { isTTY?: boolean } {
    // Progress shows sizes, rates and image names, never settings: a terminal's bar needs the real stream.
    return this.rawStderr as NodeJS.WritableStream & { isTTY?: boolean };
  }

  /** The stderr stream, secrets masked (for the user's own install script, whose colours pass). */
  get errorStream(): TextOut {
    return this.scriptStderr;
  }

  /** The stdout stream, secrets masked (for JSON events and the user's own install script). */
  get resultStream(): TextOut {
    return this.scriptStdout;
  }

  /** Prints an error: one line, every listed problem, a hint; the stack only with --debug. Returns the exit code. */
  error(err: unknown): number {
    const known = err instanceof AirgapError;
    const message = err instanceof Error ? err.message : String(err);
    const lines = [`error: ${known ? message : `unexpected: ${message}`}`];
    if (known) {
      for (const p of err.problems) lines.push(`  ${formatProblem(p)}`);
      if (err.hint) lines.push(`hint: ${err.hint}`);
    } else if (!this.debug) {
      lines.push("hint: rerun with --debug for details, and report it if it persists");
    }
    if (this.debug && err instanceof Error && err.stack) lines.push(err.stack);
    this.stderr.write(`${lines.join("\n")}\n`);
    if (this.json) {
      const body = known
        ? { code: err.code, message, problems: err.problems, hint: err.hint }
        : { code: "UNEXPECTED", message };
      this.stdout.write(`${JSON.stringify({ error: body })}\n`);
    }
    return exitCodeOf(err);
  }
}

/** Maps an error to its exit code: input errors → 2, anything else → 1. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof AirgapError && INPUT_ERROR_CODES.has(err.code)) return EXIT.USAGE;
  return EXIT.FAILURE;
}
