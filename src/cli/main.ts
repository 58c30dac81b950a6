#!/usr/bin/env node
/**
 * The CLI entry point: yargs wiring (the only file that imports yargs), exit codes and signals.
 */
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import yargs, { type Argv, type Options, type PositionalOptions } from "yargs";
import { hideBin } from "yargs/helpers";
import type { CommandSpec } from "./command.js";
import { exportCommand } from "./commands/export.js";
import { imagesCommand } from "./commands/images.js";
import { inspectCommand } from "./commands/inspect.js";
import { installCommand } from "./commands/install.js";
import { loadCommand } from "./commands/load.js";
import { rewriteCommand } from "./commands/rewrite.js";
import { verifyCommand } from "./commands/verify.js";
import { saveCommand } from "./commands/save.js";
import { scanCommand } from "./commands/scan.js";
import { uninstallCommand } from "./commands/uninstall.js";
import { EXIT, Output } from "./output.js";

/** Every command, in the order `bundle --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [imagesCommand, scanCommand, saveCommand, verifyCommand, inspectCommand, loadCommand, installCommand, uninstallCommand, exportCommand, rewriteCommand];

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

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function register(cli: Argv, spec: CommandSpec, setExit: (code: number) => void): Argv {
  return cli.command(
    spec.command,
    spec.summary,
    (y) => {
      // A command with its own --version (bundle save --version 5.1.0) hides the tool's.
      let b = "version" in spec.options ? y.version(false) : y;
      b = b.usage(`${spec.description}\n\nUsage:\n  $0 ${spec.command.replace(/<(\w+)>/g, (_m, n: string) => n.toUpperCase())} [options]`);
      for (const [name, opt] of Object.entries(spec.positionals ?? {})) b = b.positional(name, opt as PositionalOptions);
      b = b.options(spec.options as Record<string, Options>);
      for (const [cmd, what] of spec.examples) b = b.example(cmd, what);
      return b;
    },
    async (args) => {
      const out = outputFrom(args);
      try {
        setExit((await spec.run(args, out, { signal: controller.signal, toolVersion: toolVersion(), readStdin })) ?? EXIT.OK);
      } catch (err) {
        setExit(out.error(err));
      }
      if (controller.signal.aborted) setExit(EXIT.INTERRUPTED);
    },
  );
}

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.OK;
  const usageErrors: string[] = [];
  let cli: Argv = yargs(argv)
    .scriptName("bundle")
    .usage(
      "airgap-bundle carries container images and Kubernetes manifests into networks with no internet.\n\n" +
        "Usage:\n  $0 <command> [options]",
    )
    .option("json", { type: "boolean", describe: "Machine-readable output on stdout (human text stays on stderr)", global: true })
    .option("quiet", { alias: "q", type: "boolean", describe: "Print only results and errors", global: true })
    .option("debug", { type: "boolean", describe: "Show stack traces and internal details on errors", global: true })
    .strict()
    .demandCommand(1, NO_COMMAND)
    .recommendCommands()
    .version(toolVersion())
    .help()
    .alias("h", "help")
    .wrap(null)
    .epilogue("Use \"bundle <command> --help\" for more information about a command.")
    .fail((message, err, y) => {
      if (err) throw err;
      usageErrors.push(message);
      if (message === NO_COMMAND) y.showHelp();
      // Stop yargs from running the command; "Did you mean" comes before the real complaint.
      if (!message.startsWith("Did you mean")) throw new UsageStop();
    });
  for (const spec of COMMANDS) cli = register(cli, spec, (code) => (exitCode = code));
  try {
    await cli.parseAsync();
  } catch (err) {
    if (!(err instanceof UsageStop)) throw err;
  }
  if (usageErrors.length > 0) return reportUsageErrors(usageErrors, argv.includes("--json"));
  return exitCode;
}

/** Thrown from yargs' fail handler to stop parsing after a usage error. */
class UsageStop extends Error {}

const NO_COMMAND = "name a command; see the list above";

/** Prints yargs' usage complaints as one error line plus a hint; returns the usage exit code. */
function reportUsageErrors(messages: string[], json: boolean): number {
  const suggestion = messages.find((m) => m.startsWith("Did you mean"));
  const message = messages.find((m) => !m.startsWith("Did you mean")) ?? messages[0] ?? "invalid usage";
  const hint = suggestion ?? 'see "bundle --help" or "bundle <command> --help"';
  process.stderr.write(`error: ${message}\nhint: ${hint}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: "USAGE", message, hint } })}\n`);
  return EXIT.USAGE;
}
// First Ctrl-C: stop cleanly (temporary files removed, the cache kept for a rerun). Second: stop now.
const interrupt = () => {
  if (controller.signal.aborted) process.exit(EXIT.INTERRUPTED);
  process.stderr.write("\ninterrupted: stopping (press Ctrl-C again to stop at once)\n");
  controller.abort();
};
process.on("SIGINT", interrupt);
process.on("SIGTERM", interrupt);
main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = new Output({ json: false, quiet: false, debug: process.argv.includes("--debug") }).error(err);
  },
);
