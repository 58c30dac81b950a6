/**
 * Writing a stream's chunks in batches: one write at a time, what arrives meanwhile goes out together next.
 */
import type { Readable } from "node:stream";
import { AirgapError } from "../errors.js";

/** Most bytes queued for writing before the source is paused. */
const WRITE_BATCH = 1 << 20;

/**
 * Reads `source` to its end and hands its chunks to `write`, one write at a time: chunks that arrive
 * meanwhile go out together in the next one (one system call per batch), and the source is paused while
 * a batch is full. Leaner than a Writable in a pipeline (measured: ~0.3 s of CPU per GB less).
 */
export function drainInto(source: Readable, write: (buffers: Buffer[], n: number) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let ended = false;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      source.destroy();
      reject(err);
    };
    const flush = () => {
      if (writing || failed) return;
      if (queue.length === 0) {
        if (ended) resolve();
        return;
      }
      const buffers = queue;
      const n = queued;
      queue = [];
      queued = 0;
      writing = true;
      write(buffers, n).then(() => {
        writing = false;
        if (source.isPaused() && !ended) source.resume();
        flush();
      }, fail);
    };
    source.on("data", (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= WRITE_BATCH) source.pause();
      flush();
    });
    source.once("end", () => {
      ended = true;
      flush();
    });
    source.once("error", fail);
    // Destroyed without an error before its end (a consumer elsewhere gave up): not a complete blob.
    source.once("close", () => {
      if (!ended) fail(new AirgapError("IO", "the blob's stream closed before its end"));
    });
  });
}
