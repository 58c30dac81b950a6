/**
 * An HTTP proxy on 127.0.0.1 in front of a test registry that injects faults: error statuses (with
 * Retry-After) for the first K matching requests, a connection reset after N response-body bytes,
 * a delay, or one corrupted byte of a response body. It logs every request, so tests can count them.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { Transform, type TransformCallback } from "node:stream";

/** One fault to inject. A request matches when method and path match; the first matching rule with uses left applies. */
export interface FaultRule {
  /** HTTP method to match (any when omitted). */
  method?: string;
  /** Path (with query) to match: a RegExp, or a substring. Any when omitted. */
  path?: RegExp | string;
  /** Apply to the first K matching requests only (default: every one). */
  times?: number;
  /** Let the first N matching requests through untouched (then apply `times` times). */
  skip?: number;
  /** Answer with this status instead of forwarding. */
  status?: number;
  /** Retry-After header value to send with `status`. */
  retryAfter?: number | string;
  /** Body and headers to send with `status` (default: a registry-style JSON error). */
  body?: string;
  headers?: Record<string, string>;
  /** Answer 307 with `Location: <redirectTo><original path>` (e.g. to another proxy: a "storage host"). */
  redirectTo?: string;
  /** Forward, but reset the client connection after this many bytes of the response body. */
  resetAfterBytes?: number;
  /** Reset the connection after receiving this many bytes of the request body (an upload cut short). */
  resetRequestAfterBytes?: number;
  /** Answer 413 to requests whose Content-Length exceeds this (a proxy that caps request bodies). */
  maxBodyBytes?: number;
  /** Wait this long before forwarding. */
  delayMs?: number;
  /** Forward, but flip the bits of the response-body byte at this offset. */
  corruptByteAt?: number;
  /** Forward the headers, then drip the body: this many bytes every `everyMs` (a registry that barely moves). */
  drip?: { bytes: number; everyMs: number };
  /** Never answer: hold the request open until the client gives up. */
  hang?: boolean;
  /**
   * Docker Hub's rate limit: at most `requests` matching requests in each fixed window of `windowMs`; every answer
   * carries `ratelimit-limit`/`ratelimit-remaining` (`N;w=SECONDS`), and one past the budget is a 429 with
   * `Retry-After` (the seconds left in the window). Forwarded requests are not counted against `times`.
   */
  rateLimit?: { requests: number; windowMs: number };
}

/** One request the proxy saw. */
export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
  /** Index of the rule that was applied, if any. */
  fault?: number;
  /** The Range request header, if any. */
  range?: string;
  /** Whether an Authorization header came with it. */
  authorization: boolean;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** `127.0.0.1:PORT`, usable as a registry host (plain HTTP). */
  host: string;
  url: string;
  /** Every request so far, in arrival order. */
  requests: ProxiedRequest[];
  /** How many requests match method and path. */
  count(method: string, path: RegExp | string): number;
  stop(): Promise<void>;
}

/** Options for {@link faultProxy}. */
export interface FaultProxyOptions {
  /** CA to trust when the upstream is HTTPS. */
  ca?: string;
  /** Address to listen on (default 127.0.0.1; "::1" for an IPv6 registry host). */
  listen?: string;
}

function matches(rule: { method?: string; path?: RegExp | string }, method: string, path: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method) return false;
  if (rule.path === undefined) return true;
  return typeof rule.path === "string" ? path.includes(rule.path) : rule.path.test(path);
}

class Corrupter extends Transform {
  private seen = 0;
  constructor(private readonly offset: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.offset >= this.seen && this.offset < this.seen + chunk.length) {
      chunk = Buffer.from(chunk);
      const i = this.offset - this.seen;
      chunk[i] = (chunk[i] ?? 0) ^ 0xff;
    }
    this.seen += chunk.length;
    done(null, chunk);
  }
}

/** Starts a fault proxy in front of `upstream` (e.g. `http://127.0.0.1:5000`). */
export async function faultProxy(upstream: string, rules: FaultRule[] = [], options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const target = new URL(upstream);
  const used = rules.map(() => 0);
  const seen = rules.map(() => 0);
  const requests: ProxiedRequest[] = [];
  let windowStart = Date.now();
  let windowUsed = 0;
  const sockets = new Set<import("node:net").Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const ruleIndex = rules.findIndex((r, i) => matches(r, method, path) && seen[i]!++ >= (r.skip ?? 0) && used[i]! < (r.times ?? Infinity));
    let rule = ruleIndex >= 0 ? rules[ruleIndex] : undefined;
    if (rule) used[ruleIndex]!++;
    let limitHeaders: Record<string, string> = {};
    if (rule?.rateLimit) {
      const { requests: limit, windowMs } = rule.rateLimit;
      const now = Date.now();
      if (now - windowStart >= windowMs) {
        windowStart = now - ((now - windowStart) % windowMs);
        windowUsed = 0;
      }
      const seconds = Math.ceil(windowMs / 1000);
      if (windowUsed < limit) {
        windowUsed++;
        limitHeaders = { "ratelimit-limit": `${limit};w=${seconds}`, "ratelimit-remaining": `${limit - windowUsed};w=${seconds}` };
        rule = undefined;
      } else {
        rule = { status: 429, retryAfter: Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000)), headers: { "ratelimit-limit": `${limit};w=${seconds}`, "ratelimit-remaining": `0;w=${seconds}` }, body: JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "You have reached your pull rate limit." }] }) };
      }
    }
    const entry: ProxiedRequest = { method, path, status: 0, authorization: req.headers.authorization !== undefined, ...(ruleIndex >= 0 && { fault: ruleIndex }), ...(req.headers.range && { range: req.headers.range }) };
    requests.push(entry);

    if (rule?.maxBodyBytes !== undefined && Number(req.headers["content-length"] ?? 0) > rule.maxBodyBytes) {
      entry.status = 413;
      req.resume();
      res.writeHead(413, { "content-type": "text/html", connection: "close" });
      res.end("<html><body><h1>413 Request Entity Too Large</h1></body></html>");
      return;
    }
    if (rule?.redirectTo !== undefined) {
      entry.status = 307;
      req.resume();
      res.writeHead(307, { location: `${rule.redirectTo}${path}` });
      res.end();
      return;
    }
    if (rule?.status !== undefined) {
      entry.status = rule.status;
      req.resume();
      const headers: Record<string, string> = { "content-type": "application/json", ...rule.headers };
      if (rule.retryAfter !== undefined) headers["retry-after"] = String(rule.retryAfter);
      res.writeHead(rule.status, headers);
      res.end(rule.body ?? JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "injected by fault proxy" }] }));
      return;
    }

    if (rule?.hang) {
      entry.status = -2;
      req.resume();
      return;
    }
    const forward = () => {
      const send = target.protocol === "https:" ? httpsRequest : httpRequest;
      const upstreamReq = send(
        {
          host: target.hostname,
          port: target.port,
          method,
          path,
          headers: { ...req.headers, "x-forwarded-proto": "http" },
          ...(options.ca && { ca: options.ca }),
        },
        (upstreamRes) => {
          entry.status = upstreamRes.statusCode ?? 0;
          const headers = { ...upstreamRes.headers, ...limitHeaders };
          res.writeHead(upstreamRes.statusCode ?? 502, headers);
          let body: NodeJS.ReadableStream = upstreamRes;
          if (rule?.corruptByteAt !== undefined) body = upstreamRes.pipe(new Corrupter(rule.corruptByteAt));
          if (rule?.drip !== undefined) {
            const { bytes, everyMs } = rule.drip;
            const chunks: Buffer[] = [];
            body.on("data", (c: Buffer) => chunks.push(c));
            body.on("end", () => {
              let rest = Buffer.concat(chunks);
              const timer = setInterval(() => {
                if (res.destroyed || rest.length === 0) {
                  clearInterval(timer);
                  if (!res.destroyed) res.end();
                  return;
                }
                res.write(rest.subarray(0, bytes));
                rest = rest.subarray(bytes);
              }, everyMs);
              res.on("close", () => clearInterval(timer));
            });
            return;
          }
          if (rule?.resetAfterBytes !== undefined) {
            let sent = 0;
            const limit = rule.resetAfterBytes;
            body.on("data", (chunk: Buffer) => {
              if (sent >= limit) return;
              const part = chunk.subarray(0, limit - sent);
              sent += part.length;
              if (sent < limit) {
                res.write(part);
                return;
              }
              upstreamRes.destroy();
              // Cut the connection once the allowed bytes are flushed: the client sees a truncated body.
              res.write(part, () => res.socket?.destroy());
            });
            return;
          }
          body.pipe(res);
        },
      );
      upstreamReq.on("error", () => res.socket?.destroy());
      if (rule?.resetRequestAfterBytes !== undefined) {
        const limit = rule.resetRequestAfterBytes;
        let received = 0;
        req.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received >= limit) {
            entry.status = -1;
            upstreamReq.destroy();
            req.socket.destroy();
          } else {
            upstreamReq.write(chunk);
          }
        });
        return;
      }
      req.pipe(upstreamReq);
    };
    if (rule?.delayMs) setTimeout(forward, rule.delayMs);
    else forward();
  };

  const server = createServer(handle);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const address = options.listen ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const port = (server.address() as AddressInfo).port;
  const hostname = address.includes(":") ? `[${address}]` : address;
  return {
    host: `${hostname}:${port}`,
    url: `http://${hostname}:${port}`,
    requests,
    count: (method, path) => requests.filter((r) => matches({ method, path }, r.method, r.path)).length,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
