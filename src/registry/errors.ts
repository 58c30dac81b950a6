/**
 * Registry errors: the server's diagnostics, capped, with URLs redacted (no credentials, no query).
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes
 */
import type { Dispatcher } from "undici";
import { AirgapError, type ErrorCode } from "../errors.js";
import { describeNetworkError, redactUrl } from "./network-errors.js";

export { redactUrl };
import { isRetryableNetworkError, isRetryableStatus } from "./retry.js";

/** One entry of a registry's `{"errors":[…]}` body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
}

/**
 * A registry's answer (or a registry breaking the protocol) as an error: the HTTP status, the registry's own
 * error codes and messages, and whether trying again may help. Only temporary errors are retried.
 */
export class RegistryError extends AirgapError {
  /** The registry's error codes and messages (`BLOB_UNKNOWN`, `DIGEST_INVALID`…), as it sent them. */
  readonly errors: RegistryErrorEntry[];
  /** A timeout, a rate limit or a server error: the same request may succeed later. */
  readonly temporary: boolean;

  constructor(message: string, options: { status?: number; errors?: RegistryErrorEntry[]; hint?: string; cause?: unknown } = {}) {
    super(options.status === undefined ? "REGISTRY" : codeFor(options.status), message, options);
    this.name = "RegistryError";
    this.errors = options.errors ?? [];
    this.temporary = options.status !== undefined && isRetryableStatus(options.status);
  }
}

/** Whether trying again may help: a temporary registry error, a network failure (reset, refused, stalled, cut short). */
export function isTemporary(err: unknown): boolean {
  if (err instanceof RegistryError) return err.temporary;
  if (err instanceof AirgapError) return err.code === "NETWORK";
  return isRetryableNetworkError(err);
}

/** Largest error body we read: the remote decides its size, so cap it. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Reads at most `cap` bytes of a response body; throws when there is more (the rest is discarded). */
export async function readCapped(body: Dispatcher.ResponseData["body"], cap: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      if (total > cap) {
        body.destroy();
        throw new RegistryError(`${what}: response larger than the ${cap}-byte limit`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // A stall (ours) or the wire's failure (undici's codes) in words.
    if (err instanceof AirgapError) throw err;
    const own = (err as { cause?: unknown }).cause;
    if (own instanceof AirgapError) throw own;
    throw new AirgapError("NETWORK", `${what}: ${describeNetworkError(err)} after ${total} bytes`, { cause: err });
  }
  return Buffer.concat(chunks);
}

/** The server's `{"errors":[{code,message}]}` entries, or none when the body is something else. */
function registryErrors(text: string): RegistryErrorEntry[] {
  try {
    const json = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (!Array.isArray(json.errors)) return [];
    return json.errors.slice(0, 20).map((e) => ({ code: typeof e.code === "string" ? e.code.slice(0, 100) : "", message: typeof e.message === "string" ? e.message.slice(0, 200) : "" }));
  } catch {
    return [];
  }
}

/** Short text of the server's errors, or the first line of its body. */
function diagnostics(text: string, errors: RegistryErrorEntry[]): string {
  if (errors.length > 0) return errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ").slice(0, 300);
  const line = text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  return line.replace(/<[^>]*>/g, "").slice(0, 200);
}

/** Error code for an HTTP status. */
function codeFor(status: number): ErrorCode {
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "DENIED";
  if (status === 404) return "NOT_FOUND";
  return "REGISTRY";
}

/** Builds the error for an unexpected response, reading (a capped part of) its body. */
export async function responseError(what: string, res: Dispatcher.ResponseData, hint?: string): Promise<RegistryError> {
  let body: Buffer = Buffer.alloc(0);
  try {
    body = await readCapped(res.body, MAX_ERROR_BODY_BYTES, what);
  } catch {
    res.body.destroy();
  }
  const text = body.toString("utf8");
  const errors = registryErrors(text);
  const detail = diagnostics(text, errors);
  return new RegistryError(`${what}: HTTP ${res.statusCode}${detail ? ` ${detail}` : ""}`, { status: res.statusCode, errors, ...(hint && { hint }) });
}
