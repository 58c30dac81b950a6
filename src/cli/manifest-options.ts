/**
 * The option that caps manifest files, shared by the commands that read a manifests folder.
 */
import { AirgapError } from "../errors.js";
import { DEFAULT_MAX_MANIFEST_BYTES } from "../kube/limits.js";
import { parseSize } from "../util/size.js";
import type { OptionSpec } from "./command.js";

/** `--max-manifest-size`. */
export const MANIFEST_SIZE_OPTION: Record<string, OptionSpec> = {
  "max-manifest-size": { type: "string", describe: "Largest manifest file read (parsing takes ~40× its size in memory)", default: "32Mi", requiresArg: true },
};

/** The cap in bytes from the parsed arguments. */
export function maxManifestBytes(args: Record<string, unknown>): number {
  if (args["max-manifest-size"] === undefined) return DEFAULT_MAX_MANIFEST_BYTES;
  const n = parseSize(String(args["max-manifest-size"]), "--max-manifest-size");
  if (n < 1024) throw new AirgapError("INVALID_ARGUMENT", "--max-manifest-size must be at least 1Ki");
  return n;
}
