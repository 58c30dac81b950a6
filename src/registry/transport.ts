/**
 * A registry host's requests as a stack of small layers, each with one job, as go-containerregistry's transport is.
 * From the outside in:
 *
 *   retry → auth → rate limit → wire
 *
 * `wire` sends one request (undici, the stall rule, failures in words); `withRateLimit` holds every request to the
 * host while its budget is spent and sends a 429'd request again after the pause, without using up a retry;
 * `withAuth` answers the registry's challenge, renewing once on a 401, and words a final 401; `withRetry` sends
 * again after a temporary failure (5xx, 408, a broken connection; a storage host's 429) with backoff. The rate limit
 * sits inside the others so that every request that reaches the wire — an auth renewal, a retry — passes its gate
 * and is seen by it first. `RegistryHost` (client.ts) stacks them.
 */
import type { Dispatcher } from "undici";
import { AirgapError } from "../errors.js";
import { request } from "./http.js";
import { abortError, describeNetworkError, networkError, ownError } from "./network-errors.js";
import type { SendOptions } from "./options.js";
import type { RateGate } from "./rate-limit.js";
import { isRetryableNetworkError, isRetryableStatus, parseRetryAfter, type RetryOptions } from "./retry.js";
import { watchBody, type StallRule } from "./stall.js";

/** Sends one request to an absolute URL; the caller reads (or discards) the response's body. */
export type Send = (url: string, options: SendOptions) => Promise<Dispatcher.ResponseData>;

/** How many rate-limit pauses one request goes through (each as long as the registry says) before it is answered with the 429. */
export const MAX_RATE_WAITS = 50;

/** Whether the caller takes this status as it is (a 404 of a HEAD probe). */
function passes(options: SendOptions, status: number): boolean {
  return options.passStatuses?.includes(status) === true;
}

/** A response whose body is not wanted: its connection goes back to the pool. */
function discard(res: Dispatcher.ResponseData): void {
  res.body.resume();
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** What the wire needs to know. */
export interface WireSettings {
  userAgent: string;
  stall: StallRule;
  /** The connection pool for a URL (the registry's own, or the one for the storage hosts it redirects to). */
  dispatcherFor(url: URL): Dispatcher;
}

/**
 * One request, no second chance: a network failure is a NETWORK error naming the request and the URL (its cause
 * kept, for the retry layer to judge), Ctrl-C is ABORTED, and our own error from a request body (bytes that failed
 * verification) is thrown as it is. The body is watched for stalls.
 */
export function wire(settings: WireSettings): Send {
  return async (url, options) => {
    const target = new URL(url);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: options.method ?? "GET",
        headers: { "user-agent": settings.userAgent, ...options.headers },
        body: (await options.body?.()) as Dispatcher.DispatchOptions["body"],
        dispatcher: settings.dispatcherFor(target),
        signal: options.signal,
        headersTimeout: settings.stall.ms,
        bodyTimeout: settings.stall.ms,
      });
    } catch (err) {
      if (options.signal?.aborted) throw abortError(options.what);
      throw ownError(err) ?? networkError(options.what, url, err);
    }
    watchBody(res.body, settings.stall, options.what);
    return res;
  };
}

/** What the retry layer needs to know. */
export interface RetrySettings {
  retry: RetryOptions;
  /** Waits before attempt `attempt + 1` (and says so); rejects with ABORTED on Ctrl-C. */
  backoff(options: SendOptions, attempt: number, reason: string, retryAfterMs?: number): Promise<void>;
}

/**
 * Sends again after a temporary failure — a broken connection, 408, 429, 5xx (not 501/505) — up to `retries` times
 * with backoff (Retry-After honoured). Statuses the caller passes are returned as they are; `noRetry` (a caller
 * retrying a larger unit) sends once.
 */
export function withRetry(next: Send, settings: RetrySettings): Send {
  return async (url, options) => {
    for (let attempt = 0; ; attempt++) {
      const more = attempt < settings.retry.retries && !options.noRetry;
      let res: Dispatcher.ResponseData;
      try {
        res = await next(url, options);
      } catch (err) {
        if (!(more && err instanceof AirgapError && err.code === "NETWORK" && isRetryableNetworkError(err.cause))) throw err;
        await settings.backoff(options, attempt, describeNetworkError(err.cause));
        continue;
      }
      const status = res.statusCode;
      if (!more || passes(options, status) || !isRetryableStatus(status)) return res;
      discard(res);
      await settings.backoff(options, attempt, `HTTP ${status}`, parseRetryAfter(headerValue(res.headers["retry-after"])));
    }
  };
}

/** A registry's credentials as the auth layer uses them (auth.ts). */
export interface Authorizer {
  /** The Authorization header for a scope (a token fetched when the registry asks for one), or none. */
  header(scope: string, signal?: AbortSignal): Promise<string | undefined>;
  /** After a 401: forgets the scope's header and takes the fresh challenge; true when there is one to answer. */
  renew(scope: string, challenge: string | string[] | undefined): boolean;
  /** A final 401 in words, with what to do about it. */
  refused(what: string, res: Dispatcher.ResponseData): Promise<AirgapError>;
}

/**
 * Adds the registry's credentials — only to a request for its own API host (a storage host it redirects to never
 * sees them), and not to one that opts out (`noAuth`: the ping, the token request) or carries its own. A 401 renews
 * them once and sends again; a second 401, or one to a request without them, is an error saying what to do.
 */
export function withAuth(next: Send, apiHost: string, authorizer: Authorizer): Send {
  return async (url, options) => {
    const ours = !options.noAuth && new URL(url).host === apiHost && options.headers?.authorization === undefined;
    const scope = options.scope ?? "";
    for (let renewed = false; ; renewed = true) {
      const authorization = ours ? await authorizer.header(scope, options.signal) : undefined;
      const res = await next(url, authorization ? { ...options, headers: { ...options.headers, authorization } } : options);
      if (res.statusCode !== 401 || passes(options, 401)) return res;
      if (ours && !renewed && authorizer.renew(scope, res.headers["www-authenticate"])) {
        discard(res);
        continue;
      }
      throw await authorizer.refused(options.what, res);
    }
  };
}

/**
 * The host's rate limit: every request to its API host waits while the budget is spent (one {@link RateGate} for
 * the run); a 429 pauses the host and the request is sent again after the pause — at most {@link MAX_RATE_WAITS}
 * times, and never for a request that takes no retries.
 */
export function withRateLimit(next: Send, apiHost: string, gate: RateGate): Send {
  return async (url, options) => {
    const api = new URL(url).host === apiHost;
    for (let waits = 0; ; waits++) {
      if (api) await gate.pass(options.signal).catch(() => {
        throw abortError(options.what);
      });
      const res = await next(url, options);
      if (!api || passes(options, res.statusCode)) return res;
      if (!(gate.note(res.statusCode, res.headers) && waits < MAX_RATE_WAITS && !options.noRetry)) return res;
      discard(res);
    }
  };
}
