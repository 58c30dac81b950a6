/**
 * The full command line through yargs (the only file that imports it): help, --version, usage errors with
 * "Did you mean", and every form the quick path (fast-args.ts) leaves to it.
 */
import yargs, { type Argv, type Options, type PositionalOptions } from "yargs";
import type { CommandSpec } from "./command.js";
import { GLOBAL_OPTIONS } from "./fast-args.js";
import { EXIT } from "./output.js";

/** Runs a parsed command; resolves to its exit code. */
export type CommandRunner = (spec: CommandSpec, args: Record<string, unknown>) => Promise<number>;

function register(cli: Argv, spec: CommandSpec, run: CommandRunner, setExit: (code: number) => void): Argv {
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
    async (args) => setExit(await run(spec, args)),
  );
}

/** Parses `argv` with yargs and runs the command it names; resolves to the exit code. */
export async function runYargs(argv: string[], commands: readonly CommandSpec[], toolVersion: string, run: CommandRunner): Promise<number> {
  let exitCode: number = EXIT.OK;
  const usageErrors: string[] = [];
  let cli: Argv = yargs(argv)
    .scriptName("bundle")
    .usage(
      "airgap-bundle carries container images and Kubernetes manifests into networks with no internet.\n\n" +
        "Usage:\n  $0 <command> [options]",
    )
    .options(Object.fromEntries(Object.entries(GLOBAL_OPTIONS).map(([name, opt]) => [name, { ...opt, global: true } as Options])))
    .strict()
    .demandCommand(1, NO_COMMAND)
    .recommendCommands()
    .version(toolVersion)
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
  for (const spec of commands) cli = register(cli, spec, run, (code) => (exitCode = code));
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
