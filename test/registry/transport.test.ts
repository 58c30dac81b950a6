/**
 * The registry transport's layers, each alone over the wire to a real registry (distribution, with Basic auth for
 * the auth layer) and the fault proxy in front of it: what each sends again, what it gives up on, what it words.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { HostAuth } from "../../src/registry/auth.js";
import { Agent } from "../../src/registry/http.js";
import type { SendOptions } from "../../src/registry/options.js";
import { RateGate } from "../../src/registry/rate-limit.js";
import { DEFAULT_STALL } from "../../src/registry/stall.js";
import { wire, withAuth, withRateLimit, withRetry, type Send } from "../../src/registry/transport.js";
import { faultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const agent = new Agent();
const wired = wire({ userAgent: "airgap-bundle-test", stall: DEFAULT_STALL, dispatcherFor: () => agent });
const get = (send: Send, url: string, options: Partial<SendOptions> = {}) =>
  send(url, { what: "asking", ...options }).then((res) => {
    res.body.resume();
    return res.statusCode;
  });

/** The retry layer over the wire, its backoffs recorded instead of waited. */
function retrying(retries: number) {
  const waits: string[] = [];
  const send = withRetry(wired, { retry: { retries, baseMs: 1, maxMs: 1 }, backoff: async (_o, attempt, reason) => void waits.push(`${attempt}: ${reason}`) });
  return { send, waits };
}

describe("the registry transport, layer by layer", () => {
  let registry: TestRegistry;
  let proxies: FaultProxy[] = [];
  const proxy = async (...args: Parameters<typeof faultProxy>) => {
    const p = await faultProxy(...args);
    proxies.push(p);
    return p;
  };
  before(async () => {
    registry = await startRegistry({ auth: "htpasswd" });
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    proxies = [];
    await registry.stop();
    await agent.close();
  });

  test("wire: one request; a connection refused is one line naming the request and the URL, never sent twice", async () => {
    assert.equal(await get(wired, `${registry.url}/v2/`), 401, "the registry's answer, as it is");
    await assert.rejects(get(wired, "http://127.0.0.1:1/v2/", { what: "connecting to 127.0.0.1:1" }), (err: Error & { code?: string }) => {
      assert.equal(err.code, "NETWORK");
      assert.equal(err.message, "connecting to 127.0.0.1:1: connection refused (http://127.0.0.1:1/v2/)");
      return true;
    });
  });

  test("retry: temporary failures are sent again up to the limit; statuses the caller takes and noRetry are not", async () => {
    const p = await proxy(registry.url, [{ path: "/v2/?flaky", status: 503, times: 2 }, { path: "/v2/?down", status: 502 }, { path: "/v2/?gone", status: 404 }]);
    const { send, waits } = retrying(3);
    assert.equal(await get(send, `${p.url}/v2/?flaky`), 401, "through after two 503s");
    assert.deepEqual(waits, ["0: HTTP 503", "1: HTTP 503"]);
    assert.equal(await get(send, `${p.url}/v2/?down`), 502, "given up after the retries, the last answer returned");
    assert.equal(p.count("GET", "/v2/?down"), 4);
    assert.equal(await get(send, `${p.url}/v2/?down`, { noRetry: true }), 502);
    assert.equal(await get(send, `${p.url}/v2/?down`, { passStatuses: [502] }), 502);
    assert.equal(p.count("GET", "/v2/?down"), 6, "once each");
    assert.equal(await get(send, `${p.url}/v2/?gone`), 404, "a 404 is final");
    assert.equal(p.count("GET", "/v2/?gone"), 1);
    waits.length = 0;
    await assert.rejects(get(send, "http://127.0.0.1:1/v2/"), /connection refused/);
    assert.deepEqual(waits, ["0: connection refused", "1: connection refused", "2: connection refused"], "a broken connection is temporary too");
  });

  test("auth: the challenge answered and renewed once; never sent to another host; a final 401 says what to do", async () => {
    const host = registry.host;
    const store = (password: string) => ({ get: async (h: string) => (h === host ? { username: registry.username!, password } : undefined) });
    const stack = (password: string) => {
      let send: Send = wired;
      const auth = new HostAuth(host, store(password), (url, o) => send(url, o));
      send = withAuth(wired, host, auth);
      return send;
    };
    const good = stack(registry.password!);
    assert.equal(await get(good, `${registry.url}/v2/`), 200, "the 401's challenge taken, the request sent again with Basic");
    assert.equal(await get(good, `${registry.url}/v2/_catalog`), 200, "then sent with it at once");
    await assert.rejects(get(stack("wrong"), `${registry.url}/v2/`, { what: "connecting to the registry" }), (err: Error & { code?: string; hint?: string }) => {
      assert.match(err.message, /^connecting to the registry: .*401/);
      assert.equal(err.hint, `check the credentials for ${host}`);
      assert.doesNotMatch(`${err.message} ${err.hint}`, /wrong/, "the secret is not in the words");
      return true;
    });
    // The fault proxy is another host (a storage host the registry redirects to): no credentials go there.
    const storage = await proxy(registry.url);
    await assert.rejects(get(good, `${storage.url}/v2/`), (err: Error & { hint?: string }) => /401/.test(err.message));
    assert.equal(storage.requests.length, 1, "not sent again");
    assert.equal(storage.requests[0]!.authorization, false, "without the registry's credentials");
    assert.equal(await get(good, `${registry.url}/v2/`, { noAuth: true, passStatuses: [401] }), 401, "noAuth: the ping goes bare");
  });

  test("rate limit: a spent budget holds the host, a 429 is sent again after the pause, not counted as a retry", async () => {
    const p = await proxy(registry.url, [{ path: "/v2/", rateLimit: { requests: 2, windowMs: 1000 } }]);
    const pauses: string[] = [];
    const send = withRateLimit(wired, p.host, new RateGate((_until, reason) => pauses.push(reason)));
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await get(send, `${p.url}/v2/`));
    assert.deepEqual(statuses, [401, 401, 401, 401, 401], "every request answered by the registry");
    assert.ok(pauses.length >= 1, "the host paused");
    assert.ok(p.requests.filter((r) => r.status === 429).length <= 1, `held before refused (${p.requests.map((r) => r.status).join(" ")})`);
    const other = withRateLimit(wired, "elsewhere:1", new RateGate(() => assert.fail("another host's answers do not pause this one")));
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await get(other, `${p.url}/v2/`));
    assert.ok(seen.includes(429), `a host not gated meets the 429 (${seen.join(" ")})`);
    // A request that takes no retries gets the 429 itself (a gate that has not yet heard the budget is spent).
    const tight = await proxy(registry.url, [{ path: "/v2/", rateLimit: { requests: 1, windowMs: 60_000 } }]);
    assert.equal(await get(withRateLimit(wired, tight.host, new RateGate(() => undefined)), `${tight.url}/v2/`), 401);
    assert.equal(await get(withRateLimit(wired, tight.host, new RateGate(() => undefined)), `${tight.url}/v2/`, { noRetry: true }), 429);
  });
});
