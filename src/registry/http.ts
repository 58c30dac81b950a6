/**
 * The two undici parts this tool uses — the connection-pooling Agent and `request` — loaded on their own.
 * undici's package index also loads every other dispatcher, the mocks, fetch, WebSocket and the cache
 * (~100 ms of every start-up, a seventh of a no-op `bundle load`). undici is pinned to an exact version,
 * so these module paths are fixed; the package's own types describe them.
 */
import { setFlagsFromString } from "node:v8";
import type { Agent as UndiciAgent, Dispatcher } from "undici";
// @ts-expect-error undici's deep modules have no declarations of their own; the package's types describe them.
import agentModule from "undici/lib/dispatcher/agent.js";
// @ts-expect-error as above
import apiModule from "undici/lib/api/index.js";

// undici parses HTTP with llhttp compiled to WebAssembly. V8 first compiles it quickly (Liftoff), then
// re-compiles it optimised on a background thread, and the process waits for that at exit: ~120 ms of a
// no-op load, and CPU taken from hashing during a save. Liftoff's code is fast enough for header parsing
// (measured: save 4.4 s with it vs 4.75 s without; no-op load 0.46 s vs 0.58 s). Set before undici compiles.
setFlagsFromString("--liftoff-only");

/** undici's Agent: one connection pool per origin. */
export const Agent = agentModule as typeof UndiciAgent;

const api = apiModule as {
  request(this: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
};

/** Options of one request: undici's, with the URL given whole. */
export type RequestOptions = Omit<Dispatcher.RequestOptions, "origin" | "path"> & { dispatcher: Dispatcher };

/** One HTTP request through `dispatcher` (undici's `request` without the global-dispatcher lookup). */
export function request(url: string, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  const u = new URL(url);
  return api.request.call(dispatcher, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
