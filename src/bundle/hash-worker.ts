/**
 * The worker thread of {@link TarHasher} (tar-hasher.ts): reads the tar being written back from its files as
 * the main thread says how far the written prefix reaches, and hashes it — the whole, and each part of a split
 * bundle. Messages in: `{ end }` (hash up to there), `{ finish: true }` (everything is written). Out: the
 * digests once, or `{ error }`.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { locate } from "./parts.js";
import type { HashWorkerData, HashWorkerReply, HashWorkerRequest } from "./tar-hasher.js";

const { parts } = workerData as HashWorkerData;
const split = parts.length > 1;
const total = parts.reduce((n, p) => n + p.size, 0);
const fds = parts.map((p) => openSync(p.temp, "r"));
const whole = createHash("sha256");
const partHashes = parts.map(() => createHash("sha256"));
const buf = Buffer.allocUnsafe(4 << 20);
let pos = 0;
let target = 0;
let finishing = false;
let finished = false;

function reply(message: HashWorkerReply): void {
  parentPort!.postMessage(message);
}

/** Hashes from `pos` up to `target`; after `finish`, replies with the digests. */
function pump(): void {
  while (pos < target) {
    const where = locate(parts, pos, Math.min(buf.length, target - pos));
    if (!where) throw new Error(`offset ${pos} is outside the tar`);
    const n = readSync(fds[where.index]!, buf, 0, where.length, where.position);
    if (n <= 0) throw new Error(`short read at offset ${pos}`);
    const chunk = buf.subarray(0, n);
    whole.update(chunk);
    if (split) partHashes[where.index]!.update(chunk);
    pos += n;
  }
  if (finishing && pos >= total && !finished) {
    finished = true;
    for (const fd of fds) closeSync(fd);
    const w = whole.digest("hex");
    reply({ whole: w, parts: split ? partHashes.map((h) => h.digest("hex")) : [w] });
  }
}

parentPort!.on("message", (m: HashWorkerRequest) => {
  if ("end" in m && m.end > target) target = m.end;
  if ("finish" in m) {
    finishing = true;
    target = total;
  }
  try {
    pump();
  } catch (e) {
    reply({ error: (e as Error).message });
  }
});
