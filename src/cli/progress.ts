/**
 * Renders save/load events: a progress bar on a terminal, plain lines in logs, JSON lines with --json.
 */
import type { LoadEvent } from "../ops/load.js";
import type { SaveEvent as SaveOnlyEvent } from "../ops/save.js";

type SaveEvent = SaveOnlyEvent | LoadEvent;
import type { RetryNotice } from "../registry/client.js";
import { formatBytes } from "../util/size.js";
import type { Output, TextOut } from "./output.js";

/** Something that shows progress. */
export interface ProgressRenderer {
  event(e: SaveEvent): void;
  retry(notice: RetryNotice): void;
  /** Stops drawing (before the summary is printed). */
  stop(): void;
}

interface Counters {
  total: number;
  done: number;
  images: number;
  imagesDone: number;
  phase: string;
  started: number;
}

function rate(c: Counters): number {
  const seconds = (Date.now() - c.started) / 1000;
  return seconds > 0 ? c.done / seconds : 0;
}

function count(c: Counters, e: SaveEvent): void {
  switch (e.type) {
    case "phase":
      c.phase = e.phase;
      c.started = Date.now();
      c.done = 0;
      if (e.images !== undefined) c.images = e.images;
      c.imagesDone = 0;
      c.total = e.bytes ?? 0;
      break;
    case "blob-start":
      c.total += e.size;
      break;
    case "blob-bytes":
      c.done += e.bytes;
      break;
    case "image-done":
    case "image-failed":
      c.imagesDone++;
      break;
  }
}

/**
 * The lines for retries: the first of a run of retries of the same request for the same reason is printed, the
 * rest of that run is not — five lines of "connection refused" said nothing the first did not (the error that
 * ends the run says the rest).
 */
class RetryLines {
  private last?: string;
  line(n: RetryNotice): string | undefined {
    if (n.waitUntil !== undefined) return retryLine(n);
    const key = `${n.what}|${n.reason}`;
    if (key === this.last) return undefined;
    this.last = key;
    return retryLine(n);
  }
}

/** A retry, or a rate-limit pause with its end (UTC). */
function retryLine(n: RetryNotice): string {
  if (n.waitUntil !== undefined) return `rate limited by ${n.host} (${n.reason}): waiting until ${new Date(n.waitUntil).toISOString().slice(11, 19)} UTC (${(n.delayMs / 1000).toFixed(1)}s)\n`;
  return `retry ${n.attempt} in ${(n.delayMs / 1000).toFixed(1)}s: ${n.what} (${n.reason})\n`;
}

function short(digest: string): string {
  return digest.slice(0, 19);
}

/** A bar redrawn on the terminal (stderr), with a line above it per finished image. */
export class TerminalProgress implements ProgressRenderer {
  private readonly c: Counters = { total: 0, done: 0, images: 0, imagesDone: 0, phase: "", started: Date.now() };
  private timer?: NodeJS.Timeout;
  private drawn = false;
  private readonly failures = new FailureLines();

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.timer = setInterval(() => this.draw(), 200);
    this.timer.unref();
  }

  private clear(): void {
    if (this.drawn) this.stream.write("\r\x1b[2K");
    this.drawn = false;
  }

  private draw(): void {
    const c = this.c;
    const width = 30;
    const fraction = c.total > 0 ? Math.min(1, c.done / c.total) : 0;
    const filled = Math.round(fraction * width);
    const r = rate(c);
    const eta = r > 0 && c.total > c.done ? `ETA ${Math.ceil((c.total - c.done) / r)}s` : "";
    const what = `${c.imagesDone}/${c.images} images`;
    this.clear();
    this.stream.write(`[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(c.done)}/${formatBytes(c.total)} ${formatBytes(r)}/s ${eta}  ${what}`);
    this.drawn = true;
  }

  event(e: SaveEvent): void {
    count(this.c, e);
    if (e.type === "notice") {
      this.clear();
      this.stream.write(`${e.level === "warning" ? "warning: " : ""}${e.message}\n`);
    } else if (e.type === "image-done") {
      this.clear();
      this.stream.write(`✓ ${e.label}  ${short(e.digest)}  ${e.present ? "already present" : formatBytes(e.size)}\n`);
    } else if (e.type === "image-failed") {
      const line = this.failures.line(e.label, e.error.message);
      if (line === undefined) return;
      this.clear();
      this.stream.write(`✗ ${line}\n`);
    }
  }

  private readonly retries = new RetryLines();

  retry(n: RetryNotice): void {
    const line = this.retries.line(n);
    if (line === undefined) return;
    this.clear();
    this.stream.write(line);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }
}

/** Says an image failed, once per reason: images that fail alike (a host that cannot be reached) are one line. */
class FailureLines {
  private readonly seen = new Map<string, number>();
  line(label: string, message: string): string | undefined {
    const n = (this.seen.get(message) ?? 0) + 1;
    this.seen.set(message, n);
    return n === 1 ? `${label}: ${message}` : undefined;
  }
}

/** Plain lines for logs: one per finished image, and a summary line every `intervalMs`. */
export class PlainProgress implements ProgressRenderer {
  private readonly c: Counters = { total: 0, done: 0, images: 0, imagesDone: 0, phase: "", started: Date.now() };
  private readonly timer: NodeJS.Timeout;
  private readonly failures = new FailureLines();

  constructor(private readonly stream: NodeJS.WritableStream, intervalMs = 10_000) {
    this.timer = setInterval(() => this.summary(), intervalMs);
    this.timer.unref();
  }

  private summary(): void {
    const c = this.c;
    // Nothing to measure yet (still resolving, or waiting on a host): no "0 B of 0 B" line.
    if (c.total === 0 && c.done === 0) return;
    this.stream.write(`progress: ${c.phase} ${formatBytes(c.done)} of ${formatBytes(c.total)} at ${formatBytes(rate(c))}/s, ${c.imagesDone}/${c.images} images\n`);
  }

  event(e: SaveEvent): void {
    count(this.c, e);
    if (e.type === "notice") this.stream.write(`${e.level === "warning" ? "warning: " : ""}${e.message}\n`);
    else if (e.type === "image-done") this.stream.write(e.present ? `present ${e.label} ${e.digest} (already there)\n` : `done ${e.label} ${e.digest} ${formatBytes(e.size)}\n`);
    else if (e.type === "image-failed") {
      const line = this.failures.line(e.label, e.error.message);
      if (line !== undefined) this.stream.write(`failed ${line}\n`);
    }
  }

  private readonly retries = new RetryLines();

  retry(n: RetryNotice): void {
    const line = this.retries.line(n);
    if (line !== undefined) this.stream.write(line);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** One JSON object per line on stdout; byte counts are folded into a `progress` event twice a second. */
export class JsonProgress implements ProgressRenderer {
  private readonly c: Counters = { total: 0, done: 0, images: 0, imagesDone: 0, phase: "", started: Date.now() };
  private readonly timer: NodeJS.Timeout;
  private dirty = false;

  constructor(private readonly stream: TextOut) {
    this.timer = setInterval(() => this.flush(), 500);
    this.timer.unref();
  }

  private line(obj: unknown): void {
    this.stream.write(`${JSON.stringify(obj)}\n`);
  }

  private flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.line({ type: "progress", phase: this.c.phase, bytes: this.c.done, total: this.c.total, images: this.c.imagesDone, of: this.c.images });
  }

  event(e: SaveEvent): void {
    count(this.c, e);
    if (e.type === "blob-bytes") {
      this.dirty = true;
      return;
    }
    if (e.type === "image-failed") this.line({ type: e.type, label: e.label, error: { code: e.error.code, message: e.error.message } });
    else this.line(e);
  }

  retry(n: RetryNotice): void {
    this.line({ type: "retry", ...n });
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** The renderer for this output: JSON lines with --json, none with --quiet, a bar on a terminal, else plain lines. */
export function progressFor(out: Output): ProgressRenderer | undefined {
  if (out.json) return new JsonProgress(out.resultStream);
  if (out.quiet) return undefined;
  return out.progressStream.isTTY ? new TerminalProgress(out.progressStream as NodeJS.WriteStream) : new PlainProgress(out.progressStream);
}
