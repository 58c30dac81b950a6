/**
 * The one error type the core throws. Only the CLI maps errors to exit codes and prints them.
 */

/** Stable error codes. Callers switch on these, never on message text. */
export type ErrorCode =
  | "INVALID_REFERENCE"
  | "INVALID_IMAGELIST"
  | "INVALID_CHARTS"
  | "INVALID_CHART"
  | "INVALID_REGISTRY"
  | "TARGET_COLLISION"
  | "FILE_NOT_FOUND"
  | "INVALID_ARGUMENT"
  | "IO"
  | "DISK_FULL"
  | "INVALID_MANIFEST"
  | "UNSUPPORTED"
  | "SIZE_MISMATCH"
  | "DIGEST_MISMATCH"
  | "NOT_FOUND"
  | "UNAUTHORIZED"
  | "DENIED"
  | "REGISTRY"
  | "NETWORK"
  | "PLATFORM_NOT_FOUND"
  | "CREDENTIALS"
  | "BUNDLE_EXISTS"
  | "IMAGES_FAILED"
  | "MISSING_IMAGES"
  | "INVALID_BUNDLE"
  | "NOT_A_BUNDLE"
  | "INVALID_YAML"
  | "VERIFY_FAILED"
  | "LOAD_FAILED"
  | "REFERENCES_MISSING"
  | "UNRESOLVED_PLACEHOLDERS"
  | "KUBE_UNREACHABLE"
  | "NO_KUBECONFIG"
  | "KUBE_API"
  | "INSTALL_FAILED"
  | "PREFLIGHT_FAILED"
  | "NOT_READY"
  | "SCRIPT_FAILED"
  | "DOCKER_UNREACHABLE"
  | "DOCKER"
  | "ABORTED"
  | "TIMED_OUT"
  | "INTERNAL";

/** Error codes that mean "the user's input is wrong" (usage/input errors), as opposed to a failure while working. */
export const INPUT_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "INVALID_REFERENCE",
  "INVALID_IMAGELIST",
  "INVALID_CHARTS",
  "INVALID_REGISTRY",
  "TARGET_COLLISION",
  "FILE_NOT_FOUND",
  "INVALID_ARGUMENT",
  "BUNDLE_EXISTS",
  "UNRESOLVED_PLACEHOLDERS",
  "NOT_A_BUNDLE",
  "INVALID_YAML",
  "MISSING_IMAGES",
  "NO_KUBECONFIG",
]);

/** One problem among several (for errors that must list every bad line, not just the first). */
export interface Problem {
  /** File the problem is in, if any. */
  file?: string;
  /** 1-based line number, if any. */
  line?: number;
  /** The offending text, if short enough to show. */
  text?: string;
  /** Why it is a problem, in words a user understands. */
  reason: string;
}

/** Options for {@link AirgapError}. */
export interface AirgapErrorOptions {
  /** A suggestion for what to do next, printed after the message. */
  hint?: string;
  /** Every individual problem, when the error sums up several. */
  problems?: Problem[];
  /** The underlying error. */
  cause?: unknown;
  /** The HTTP status a server answered with, when the error is its answer. */
  status?: number;
}

/** An error with a stable `code`, an optional hint and optional list of problems. */
export class AirgapError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** A suggestion for what to do next. */
  readonly hint?: string;
  /** Every individual problem this error sums up. */
  readonly problems: Problem[];
  /** The HTTP status a server answered with, when the error is its answer. */
  readonly status?: number;

  constructor(code: ErrorCode, message: string, options: AirgapErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AirgapError";
    this.code = code;
    this.hint = options.hint;
    this.problems = options.problems ?? [];
    if (options.status !== undefined) this.status = options.status;
  }
}

/** Formats a problem as `file:line: reason` (the shape compilers use, so editors can jump to it). */
export function formatProblem(p: Problem): string {
  const where = [p.file, p.line].filter((x) => x !== undefined).join(":");
  const text = p.text === undefined ? "" : `"${p.text}": `;
  return `${where ? `${where}: ` : ""}${text}${p.reason}`;
}
