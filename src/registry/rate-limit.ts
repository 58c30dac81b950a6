/**
 * A registry host's rate limit, as it tells it: the `ratelimit-remaining` header (`R;w=SECONDS`, Docker Hub's) and a
 * 429's `Retry-After`. When the budget is spent the whole host pauses — every request to it waits, none is sent to be
 * refused — until the window has passed; a 429 pauses it until Retry-After. The wait is said, with its end, once per
 * pause. Waiting is not failing: a save completes however long the registry makes it wait (Ctrl-C stops it).
 * https://docs.docker.com/docker-hub/usage/pulls/
 */
import type { IncomingHttpHeaders } from "node:http";
import { parseRetryAfter, wait } from "./retry.js";

/** How long to pause when a host says its budget is spent but not for how long. */
const DEFAULT_PAUSE_MS = 60_000;

/** `R;w=SECONDS` (or a bare count). */
export function parseRateLimit(value: string | string[] | undefined): { count: number; windowSeconds?: number } | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const m = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/.exec(text ?? "");
  if (!m) return undefined;
  return { count: Number(m[1]), ...(m[2] !== undefined && { windowSeconds: Number(m[2]) }) };
}

/** One host's gate: requests pass it, responses tell it when to close. */
export class RateGate {
  private until = 0;

  /** `onPause(untilMs, reason)` is told once per pause. */
  constructor(private readonly onPause: (untilMs: number, reason: string) => void) {}

  /** Waits while the host is paused; rejects when `signal` aborts. */
  async pass(signal?: AbortSignal): Promise<void> {
    for (let left = this.until - Date.now(); left > 0; left = this.until - Date.now()) await wait(left, signal);
  }

  /** Reads a response's rate-limit headers; true for a 429 (the request is to be sent again after the pause). */
  note(status: number, headers: IncomingHttpHeaders): boolean {
    const remaining = parseRateLimit(headers["ratelimit-remaining"]);
    const windowMs = (remaining?.windowSeconds ?? parseRateLimit(headers["ratelimit-limit"])?.windowSeconds ?? 0) * 1000;
    if (status === 429) {
      const retryAfter = parseRetryAfter(Array.isArray(headers["retry-after"]) ? headers["retry-after"][0] : headers["retry-after"]);
      this.pauseFor(retryAfter ?? (windowMs || DEFAULT_PAUSE_MS), "HTTP 429, too many requests");
      return true;
    }
    if (remaining?.count === 0) this.pauseFor(windowMs || DEFAULT_PAUSE_MS, "its request budget for the window is spent");
    return false;
  }

  private pauseFor(ms: number, reason: string): void {
    const until = Date.now() + ms;
    if (until <= this.until) return;
    this.until = until;
    this.onPause(until, reason);
  }
}
