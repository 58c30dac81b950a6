/**
 * Options several commands take, declared once with the one function that reads each: the target layout, the
 * number of blobs moved at once, and the default bound of the commands that wait on a cluster.
 */
import { AirgapError } from "../errors.js";
import { DEFAULT_TARGET_LAYOUT, type TargetLayout } from "../reference/target.js";
import type { OptionSpec } from "./command.js";

/** `--target-layout`, with what it means for the command that takes it. */
export function targetLayoutOption(describe: string): Record<string, OptionSpec> {
  return { "target-layout": { type: "string", describe, choices: ["host", "strip-host"], default: DEFAULT_TARGET_LAYOUT } };
}

/** The `--target-layout` given (yargs has checked it is one of the choices). */
export function targetLayoutOf(args: Record<string, unknown>): TargetLayout {
  return String(args["target-layout"] ?? DEFAULT_TARGET_LAYOUT) as TargetLayout;
}

/** Most blobs moved at once that `--concurrency` accepts. */
const MAX_CONCURRENCY = 256;

/** `--concurrency`: `what` moves at once (blob downloads, blob uploads). */
export function concurrencyOption(what: string, byDefault: number): Record<string, OptionSpec> {
  return { concurrency: { type: "number", describe: `${what} at once`, default: byDefault, requiresArg: true } };
}

/** The `--concurrency` given; INVALID_ARGUMENT unless a whole number from 1 to 256. */
export function concurrencyOf(args: Record<string, unknown>): number {
  const concurrency = Number(args.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new AirgapError("INVALID_ARGUMENT", `--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  return concurrency;
}

/** The default `--timeout` of the commands that wait on a cluster (install, load, uninstall): the seed guide's "wait ten minutes". */
export const DEFAULT_CLUSTER_TIMEOUT = "10m";
