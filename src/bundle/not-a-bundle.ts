/**
 * What a file given as a bundle is, when it is not one: a bundle's checksum file or signature, an inventory, a
 * key, an imagelist or other text. Said with what to give instead (exit 2), rather than "the tar ends inside a
 * header at byte 0 … copy it again", which sends a user to copy a good file again.
 */
import { basename, dirname, join } from "node:path";
import { AirgapError } from "../errors.js";

const GIVE_A_BUNDLE = "give the NAME-VERSION.tar that bundle save wrote, or its first part (.tar.001)";

/** The error for `path`, whose first bytes (up to a tar block) are `head` and hold no tar header. */
export function notABundle(path: string, head: Buffer): AirgapError {
  const text = head.toString("utf8");
  const firstLine = text.split("\n")[0]!.trim();
  const refuse = (what: string, hint: string) => new AirgapError("NOT_A_BUNDLE", `${path} is ${what}, not a bundle`, { hint });
  if (head.length === 0) return refuse("empty", GIVE_A_BUNDLE);
  const sums = /^(?:# \S+ )?[0-9a-f]{64} [ *](\S+)$/.exec(firstLine);
  if (sums) return refuse("a checksum file (.sha256)", `give the bundle it names: ${join(dirname(path), sums[1]!)}`);
  if (/^-----BEGIN [A-Z ]+-----/.test(text)) return refuse("a PEM key", "a public key goes to --key, a private one to bundle save --sign-key");
  if (/^\s*\{/.test(text)) {
    const inventory = "an inventory (from bundle inventory) goes to bundle save --since FILE, or bundle diff";
    return text.includes("airgap-bundle-inventory") ? refuse("an inventory", inventory) : refuse("a JSON file", `${inventory}; ${GIVE_A_BUNDLE}`);
  }
  if (path.endsWith(".sig") || /^[A-Za-z0-9+/]{40,}={0,2}\s*$/.test(text)) {
    return refuse("a bundle's signature (.sig)", `give the bundle; its .sig is read from beside it: ${join(dirname(path), basename(path).replace(/\.sig$/, ""))}`);
  }
  if (!text.includes("\u0000") && !text.includes("\uFFFD")) {
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    const images = lines.length > 0 && lines.slice(0, lines.length - 1 || 1).every((l) => /^[a-z0-9][\w.:/@+-]*$/i.test(l) && /[:/]/.test(l));
    if (images) return refuse("an imagelist", "an imagelist goes to bundle save --imagelist FILE");
    return refuse("a text file", GIVE_A_BUNDLE);
  }
  return new AirgapError("NOT_A_BUNDLE", `${path}: not a tar file (no tar header at its start)`, { hint: GIVE_A_BUNDLE });
}
