/**
 * Hashes a tar being written in place, on a worker thread, following the prefix that is complete:
 * blobs land in any order, the sha256 of the whole (and of each part) needs them in order. The worker
 * reads back what the main thread wrote (from the page cache), so hashing overlaps the downloads and
 * takes no time from the thread that receives and verifies them.
 */
import { Worker } from "node:worker_threads";
import type { PartFile } from "./part-files.js";

// Plain JavaScript, run with eval so that it works the same from src/ (tsx) and dist/.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const parts = workerData.parts;
const split = parts.length > 1;
const total = parts.reduce((n, p) => n + p.size, 0);
const fds = parts.map((p) => fs.openSync(p.temp, "r"));
const whole = crypto.createHash("sha256");
const partHashes = parts.map(() => crypto.createHash("sha256"));
const buf = Buffer.allocUnsafe(4 << 20);
let pos = 0, target = 0, finishing = false, finished = false;
function pump() {
  while (pos < target) {
    const i = parts.findIndex((p) => pos >= p.start && pos < p.start + p.size);
    const p = parts[i];
    const n = Math.min(buf.length, target - pos, p.start + p.size - pos);
    const r = fs.readSync(fds[i], buf, 0, n, pos - p.start);
    if (r <= 0) throw new Error("short read at offset " + pos);
    const chunk = buf.subarray(0, r);
    whole.update(chunk);
    if (split) partHashes[i].update(chunk);
    pos += r;
  }
  if (finishing && pos >= total && !finished) {
    finished = true;
    for (const fd of fds) fs.closeSync(fd);
    const w = whole.digest("hex");
    parentPort.postMessage({ whole: w, parts: split ? partHashes.map((h) => h.digest("hex")) : [w] });
  }
}
parentPort.on("message", (m) => {
  if (m.end > target) target = m.end;
  if (m.finish) { finishing = true; target = total; }
  try { pump(); } catch (e) { parentPort.postMessage({ error: String(e && e.message || e) }); }
});
`;

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
    this.worker = new Worker(WORKER, { eval: true, workerData: { parts } });
    this.result = new Promise((resolve, reject) => {
      this.worker.on("message", (m: { whole?: string; parts?: string[]; error?: string }) => {
        if (m.error) reject(new Error(`hashing the bundle: ${m.error}`));
        else resolve({ whole: m.whole!, parts: m.parts! });
      });
      this.worker.on("error", reject);
    });
    this.result.catch(() => undefined);
  }

  /** Every byte before `end` is written: hash up to there (told in steps of at least {@link STEP}). */
  advance(end: number): void {
    if (end >= this.sent + STEP || (end > this.sent && end === this.total)) {
      this.sent = end;
      this.worker.postMessage({ end });
    }
  }

  /** All is written: resolves to the digests. */
  async finish(): Promise<TarDigests> {
    this.worker.postMessage({ finish: true });
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
