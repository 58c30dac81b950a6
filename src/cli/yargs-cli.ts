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
    // yargs lists a command described as false nowhere (a hidden command).
    (spec.hidden ? false : spec.summary) as string,
    (y) => {
      // A command with its own --version (bundle save --version 5.1.0) hides the tool's.
      let b = "version" in spec.options ? y.version(false) : y;
      b = b.usage(`${spec.description}\n\nUsage:\n  ${usageLine(spec)}`);
      for (const [name, opt] of Object.entries(spec.positionals ?? {})) b = b.positional(name, opt as PositionalOptions);
      b = b.options(spec.options as Record<string, Options>);
      for (const [cmd, what] of spec.examples) b = b.example(cmd, what);
      return b;
    },
    async (args) => {
      const repeated = repeatedSingleValues(spec, args);
      setExit(repeated ? printUsageError(repeated, `usage: ${usageLine(spec)} (see "bundle ${spec.command.split(" ")[0]} --help")`, args.json === true) : await run(spec, args));
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

/** `bundle load BUNDLE [options]`: a command's usage line. */
function usageLine(spec: CommandSpec): string {
  return `bundle ${spec.command.replace(/<(\w+)>/g, (_m, n: string) => n.toUpperCase())} [options]`;
}

/**
 * The words of argv that are neither an option of `spec` (nor a global one, nor an alias) nor a value one of
 * them takes: mistyped options (`--nmae`, `--no-instal`) and stray words (`127.0.0.1:5102` after BUNDLE).
 */
function strangers(argv: string[], spec: CommandSpec): { options: string[]; words: string[] } {
  const all = { ...GLOBAL_OPTIONS, ...spec.options };
  const known = new Set([...Object.keys(all), ...Object.values(all).flatMap((o) => (o.alias ? [o.alias] : [])), "help", "h", "version"]);
  const options: string[] = [];
  const words: string[] = [];
  let positionals = 0;
  const wanted = Object.keys(spec.positionals ?? {}).length;
  for (let i = 1; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") break;
    if (word.startsWith("-") && word.length > 1) {
      const name = word.replace(/^--?/, "").split("=")[0]!;
      const bare = name.startsWith("no-") && !known.has(name) ? name.slice(3) : name;
      if (!known.has(bare)) {
        options.push(word.split("=")[0]!);
        // An unknown option swallows the next word as its value (yargs does): not a positional.
        if (!word.includes("=") && i + 1 < argv.length && !argv[i + 1]!.startsWith("-")) i++;
        continue;
      }
      const option = all[bare];
      if (option && option.type !== "boolean" && !word.includes("=")) i++;
      continue;
    }
    if (++positionals > wanted) words.push(word);
  }
  return { options, words };
}

/** Prints yargs' usage complaints as one error line plus a hint ("did you mean", the usage line); returns the usage exit code. */
function reportUsageErrors(messages: string[], argv: string[], commands: readonly CommandSpec[]): number {
  const names = commands.filter((c) => c.hidden !== true).map((c) => c.command.split(" ")[0]!);
  const first = argv[0];
  const spec = commands.find((c) => c.command.split(" ")[0] === first);
  let message = messages.find((m) => !m.startsWith("Did you mean")) ?? messages[0] ?? "invalid usage";
  let hint = messages.find((m) => m.startsWith("Did you mean"))?.replace(/^Did you mean/, "did you mean") ?? 'see "bundle --help" or "bundle <command> --help"';
  const stray = spec ? strangers(argv, spec) : { options: [], words: [] };
  if (first !== undefined && !first.startsWith("-") && !spec) {
    // A mistyped command: "bundle sav", "bundle Save".
    message = `unknown command "${first}"`;
    const near = nearest(first, names);
    hint = near ? `did you mean ${near}? (see "bundle --help")` : 'see "bundle --help" for the commands';
  } else if (spec && stray.options.length > 0) {
    // A mistyped option ("--instal", "--no-instal", "--nmae"), whatever yargs noticed first (a required option
    // it then misses, a positional the unknown option swallowed).
    const options = [...Object.keys(spec.options), ...Object.keys(GLOBAL_OPTIONS), "help"];
    const guesses = stray.options.map((typed) => {
      const name = typed.replace(/^--?/, "");
      const negated = name.startsWith("no-");
      const near = nearest(negated ? name.slice(3) : name, options);
      return near === undefined ? undefined : `did you mean ${negated ? "--no-" : "--"}${near} (not ${typed})?`;
    }).filter((g): g is string => g !== undefined);
    message = `unknown option${stray.options.length === 1 ? "" : "s"} ${stray.options.join(", ")} for ${first}`;
    hint = `${guesses.length > 0 ? `${guesses.join(" ")} ` : ""}usage: ${usageLine(spec)} (see "bundle ${first} --help")`;
  } else if (spec && stray.words.length > 0) {
    // A word where no positional is taken: "bundle load B.tar 127.0.0.1:5102".
    const word = stray.words[0]!;
    const asRegistry = /^[\w.-]+(:\d+)?(\/\S*)?$/.test(word) && /[.:]/.test(word) && "registry" in spec.options;
    message = `unexpected argument ${word}: ${first} takes ${Object.keys(spec.positionals ?? {}).map((p) => p.toUpperCase()).join(" ") || "no positional argument"}`;
    hint = `${asRegistry ? `did you mean --registry ${word}? ` : ""}usage: ${usageLine(spec)}`;
  } else if (spec && /^Missing required arguments?: /.test(message)) {
    const missing = message.replace(/^Missing required arguments?: /, "").split(", ");
    message = `${missing.map((m) => `--${m}`).join(", ")} ${missing.length === 1 ? "is" : "are"} required`;
    hint = `usage: ${usageLine(spec)} (see "bundle ${first} --help")`;
  } else if (spec && /^Invalid values?:/.test(message)) {
    // A positional with choices: "bundle key crate foo".
    const m = /Argument: (\S+), Given: "([^"]*)", Choices: (.*)$/m.exec(message);
    if (m) {
      const choices = [...m[3]!.matchAll(/"([^"]+)"/g)].map((c) => c[1]!);
      message = `${first} ${m[1]} "${m[2]}" is not one of: ${choices.join(", ")}`;
      const near = nearest(m[2]!, choices);
      hint = `${near ? `did you mean ${near}? ` : ""}usage: ${usageLine(spec)}`;
    }
  } else if (/^Not enough arguments following: /.test(message)) {
    const option = message.replace(/^Not enough arguments following: /, "");
    message = `--${option} needs a value`;
    hint = `see "bundle ${first ?? ""} --help"`;
  } else if (spec && /^Not enough non-option arguments/.test(message)) {
    message = `${first} needs ${Object.keys(spec.positionals ?? {}).map((p) => p.toUpperCase()).join(" ")}`;
    hint = `usage: ${usageLine(spec)}`;
  }
  return printUsageError(message, hint, argv.includes("--json"));
}

/** Prints a usage error (one error line, one hint; a JSON line too with --json); returns the usage exit code. */
function printUsageError(message: string, hint: string, json: boolean): number {
  process.stderr.write(`error: ${printable(message)}\nhint: ${printable(hint)}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: "USAGE", message, hint } })}\n`);
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
