/**
 * The quick path through the command line: an ordinary, valid invocation (a command, its positionals and
 * options, nothing unusual) is parsed with Node's own `util.parseArgs`, so yargs — about 40% of start-up
 * code, ~50 ms of a no-op `bundle load` — need not load at all. Anything else (help, --version, a typo, a
 * missing argument, a form yargs reads differently) returns `undefined` and goes to yargs, which gives the
 * usual help and errors. The result must equal what yargs gives for the same line (a test compares the two).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { CommandSpec, OptionSpec } from "./command.js";

/** Options every command takes (main.ts declares them to yargs as global). */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: "boolean", describe: "Machine-readable output on stdout (human text stays on stderr)" },
  quiet: { type: "boolean", alias: "q", describe: "Print only results and errors" },
  debug: { type: "boolean", describe: "Show stack traces and internal details on errors" },
};

/** A command line the quick path understood: the command and its arguments keyed as yargs keys them. */
export interface FastParse {
  spec: CommandSpec;
  args: Record<string, unknown>;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Parses `argv` (without node and the script) or returns `undefined` when yargs must decide. */
export function parseFast(argv: readonly string[], commands: readonly CommandSpec[]): FastParse | undefined {
  const spec = commands.find((c) => c.command.split(" ")[0] === argv[0]);
  if (!spec) return undefined;
  const rest = argv.slice(1);
  // Help, the tool's version (save has a --version of its own) and the end-of-options marker are yargs'.
  const ownVersion = "version" in spec.options;
  if (rest.some((a) => a === "--" || a === "--help" || a === "-h" || (a === "--version" && !ownVersion))) return undefined;
  const declared: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...spec.options };
  const config: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, opt] of Object.entries(declared)) {
    if (opt.alias !== undefined && opt.alias.length !== 1) return undefined;
    config[name] = { type: opt.type === "boolean" ? "boolean" : "string", multiple: opt.array === true, ...(opt.alias ? { short: opt.alias } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options: config, strict: true, allowPositionals: true, allowNegative: true, tokens: true });
  } catch {
    return undefined;
  }
  const tokens = parsed.tokens ?? [];
  const seen = new Set<string>();
  let afterArray = false;
  for (const t of tokens) {
    if (t.kind === "positional") {
      // yargs lets an array option swallow the words after it; leave that reading to yargs.
      if (afterArray) return undefined;
      continue;
    }
    if (t.kind !== "option") return undefined;
    const opt = declared[t.name]!;
    if (opt.array) {
      // `--opt value` may be followed by more values in yargs; `--opt=value` may not.
      afterArray = t.inlineValue !== true;
      continue;
    }
    afterArray = false;
    // yargs turns a repeated option into an array; a negated option that has no default is not ours either.
    if (seen.has(t.name)) return undefined;
    seen.add(t.name);
    if (t.rawName.startsWith("--no-") && opt.default === undefined) return undefined;
  }
  const names = positionalNames(spec);
  if (names === undefined || parsed.positionals.length !== names.length) return undefined;
  const args: Record<string, unknown> = {};
  names.forEach((n, i) => (args[n] = parsed.positionals[i]));
  for (const [name, opt] of Object.entries(declared)) {
    const raw = (parsed.values as Record<string, unknown>)[name];
    if (raw === undefined) {
      if (opt.demandOption) return undefined;
      if (opt.default !== undefined) args[name] = opt.default;
      continue;
    }
    const values = Array.isArray(raw) ? (raw as unknown[]) : [raw];
    for (const v of values) {
      if (typeof v !== "string") continue;
      if (v === "" && opt.requiresArg) return undefined;
      if (opt.choices && !opt.choices.includes(v)) return undefined;
      if (opt.type === "number" && !DECIMAL.test(v)) return undefined;
    }
    const typed = opt.type === "number" ? values.map(Number) : values;
    args[name] = opt.array ? typed : typed[0];
    if (opt.alias) args[opt.alias] = args[name];
  }
  return { spec, args };
}

/** The names of a command's positionals, all required (`verify <bundle>`), or `undefined` for other forms. */
function positionalNames(spec: CommandSpec): string[] | undefined {
  const words = spec.command.split(" ").slice(1);
  const names: string[] = [];
  for (const w of words) {
    const m = /^<(\w+)>$/.exec(w);
    if (!m) return undefined;
    names.push(m[1]!);
  }
  return names;
}
