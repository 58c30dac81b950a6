/**
 * A blob uploaded in PATCH pieces of a chosen size, for proxies that cap request bodies; a piece broken in the
 * middle is resumed where the registry says the upload stands (a GET of the session at the last location it gave:
 * distribution signs the upload's state into it), not from the start.
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-a-blob-in-chunks
 */
import { Readable } from "node:stream";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import type { Opener } from "../content/target.js";
import type { RegistryHost } from "./client.js";
import { isTemporary, RegistryError, responseError } from "./errors.js";

/** What every request of one upload shares. */
export interface UploadContext {
  registry: RegistryHost;
  /** The token scope of the repository, for push. */
  scope: string;
  /** The registry's base URL (scheme and host). */
  base: string;
  what: string;
  signal?: AbortSignal;
}

/** Sends every byte of `d` to the upload session at `url` in pieces of `chunkSize`; returns the location to PUT to. */
export async function uploadInChunks(c: UploadContext, d: Descriptor, open: Opener, url: URL, chunkSize: number): Promise<URL> {
  let offset = 0;
  const cursor = { url };
  for (let attempt = 0; ; attempt++) {
    try {
      await sendChunks(c, d, open, cursor, offset, chunkSize);
      return cursor.url;
    } catch (err) {
      if (!isTemporary(err) || attempt >= c.registry.retryOptions.retries || c.signal?.aborted) throw err;
      const status = await uploadStatus(c, cursor.url).catch(() => undefined);
      if (!status) throw err;
      ({ url: cursor.url, offset } = status);
      await c.registry.retryWait(`${c.what} (from byte ${offset})`, attempt, err instanceof Error ? err.message : String(err), c.signal);
    }
  }
}

/**
 * Sends the blob from byte `from` on in PATCH pieces of `chunkSize`, reading the source from its start (the
 * bytes before `from` are read and checked, not sent: the digest still covers every byte); `cursor.url` follows
 * the locations the registry gives.
 */
async function sendChunks(c: UploadContext, d: Descriptor, open: Opener, cursor: { url: URL }, from: number, chunkSize: number): Promise<void> {
  const source = (await open())[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let carry: Buffer | undefined;
  /** The next `length` bytes of the source, as they come. */
  async function* take(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      let chunk = carry;
      carry = undefined;
      if (!chunk) {
        const next = await source.next();
        if (next.done) throw new AirgapError("SIZE_MISMATCH", `${c.what}: the blob ended ${left} bytes early`);
        chunk = next.value;
      }
      if (chunk.length > left) {
        carry = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      yield chunk;
    }
  }
  for await (const skipped of take(from)) void skipped;
  for (let offset = from; offset < d.size; offset += chunkSize) {
    const length = Math.min(chunkSize, d.size - offset);
    const res = await c.registry.send(cursor.url.toString(), {
      method: "PATCH", what: c.what, signal: c.signal, scope: c.scope, noRetry: true,
      headers: { "content-type": "application/octet-stream", "content-length": String(length), "content-range": `${offset}-${offset + length - 1}` },
      body: () => Readable.from(take(length)),
    });
    if (res.statusCode !== 202) throw await responseError(`${c.what} (chunk at ${offset})`, res);
    res.body.resume();
    const next = res.headers.location;
    if (typeof next === "string") cursor.url = new URL(next, `${c.base}/`);
  }
  // Drain the source, which checks its size and digest at the end.
  if (carry && carry.length > 0) throw new AirgapError("SIZE_MISMATCH", `${c.what}: more than ${d.size} bytes`);
  for (let r = await source.next(); !r.done; r = await source.next()) {
    throw new AirgapError("SIZE_MISMATCH", `${c.what}: more than ${d.size} bytes`);
  }
}

/** Where an upload stands (`GET` of its session: 204 with `Range: 0-N`): the next byte to send, and its location. */
async function uploadStatus(c: UploadContext, url: URL): Promise<{ url: URL; offset: number }> {
  const res = await c.registry.send(url.toString(), { method: "GET", what: `${c.what} (status)`, signal: c.signal, scope: c.scope, noRetry: true });
  res.body.resume();
  if (res.statusCode !== 204) throw new RegistryError(`${c.what}: the upload's status is HTTP ${res.statusCode}`, { status: res.statusCode });
  const range = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ""));
  const location = typeof res.headers.location === "string" ? new URL(res.headers.location, `${c.base}/`) : url;
  // "0-0" is what distribution answers for an empty upload (and for one byte): send from the start.
  return { url: location, offset: range && Number(range[1]) > 0 ? Number(range[1]) + 1 : 0 };
}
