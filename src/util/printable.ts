/**
 * Text from outside (an imagelist line, a registry's error, a bundle's entry name) made safe to print: control
 * characters — escape sequences that would move the cursor, recolour or retitle a terminal — are shown as
 * `\xNN` instead of being sent to it. Newlines and tabs stay.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** `text` with every control character but newline and tab written as `\xNN`. */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
