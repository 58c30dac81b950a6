/**
 * Hashes a tar being written in place, on a worker thread, following the prefix that is complete:
 * blobs land in any order, the sha256 of the whole (and of each part) needs them in order. The worker
 * reads back what the main thread wrote (from the page cache), so hashing overlaps the downloads and
 * takes no time from the thread that receives and verifies them.
 */
import { Worker } from "node:worker_threads";
import type { PartFile } from "./part-files.js";

/** What the worker is started with: the files of the tar, each with its span. */
export interface HashWorkerData {
  parts: PartFile[];
}

/** A message to the worker: the written prefix reaches `end`, or everything is written. */
export type HashWorkerRequest = { end: number } | { finish: true };

/** The worker's one answer. */
export type HashWorkerReply = TarDigests | { error: string };

/**
 * The worker's module, beside this one wherever this one is: `src/bundle/` (run through tsx), `dist/bundle/`
 * (compiled), or `dist/bin/` (bundled: scripts/bundle-cli.mjs emits it there as an entry of its own).
 */
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./hash-worker.ts" : "./hash-worker.js", import.meta.url);

/** sha256 (hex) of the whole tar and of each part. */
export interface TarDigests {
  whole: string;
  parts: string[];
}

/** How far the written prefix must grow before the worker is told (one message per step). */
const STEP = 2 << 20;

/** A worker hashing the parts as their prefix completes. */
export class TarHasher {
  private readonly worker: Worker;
  private readonly result: Promise<TarDigests>;
  private sent = 0;
  private readonly total: number;

  constructor(parts: PartFile[]) {
    this.total = parts.reduce((n, p) => n + p.size, 0);
    const workerData: HashWorkerData = { parts };
    this.worker = WORKER_URL.pathname.endsWith(".ts")
      ? // From src/ (tests that import the writer): Node 20 gives a worker no loader hooks, so tsx is registered in it first.
        new Worker(`import("tsx/esm/api").then((tsx) => (tsx.register(), import(${JSON.stringify(WORKER_URL.href)})))`, { eval: true, workerData })
      : new Worker(WORKER_URL, { workerData });
    this.result = new Promise((resolve, reject) => {
      this.worker.on("message", (m: HashWorkerReply) => {
        if ("error" in m) reject(new Error(`hashing the bundle: ${m.error}`));
        else resolve(m);
      });
      this.worker.on("error", reject);
    });
    this.result.catch(() => undefined);
  }

  /** Every byte before `end` is written: hash up to there (told in steps of at least {@link STEP}). */
  advance(end: number): void {
    if (end >= this.sent + STEP || (end > this.sent && end === this.total)) {
      this.sent = end;
      this.worker.postMessage({ end } satisfies HashWorkerRequest);
    }
  }

  /** All is written: resolves to the digests. */
  async finish(): Promise<TarDigests> {
    this.worker.postMessage({ finish: true } satisfies HashWorkerRequest);
    try {
      return await this.result;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker (after a failure). */
  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
