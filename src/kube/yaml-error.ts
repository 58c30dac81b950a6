/**
 * A YAML parser's complaint as one line a person can act on: `file:line:column: invalid YAML: reason: the line`.
 * The parsers say where they gave up, which for a quote never closed is the end of the file; the place that
 * matters is the opening quote, found here by reading the text the way YAML quotes work.
 */
import { AirgapError } from "../errors.js";

/** Where a quoted scalar opens and is never closed, if one is (1-based line and column). */
export function unclosedQuote(text: string): { line: number; column: number } | undefined {
  let line = 1;
  let column = 0;
  let open: { line: number; column: number; quote: string } | undefined;
  let previous = "\n";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    column++;
    if (c === "\n") {
      line++;
      column = 0;
    }
    if (open) {
      if (open.quote === '"' && c === "\\") {
        i++;
        column++;
      } else if (c === open.quote) {
        if (open.quote === "'" && text[i + 1] === "'") {
          i++;
          column++;
        } else open = undefined;
      }
    } else if (c === "#" && /\s/.test(previous)) {
      const end = text.indexOf("\n", i);
      column += (end < 0 ? text.length : end) - i - 1;
      i = (end < 0 ? text.length : end) - 1;
    } else if ((c === '"' || c === "'") && /[\s:[{,-]/.test(previous)) {
      // A quote opens a scalar only where a value starts (not the apostrophe in `it's`).
      open = { line, column, quote: c };
    }
    previous = c;
  }
  return open && { line: open.line, column: open.column };
}

/** The INVALID_YAML error for `file`, from the parser's `message` and the place it gave (1-based; column optional). */
export function invalidYaml(file: string, text: string, message: string, at: { line?: number; column?: number }): AirgapError {
  let reason = (message.split("\n")[0] ?? message).replace(/\s*\(\d+:\d+\)\s*$/, "").replace(/\s+at line \d+, column \d+:?\s*$/, "").trim();
  let place = at;
  if (/closing "?quote|quoted scalar|missing closing/i.test(reason)) {
    const opened = unclosedQuote(text);
    if (opened) {
      place = opened;
      reason = "a quoted string is opened here and never closed";
    }
  }
  const where = place.line === undefined ? file : `${file}:${place.line}${place.column === undefined ? "" : `:${place.column}`}`;
  const shown = place.line === undefined ? undefined : text.split(/\r?\n/)[place.line - 1]?.trim().slice(0, 120);
  return new AirgapError("INVALID_YAML", `${where}: invalid YAML: ${reason}${shown ? `: ${shown}` : ""}`, { hint: "fix the file and run again" });
}
