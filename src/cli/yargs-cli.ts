/**
 * The full command line through yargs (the only file that imports it): help, --version, usage errors with
 * "Did you mean".
 */
import yargs, { type Argv, type Options, type PositionalOptions } from "yargs";
import { GLOBAL_OPTIONS, type CommandSpec } from "./command.js";
import { EXIT } from "./output.js";
import { printable } from "../util/printable.js";

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
    async (args) => {
      const repeated = repeatedSingleValues(spec, args);
      if (repeated) {
        process.stderr.write(`error: ${printable(repeated)}\nhint: see "bundle ${spec.command.split(" ")[0]} --help"\n`);
        return setExit(EXIT.USAGE);
      }
      setExit(await run(spec, args));
    },
  );
}

/**
 * An option that takes one value, given more than once: yargs joins the values into a list, which a command
 * would read as one odd value (`--out a --out b` became the folder `a,b`). Said instead, naming the values.
 */
function repeatedSingleValues(spec: CommandSpec, args: Record<string, unknown>): string | undefined {
  for (const [name, opt] of Object.entries({ ...spec.options, ...GLOBAL_OPTIONS })) {
    const value = args[name];
    if (opt.array !== true && opt.type !== "boolean" && Array.isArray(value)) {
      return `--${name} is given ${value.length} times (${value.map(String).join(", ")}); it takes one value`;
    }
  }
  return undefined;
}

/** Parses `argv` with yargs and runs the command it names; resolves to the exit code. */
export async function runYargs(argv: string[], commands: readonly CommandSpec[], toolVersion: string, run: CommandRunner): Promise<number> {
  let exitCode: number = EXIT.OK;
  const usageErrors: string[] = [];
  // A mistyped command is said so before yargs reads the rest (`bundle sav --version 1` must not print the version).
  const first = argv[0];
  if (first !== undefined && !first.startsWith("-") && !commands.some((c) => c.command.split(" ")[0] === first)) {
    return reportUsageErrors([`Unknown argument: ${first}`], argv, commands);
  }
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
    .parserConfiguration({ "camel-case-expansion": false })
    .version(toolVersion)
    .help()
    .alias("h", "help")
    .wrap(null)
    .epilogue(
      "Use \"bundle <command> --help\" for more information about a command.\n\n" +
        "Exit codes:\n  0    success\n  1    the work failed (network, registry, verification, I/O)\n" +
        "  2    usage or input error (a bad option, a missing or invalid file); nothing was done\n" +
        "  130  interrupted (Ctrl-C / SIGTERM); rerun to resume\n  other  with --install-script, the script's own exit code",
    )
    .fail((message, err, y) => {
      // yargs' own complaints (an option missing its value) come as errors too: they are usage errors.
      if (err && err.name !== "YError") throw err;
      usageErrors.push(message ?? err?.message ?? "invalid usage");
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
  if (usageErrors.length > 0) return reportUsageErrors(usageErrors, argv, commands);
  return exitCode;
}

/** Thrown from yargs' fail handler to stop parsing after a usage error. */
class UsageStop extends Error {}

const NO_COMMAND = "name a command; see the list above";

/** Prints yargs' usage complaints as one error line plus a hint ("did you mean"); returns the usage exit code. */
function reportUsageErrors(messages: string[], argv: string[], commands: readonly CommandSpec[]): number {
  const names = commands.map((c) => c.command.split(" ")[0]!);
  const first = argv[0];
  const spec = commands.find((c) => c.command.split(" ")[0] === first);
  let message = messages.find((m) => !m.startsWith("Did you mean")) ?? messages[0] ?? "invalid usage";
  let hint = messages.find((m) => m.startsWith("Did you mean"))?.replace(/^Did you mean/, "did you mean") ?? 'see "bundle --help" or "bundle <command> --help"';
  if (first !== undefined && !first.startsWith("-") && !spec) {
    // A mistyped command: "bundle sav", "bundle Save".
    message = `unknown command "${first}"`;
    const near = nearest(first, names);
    hint = near ? `did you mean ${near}? (see "bundle --help")` : 'see "bundle --help" for the commands';
  } else if (spec && /^Unknown arguments?: /.test(message)) {
    // A mistyped option: "--instal", "--dryrun".
    const unknown = message.replace(/^Unknown arguments?: /, "").split(", ");
    const options = [...Object.keys(spec.options), ...Object.keys(GLOBAL_OPTIONS), "help"];
    const guesses = unknown.map((u) => [u, nearest(u.replace(/^no-/, ""), options)] as const).filter(([, g]) => g !== undefined);
    message = `unknown option${unknown.length === 1 ? "" : "s"} ${unknown.map((u) => (u.length === 1 ? `-${u}` : `--${u}`)).join(", ")} for ${spec.command.split(" ")[0]}`;
    if (guesses.length > 0) hint = `${guesses.map(([u, g]) => `did you mean --${u.startsWith("no-") ? "no-" : ""}${g} (not --${u})`).join("; ")}? (see "bundle ${first} --help")`;
    else hint = `see "bundle ${first} --help"`;
  } else if (/^Not enough arguments following: /.test(message)) {
    const option = message.replace(/^Not enough arguments following: /, "");
    message = `--${option} needs a value`;
    hint = `see "bundle ${first ?? ""} --help"`;
  }
  process.stderr.write(`error: ${printable(message)}\nhint: ${printable(hint)}\n`);
  if (argv.includes("--json")) process.stdout.write(`${JSON.stringify({ error: { code: "USAGE", message, hint } })}\n`);
  return EXIT.USAGE;
}

/** The closest of `names` to `word` (case-insensitive edit distance at most 2, or a prefix), if any. */
function nearest(word: string, names: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const n = name.toLowerCase();
    const d = n.startsWith(w) && w.length >= 3 ? 1 : distance(w, n);
    if (d <= 2 && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
