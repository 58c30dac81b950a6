/**
 * Install settings: a shell-style config file (`KEY=VALUE` lines, like the seed's `ai-devops.config`)
 * and `--set KEY=VALUE` values, merged into one table that knows where each value came from.
 */
import { AirgapError, type Problem } from "../errors.js";

/** One setting and where it was given (for messages: `ai-devops.config:4`, `--set`). */
export interface Setting {
  key: string;
  value: string;
  origin: string;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Keys whose values are secret unless the user says otherwise: never printed, masked in every message. */
export const SECRET_KEY_PATTERN = /SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL/i;

/**
 * Parses a config file: `KEY=VALUE` per line, `export KEY=VALUE` too, `#` comments, blank lines, values
 * bare, 'single-' or "double-quoted" (spaces around `=` are tolerated, as people write them in guides).
 * Every malformed line is reported at once.
 */
export function parseConfigFile(text: string, file: string): Setting[] {
  const settings: Setting[] = [];
  const problems: Problem[] = [];
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!m || !KEY.test(m[1]!)) {
      problems.push({ file, line: i + 1, reason: "expected KEY=VALUE" });
      return;
    }
    const value = unquote(m[2]!);
    if (value === undefined) {
      problems.push({ file, line: i + 1, text: m[1]!, reason: "unterminated quote, or spaces outside quotes" });
      return;
    }
    settings.push({ key: m[1]!, value, origin: `${file}:${i + 1}` });
  });
  if (problems.length > 0) {
    throw new AirgapError("INVALID_ARGUMENT", `${file}: ${problems.length} line${problems.length === 1 ? "" : "s"} not of the form KEY=VALUE`, { problems });
  }
  return settings;
}

/**
 * A value as the shell reads one word: 'single' and "double" quoted parts and bare parts joined
 * (`'it''s'` is `its`), backslash escapes, and the word ending at whitespace (then only a `# comment` may follow).
 * Undefined when a quote is not closed or more than one word is given.
 */
function unquote(v: string): string | undefined {
  let out = "";
  let i = 0;
  while (i < v.length && !/\s/.test(v[i]!)) {
    const c = v[i]!;
    if (c === "'" || c === '"') {
      let end = v.indexOf(c, i + 1);
      while (c === '"' && end > 0 && v[end - 1] === "\\") end = v.indexOf(c, end + 1);
      if (end < 0) return undefined;
      const inner = v.slice(i + 1, end);
      out += c === '"' ? inner.replace(/\\(["\\$`])/g, "$1") : inner;
      i = end + 1;
    } else if (c === "\\" && i + 1 < v.length) {
      out += v[i + 1];
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  const rest = v.slice(i).trim();
  return rest === "" || rest.startsWith("#") ? out : undefined;
}

/** Parses `--set KEY=VALUE` values. */
export function parseSetValues(values: readonly string[]): Setting[] {
  return values.map((s) => {
    const eq = s.indexOf("=");
    const key = eq > 0 ? s.slice(0, eq) : "";
    if (!KEY.test(key)) throw new AirgapError("INVALID_ARGUMENT", `--set ${eq > 0 ? key : s.split("=")[0]}=…: expected KEY=VALUE with KEY made of letters, digits and _`);
    return { key, value: s.slice(eq + 1), origin: "--set" };
  });
}

/**
 * Merges settings, later ones winning (config file, then `--set`). A value that is still its own placeholder
 * (`REGISTRY={REGISTRY}`, the seed's "leave as is") counts as unset.
 */
export function mergeSettings(...lists: Setting[][]): Map<string, Setting> {
  const merged = new Map<string, Setting>();
  for (const list of lists) {
    for (const s of list) {
      if (s.value === `{${s.key}}` || s.value === `{{${s.key}}}`) merged.delete(s.key);
      else merged.set(s.key, s);
    }
  }
  return merged;
}
