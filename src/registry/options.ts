/**
 * How registries are reached, and how one request is sent: the settings a run and a request carry.
 */
import type { Dispatcher } from "undici";
import type { CredentialStore } from "./credentials.js";
import type { RetryOptions } from "./retry.js";
import type { StallRule } from "./stall.js";

/** A retry about to happen, for progress output. */
export interface RetryNotice {
  host: string;
  what: string;
  attempt: number;
  delayMs: number;
  reason: string;
  /** A rate-limit pause: every request to the host waits until then (epoch ms). */
  waitUntil?: number;
}

/** How to reach registries: TLS, plain HTTP, credentials, retries. */
export interface RegistryOptions {
  credentials: CredentialStore;
  /** Extra CA certificates (PEM file paths) trusted on top of the system's. */
  caFiles?: string[];
  /** Hosts whose TLS certificate is not verified (and which may fall back to plain HTTP). */
  insecureHosts?: string[];
  /** Hosts spoken to over plain HTTP; `true` for all. */
  plainHttp?: boolean | string[];
  retry?: RetryOptions;
  userAgent?: string;
  onRetry?: (notice: RetryNotice) => void;
  /** Max connections per registry origin. */
  connections?: number;
  /** Upload blobs larger than this in PATCH chunks of this size (for proxies that cap request bodies). */
  chunkSize?: number;
  /** When a request counts as stalled (default {@link DEFAULT_STALL}). */
  stall?: StallRule;
}

/** Options of one request. */
export interface SendOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  /** Auth scope, e.g. `repository:library/mysql:pull`. */
  scope?: string;
  /** A body factory: called again for each retry (a consumed stream cannot be re-sent). */
  body?: () => Buffer | NodeJS.ReadableStream | string | Promise<NodeJS.ReadableStream>;
  /** Do not retry (the caller retries a larger unit, e.g. a whole upload). */
  noRetry?: boolean;
  /** Send without the registry's credentials (the ping, the token request). Only its API host is ever sent them. */
  noAuth?: boolean;
  /** Describes the operation in errors: `fetching manifest gcr.io/x:v1`. */
  what: string;
  signal?: AbortSignal;
  /** Statuses returned to the caller rather than retried (e.g. 404 for HEAD probes). */
  passStatuses?: number[];
}
