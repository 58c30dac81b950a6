/**
 * A blob download that survives broken connections (resumed by Range).
 */
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { backoffMs, isRetryableNetworkError, wait, type RetryOptions } from "./retry.js";

/**
 * A blob's bytes as one stream, however many connections it takes: when a connection breaks, the
 * rest is asked for with `Range` from where it stopped (a server that ignores Range answers 200 with
 * everything, and what was already delivered is skipped).
 */
export class BlobStream extends Readable {
  private offset = 0;
  private skip = 0;
  private attempt = 0;
  private body?: Dispatcher.ResponseData["body"];

  constructor(
    first: Dispatcher.ResponseData,
    private readonly d: Descriptor,
    private readonly what: string,
    private readonly reopen: (offset: number) => Promise<Dispatcher.ResponseData>,
    private readonly retry: RetryOptions,
    private readonly signal?: AbortSignal,
    /** Where `first` starts in the blob (a download resumed from bytes kept before). */
    from = 0,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.offset = from;
    this.attach(first);
  }

  private attach(res: Dispatcher.ResponseData): void {
    this.skip = res.statusCode === 200 ? this.offset : 0;
    const body = res.body;
    this.body = body;
    body.on("data", (raw: Buffer) => {
      let chunk = raw;
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length);
        this.skip -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) return;
      }
      this.offset += chunk.length;
      if (!this.push(chunk)) body.pause();
    });
    body.on("end", () => this.push(null));
    body.on("error", (err: Error) => void this.broken(err));
  }

  override _read(): void {
    this.body?.resume();
  }

  private async broken(err: Error): Promise<void> {
    this.detach();
    // Destroyed by the consumer (e.g. its disk is full): that is not a broken connection to retry.
    if (this.destroyed) return;
    if (this.signal?.aborted) return void this.destroy(new AirgapError("ABORTED", `${this.what}: cancelled`));
    if (!isRetryableNetworkError(err) || this.attempt >= this.retry.retries || this.offset >= this.d.size) {
      const reason = (err as { code?: string }).code ?? err.message;
      return void this.destroy(err instanceof AirgapError ? err : new AirgapError("NETWORK", `${this.what}: connection broke after ${this.offset} bytes (${reason})`, { cause: err }));
    }
    try {
      await wait(backoffMs(this.attempt++, this.retry), this.signal);
      const res = await this.reopen(this.offset);
      if (this.destroyed) return void res.body.destroy();
      this.attach(res);
    } catch (e) {
      this.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private detach(): void {
    const body = this.body;
    this.body = undefined;
    if (!body) return;
    body.removeAllListeners("data");
    body.removeAllListeners("end");
    body.removeAllListeners("error");
    body.on("error", () => undefined);
    body.destroy();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.detach();
    callback(err);
  }
}
