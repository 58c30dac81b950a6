/**
 * When and how long to retry: exponential backoff with full jitter, Retry-After honoured.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Retry settings. */
export interface RetryOptions {
  /** Retries after the first attempt (`--retries`). */
  retries: number;
  /** First backoff in milliseconds; doubles each attempt. */
  baseMs: number;
  /** Longest backoff, and the longest Retry-After we wait for. */
  maxMs: number;
}

/** Default retry settings: 5 retries, 250 ms doubling up to 30 s. */
export const DEFAULT_RETRY: RetryOptions = { retries: 5, baseMs: 250, maxMs: 30_000 };

/** HTTP statuses worth retrying: timeouts, rate limits and server errors (not 501/505, which will not change). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

const RETRYABLE_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH",
  "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_REQ_RETRY", "ERR_STREAM_PREMATURE_CLOSE", "STALLED",
]);

/** True for connection-level failures (reset, refused, timeouts, a body cut short). */
export function isRetryableNetworkError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && RETRYABLE_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** How long to wait before retry number `attempt` (0-based): Retry-After if given, else full-jitter backoff. */
export function backoffMs(attempt: number, options: RetryOptions, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, options.maxMs);
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** Waits for a backoff; rejects early when `signal` aborts. */
export function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, undefined, signal ? { signal } : undefined);
}
