/**
 * The stall rule: a response that moves fewer than `bytes` in any `ms` window is abandoned, as a broken
 * connection is (retried, a blob resumed by Range). An idle timeout alone lets a server that drips a byte a
 * minute hold a save for ever; this bounds every request by the progress it makes.
 */
import type { Readable } from "node:stream";
import { AirgapError } from "../errors.js";
import { formatDuration } from "../util/duration.js";

/** How little progress, over how long, counts as a stall. */
export interface StallRule {
  /** Bytes a body must move in each window. */
  bytes: number;
  /** The window, in milliseconds; also how long to wait for a response's headers. */
  ms: number;
}

/** Default: 64 KiB in every 30 seconds (`--stall-timeout` sets the window). */
export const DEFAULT_STALL: StallRule = { bytes: 64 * 1024, ms: 30_000 };

/** The error a stalled body is destroyed with (its cause's code marks it retryable, like a reset). */
export function stallError(what: string, rule: StallRule, moved: number): AirgapError {
  return new AirgapError("NETWORK", `${what}: stalled: ${moved} bytes in ${formatDuration(rule.ms)} (fewer than ${rule.bytes})`, {
    cause: Object.assign(new Error("stalled"), { code: "STALLED" }),
    hint: "the registry or the network is stuck; rerun to resume (a longer window: --stall-timeout)",
  });
}

/**
 * Watches `body` as it arrives and destroys it with {@link stallError} when a window passes with too little
 * progress — unless our own reader is the slow one (the body's buffer is full).
 */
export function watchBody(body: Readable, rule: StallRule, what: string): void {
  let moved = 0;
  const push = body.push.bind(body);
  const timer = setInterval(() => {
    // Our reader is the slow one only when the body's buffer is full. A paused body with room left (read by
    // `for await`, which pauses it between chunks) is waiting on the server like any other.
    const ours = body.readableLength >= body.readableHighWaterMark;
    if (!ours && moved < rule.bytes) body.destroy(stallError(what, rule, moved));
    moved = 0;
  }, rule.ms);
  timer.unref();
  const stop = () => clearInterval(timer);
  body.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk === null) stop(); // everything has arrived; reading it is our business
    else if (chunk) moved += (chunk as Buffer).length;
    return push(chunk, encoding);
  };
  body.once("close", stop);
  body.once("end", stop);
  body.once("error", stop);
}
