/**
 * The listening side of `bundle serve`: HTTP or HTTPS on one address, many clients at once, an access line per
 * request when asked, totals, and a clean stop (no new connections, requests in flight given a moment to finish).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { AirgapError } from "../errors.js";
import type { ServedContent } from "./content.js";
import { answer, type Served } from "./routes.js";

/** `--listen HOST:PORT`, `[V6]:PORT` or `:PORT` (every interface). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `--listen`. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new AirgapError("INVALID_ARGUMENT", `--listen ${text}: give HOST:PORT, [IPV6]:PORT or :PORT, e.g. 127.0.0.1:5000 or 0.0.0.0:5000`);
  return { host: m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!), port };
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  listen: ListenAddress;
  /** PEM certificate chain and key: HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  /** Called once per finished request (the access line). */
  onRequest?: (line: AccessLine) => void;
}

/** One answered request. */
export interface AccessLine extends Served {
  remote: string;
  method: string;
  path: string;
  ms: number;
}

/** A running server. */
export interface RunningServer {
  /** `HOST:PORT` as clients name it (`[::1]:5000` for IPv6). */
  address: string;
  url: string;
  totals: { requests: number; bytes: number; cutShort: number };
  /** Stops listening, lets requests in flight finish for up to `graceMs`, then closes what is left. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts serving `content`. */
export async function startServer(content: ServedContent, options: ServerOptions): Promise<RunningServer> {
  const totals = { requests: 0, bytes: 0, cutShort: 0 };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    answer(content, req, res).then(
      (served) => {
        totals.requests++;
        totals.bytes += served.bytes;
        if (served.cutShort) totals.cutShort++;
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        options.onRequest?.({ ...served, remote: req.socket.remoteAddress ?? "-", method: req.method ?? "-", path: req.url ?? "-", ms });
      },
      (err: unknown) => {
        // Not an answer we meant (a bug): the client is told, and the server keeps serving.
        if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" }).end(JSON.stringify({ errors: [{ code: "UNKNOWN", message: "internal error" }] }));
        else res.destroy();
        options.onRequest?.({ status: 500, bytes: 0, cutShort: (err as Error).message, remote: req.socket.remoteAddress ?? "-", method: req.method ?? "-", path: req.url ?? "-", ms: 0 });
      },
    );
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createHttpServer(handle);
  server.keepAliveTimeout = 30_000;
  // A client that stops reading (or sending) for two minutes is let go: its socket is closed, the response ends.
  server.timeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new AirgapError("IO", `cannot listen on ${options.listen.host}:${options.listen.port}: ${err.code === "EADDRINUSE" ? "the address is in use" : err.message}`, {
        hint: err.code === "EADDRINUSE" ? "stop what listens there, or choose another port with --listen" : undefined,
      })),
    );
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  const address = `${host}:${bound.port}`;
  return {
    address,
    url: `${options.tls ? "https" : "http"}://${address}`,
    totals,
    async stop(graceMs = 2000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
