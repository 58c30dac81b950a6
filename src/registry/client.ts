/**
 * A client for one registry host speaking the OCI distribution API over undici: scheme detection, paginated
 * listings, and every request through the host's transport stack (transport.ts: retry → auth → rate limit → wire;
 * auth.ts: Basic and Docker token auth, credentials never sent past the registry's own host).
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 */
import type { Dispatcher } from "undici";
import { AirgapError } from "../errors.js";
import { HostAuth } from "./auth.js";
import { readCapped, RegistryError, responseError } from "./errors.js";
import { DEFAULT_STALL } from "./stall.js";
import type { RegistryOptions, SendOptions } from "./options.js";
import { abortError, isTlsProtocolError } from "./network-errors.js";
import { backoffMs, DEFAULT_RETRY, wait, type RetryOptions } from "./retry.js";
import { RateGate } from "./rate-limit.js";
import { headerValue, wire, withAuth, withRateLimit, withRetry, type Send } from "./transport.js";

export type { RegistryOptions, RetryNotice, SendOptions } from "./options.js";

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/;
/** Docker Hub's API lives on another host than its references say. */
const API_HOST: Record<string, string> = { "docker.io": "registry-1.docker.io" };
/** Repositories asked for per catalog page. */
const CATALOG_PAGE = 1000;
/** Most catalog pages read: a million repositories, far beyond any private registry a bundle is loaded into. */
export const MAX_CATALOG_PAGES = 1000;
/** One registry host. Create through `Registries` (registries.ts). */
export class RegistryHost {
  /** The host as in references (`docker.io`, `127.0.0.1:5000`). */
  readonly host: string;
  private origin?: Promise<string>;
  private readonly auth: HostAuth;
  /**
   * Sends to an absolute URL through the host's stack (transport.ts). Credentials go only to this registry's API
   * host: a redirect to a storage host is followed without them.
   */
  readonly send: Send;

  constructor(
    host: string,
    private readonly options: RegistryOptions,
    dispatcher: Dispatcher,
    foreign: Dispatcher,
  ) {
    this.host = host;
    const apiHost = this.apiHost;
    // The host's rate limit: one gate for every request of the run.
    const gate = new RateGate((until, reason) => {
      options.onRetry?.({ host, what: `requests to ${host}`, attempt: 0, delayMs: until - Date.now(), reason, waitUntil: until });
    });
    const wired = wire({ userAgent: options.userAgent ?? "airgap-bundle", stall: options.stall ?? DEFAULT_STALL, dispatcherFor: (url) => (url.host === apiHost ? dispatcher : foreign) });
    this.auth = new HostAuth(host, options.credentials, (url, o) => this.send(url, o));
    this.send = withRetry(withAuth(withRateLimit(wired, apiHost, gate), apiHost, this.auth), { retry: this.retry, backoff: (o, attempt, reason, after) => this.backoff(o, attempt, reason, after) });
  }

  private get retry(): RetryOptions {
    return this.options.retry ?? DEFAULT_RETRY;
  }

  private plainHttp(): boolean {
    const p = this.options.plainHttp;
    return p === true || (Array.isArray(p) && p.includes(this.host));
  }

  private mayFallBackToHttp(): boolean {
    return LOOPBACK.test(this.host) || (this.options.insecureHosts ?? []).includes(this.host);
  }

  /**
   * `https://host` or `http://host`, found once by pinging `/v2/` (which also learns the auth challenge). A host
   * that could not be reached (after the ping's retries) stays unreached for the run: every image from it gets
   * the one diagnosis, not a round of retries of its own. Only a cancelled ping is tried again.
   */
  base(signal?: AbortSignal): Promise<string> {
    this.origin ??= this.detect(signal);
    this.origin.catch((err: unknown) => {
      if (err instanceof AirgapError && err.code === "ABORTED") this.origin = undefined;
    });
    return this.origin;
  }

  /** The host the API is served from (Docker Hub's differs from its reference host). */
  get apiHost(): string {
    return API_HOST[this.host] ?? this.host;
  }

  private async detect(signal?: AbortSignal): Promise<string> {
    const apiHost = this.apiHost;
    // A registry on this machine is asked in plain HTTP first: nothing leaves the host, the ping carries no
    // credentials, and most local registries speak HTTP (a TLS one answers 400 or breaks off, then TLS is
    // used). That spares a TLS set-up and a round trip on every run. Hosts named by --insecure-registry are
    // asked in TLS first.
    const tried: string[] = [];
    if (!this.plainHttp() && LOOPBACK.test(this.host)) {
      tried.push(`http://${apiHost}/v2/`);
      const origin = await this.ping(`http://${apiHost}`, signal, true).catch((err: unknown) => {
        // An HTTP server that is not a registry says so better than a failed TLS handshake would.
        if (err instanceof AirgapError && err.code === "REGISTRY") throw err;
        return undefined;
      });
      if (origin) return origin;
    }
    // The probe above takes no retries; a local registry that refused it (still starting) is asked again here,
    // in TLS and then plain HTTP, with retries.
    const schemes = this.plainHttp() ? ["http"] : this.mayFallBackToHttp() ? ["https", "http"] : ["https"];
    let lastError: unknown;
    for (const scheme of schemes) {
      if (!tried.includes(`${scheme}://${apiHost}/v2/`)) tried.push(`${scheme}://${apiHost}/v2/`);
      try {
        return (await this.ping(`${scheme}://${apiHost}`, signal, false))!;
      } catch (err) {
        lastError = err;
        if (!(scheme === "https" && schemes.length > 1 && isTlsProtocolError(err))) break;
      }
    }
    // Every address asked, not only the last: a local registry is asked in plain HTTP first.
    if (lastError instanceof AirgapError && lastError.code === "NETWORK" && tried.length > 1) {
      throw new AirgapError("NETWORK", `${lastError.message.replace(/ \([a-z]+:\/\/[^)]*\)$/, "")} (tried ${tried.join(", then ")})`, { cause: lastError, ...(lastError.hint !== undefined && { hint: lastError.hint }) });
    }
    throw lastError;
  }

  /**
   * `GET /v2/` at `origin`: the origin when a registry answers there (learning its auth challenge). With
   * `probe`, anything but a registry's answer (another status, a broken connection) gives `undefined`, without retries.
   */
  private async ping(origin: string, signal: AbortSignal | undefined, probe: boolean): Promise<string | undefined> {
    const res = await this.send(`${origin}/v2/`, { what: `connecting to ${this.host}`, noAuth: true, passStatuses: probe ? [200, 401, 404] : [401, 404], noRetry: probe, ...(signal && { signal }) });
    res.body.resume();
    if (probe && res.statusCode !== 200 && res.statusCode !== 401 && res.statusCode !== 404) return undefined;
    if (res.statusCode === 404) throw new RegistryError(`${this.host} does not speak the registry v2 API (GET /v2/ gave 404)`);
    if (res.statusCode === 401) this.auth.learn(res.headers["www-authenticate"]);
    return origin;
  }

  /** Chunk size for uploads, if chunked uploads were asked for. */
  get chunkSize(): number | undefined {
    return this.options.chunkSize;
  }

  /** The retry settings. */
  get retryOptions(): RetryOptions {
    return this.retry;
  }

  /** Waits before a retry of a caller's own unit of work (and reports it). */
  async retryWait(what: string, attempt: number, reason: string, signal?: AbortSignal): Promise<void> {
    await this.backoff({ what, ...(signal && { signal }) }, attempt, reason);
  }

  /**
   * Every repository `GET /v2/_catalog` lists, following `Link` pagination; undefined when the registry refuses
   * it. A page that is not a catalog, a `Link` that leads back to a page already read, or more than
   * {@link MAX_CATALOG_PAGES} pages is an error in words.
   */
  catalog(signal?: AbortSignal): Promise<string[] | undefined> {
    return this.listAll(`/v2/_catalog?n=${CATALOG_PAGE}`, "repositories", `listing ${this.host}/v2/_catalog`, "registry:catalog:*", signal);
  }

  /**
   * The names a paginated listing gives (`/v2/_catalog`, `/v2/<name>/tags/list`), following `Link` headers;
   * undefined when the registry does not know it (404) or, for the catalog, refuses it (401, 403).
   */
  async listAll(first: string, key: "repositories" | "tags", what: string, scope: string, signal?: AbortSignal): Promise<string[] | undefined> {
    const names: string[] = [];
    const seen = new Set<string>();
    let path: string | undefined = first;
    while (path) {
      if (seen.has(path)) throw new RegistryError(`${what}: its Link header leads back to a page already read (${path})`);
      if (seen.size >= MAX_CATALOG_PAGES) throw new RegistryError(`${what}: more than ${MAX_CATALOG_PAGES} pages of ${CATALOG_PAGE}; stopped`);
      seen.add(path);
      // A catalog refused is common (Harbor keeps it for admins); the tags of a repository refused are not.
      const quiet = key === "repositories" ? [401, 403, 404] : [404];
      const res = await this.request(path, { what, signal, scope, passStatuses: quiet });
      if (quiet.includes(res.statusCode)) {
        res.body.resume();
        return undefined;
      }
      if (res.statusCode !== 200) throw await responseError(what, res);
      // The registry decides the body's size; a page of a thousand names needs far less.
      const text = (await readCapped(res.body, 16 * 1024 * 1024, what)).toString("utf8");
      let page: unknown;
      try {
        page = (JSON.parse(text) as Record<string, unknown>)[key];
      } catch {
        page = undefined;
      }
      if (page !== undefined && (!Array.isArray(page) || page.some((n) => typeof n !== "string"))) page = undefined;
      if (page === undefined && !new RegExp(`"${key}"\\s*:\\s*null`).test(text)) throw new RegistryError(`${what}: the answer is not a ${key === "tags" ? "tag list" : "catalog"} (${JSON.stringify(text.slice(0, 60))}…)`);
      names.push(...((page as string[] | undefined) ?? []));
      const link = headerValue(res.headers.link);
      const next = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
      path = next ? (next.startsWith("http") ? new URL(next).pathname + new URL(next).search : next) : undefined;
    }
    return names;
  }

  /** Sends a request to a path of this registry, with auth and retries; returns the response for the caller to read. */
  async request(path: string, options: SendOptions): Promise<Dispatcher.ResponseData> {
    const origin = await this.base(options.signal);
    return this.send(`${origin}${path}`, options);
  }

  private async backoff(options: SendOptions, attempt: number, reason: string, retryAfterMs?: number): Promise<void> {
    const delayMs = backoffMs(attempt, this.retry, retryAfterMs);
    this.options.onRetry?.({ host: this.host, what: options.what, attempt: attempt + 1, delayMs, reason });
    try {
      await wait(delayMs, options.signal);
    } catch {
      throw abortError(options.what);
    }
  }
}
