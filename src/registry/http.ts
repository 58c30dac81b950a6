/**
 * The door to undici: the two parts this tool uses — the connection-pooling Agent and `request` — loaded from
 * their own modules rather than the package's index. It earns its place at the size of the real job: with
 * `SCALE=4 REPS=3 ONLY=save COMPARE=… npm run bench` (both builds in the same run, 4.55 GB), a save through the
 * package index took 13.97 s and 20.2 CPU seconds, through these modules 10.17 s and 11.9 (medians). The index
 * also loads every other dispatcher, the mocks, fetch, WebSocket and the cache. undici is pinned to an exact
 * version, so these module paths are fixed; the package's own types describe them. Nothing else imports undici's
 * runtime (types only).
 */
import type { Agent as UndiciAgent, Dispatcher } from "undici";
// @ts-expect-error undici's deep modules have no declarations of their own; the package's types describe them.
import agentModule from "undici/lib/dispatcher/agent.js";
// @ts-expect-error as above
import apiModule from "undici/lib/api/index.js";

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
