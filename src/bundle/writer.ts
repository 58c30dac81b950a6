/**
 * Writes a bundle: ONE uncompressed POSIX tar whose root is an OCI image layout (DESIGN.md, format v1):
 * bundle.json first, oci-layout, index.json, every blob once, manifests/, imagelist, SHA256SUMS last;
 * plus `NAME-VERSION.tar.sha256` beside it.
 *
 * The tar is laid out first (every size is known once images are resolved); blobs are then written
 * straight to their place as they arrive, so each byte is written once. A journal beside the temporary
 * file lists the blobs already in it (journal.ts: what a rerun does with it).
 */
import { appendFile, mkdir, rename, statfs, unlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { AirgapError } from "../errors.js";
import type { Opener, Sink } from "../content/target.js";
import type { OciLayout } from "../layout/layout.js";
import { writeError } from "../util/whole-file.js";
import type { Descriptor } from "../oci/descriptor.js";
import { MediaType } from "../oci/media-types.js";
import { digestHex, digestOf } from "../oci/verify.js";
import type { Reference } from "../reference/reference.js";
import { formatBytes } from "../util/size.js";
import { priorityLimit } from "../util/priority-limit.js";
import { entriesDigest, formatChecksums, sidecarText, type ChecksumLine, type WrittenFile } from "./checksums.js";
import { bundleFileName, ENTRY, REF_NAME_ANNOTATION, type BundleJson } from "./format.js";
import { PartFiles, partLayout, temporaryName } from "./part-files.js";
import { TarFile } from "./tar-index.js";
import { TarHasher } from "./tar-hasher.js";
import { END_OF_ARCHIVE, padding } from "../util/tar-header.js";
import { stamp } from "./verified-stamp.js";
import { planTar, type PlanInput, type PlannedEntry, type TarPlan } from "./tar-plan.js";
import { drainInto } from "../util/drain.js";
import { COMMIT_LINE, JOURNAL_MAGIC, refuseExisting, journalPath, MIN_PARTIAL_BYTES, removeStale, salvageBlob, salvagePartial } from "./journal.js";

/** A file to carry under `manifests/`. */
export interface ManifestFileInput {
  /** Path inside the bundle, starting with `manifests/`. */
  path: string;
  content: Buffer;
}

/** What goes into a bundle. */
export interface BundleContents {
  bundle: BundleJson;
  /** index.json entries: each image's top descriptor and its normalised source reference. */
  index: Array<{ descriptor: Descriptor; ref: string }>;
  /** Every distinct blob, in the order to lay them out. */
  blobs: Descriptor[];
  manifests: ManifestFileInput[];
  /** Other files carried (the charts' values files, under `charts/`). */
  files?: ManifestFileInput[];
  imagelistText: string;
}

/** Where and how to write. */
export interface BundleWriterOptions {
  outDir: string;
  contents: BundleContents;
  /** Overwrite an existing bundle of the same name and version. */
  force?: boolean;
  /** Split into parts of this many bytes. */
  splitSize?: number;
  /** Called with the size of every blob chunk written (progress). */
  onBytes?: (n: number) => void;
  /** Blobs already in memory and verified (manifests, configs), by digest: written with the headers. */
  known?: ReadonlyMap<string, Buffer>;
}

/** What was written. */
export interface WrittenBundle {
  tarPath: string;
  sidecarPath: string;
  files: WrittenFile[];
  size: number;
  sha256: string;
}

/** Blob writes in flight at once: as many as Node's thread pool runs (more only queue there, unordered). */
const WRITES_AT_ONCE = 4;

/** Lays out the entries of a bundle in the order DESIGN.md gives. */
export function planBundle(contents: BundleContents): TarPlan {
  const mtime = Math.floor(Date.parse(contents.bundle.created) / 1000);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: contents.index.map(({ descriptor, ref }) => ({
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      annotations: { [REF_NAME_ANNOTATION]: ref },
    })),
  };
  const files: PlanInput[] = [
    { name: ENTRY.bundleJson, type: "file", content: Buffer.from(`${JSON.stringify(contents.bundle, null, 2)}\n`) },
    { name: ENTRY.ociLayout, type: "file", content: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    { name: ENTRY.indexJson, type: "file", content: Buffer.from(`${JSON.stringify(index, null, 2)}\n`) },
    { name: "blobs/", type: "directory" },
    { name: ENTRY.blobsDir, type: "directory" },
  ];
  for (const d of contents.blobs) {
    if (!d.digest.startsWith("sha256:")) throw new AirgapError("UNSUPPORTED", `${d.digest}: only sha256 blobs can be bundled`);
    files.push({ name: `${ENTRY.blobsDir}${digestHex(d.digest)}`, type: "file", blob: d });
  }
  const dirs = new Set<string>();
  for (const m of [...contents.manifests, ...(contents.files ?? [])]) {
    const parts = m.path.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = `${parts.slice(0, i).join("/")}/`;
      if (!dirs.has(dir)) {
        dirs.add(dir);
        files.push({ name: dir, type: "directory" });
      }
    }
    files.push({ name: m.path, type: "file", content: m.content });
  }
  files.push({ name: ENTRY.imagelist, type: "file", content: Buffer.from(contents.imagelistText) });
  const sums: ChecksumLine[] = files.flatMap((f) => {
    if (f.type !== "file") return [];
    return [{ path: f.name, sha256: "content" in f ? digestHex(digestOf(f.content)) : digestHex(f.blob.digest) }];
  });
  files.push({ name: ENTRY.sums, type: "file", content: Buffer.from(formatChecksums(sums)) });
  return planTar(files, mtime);
}

/** A bundle being written. Open with {@link BundleWriter.open}; blobs arrive through {@link BundleWriter.sink}. */
export class BundleWriter {
  /** The place blobs are copied to (a {@link Sink} for the copy engine). */
  readonly sink: Sink;
  private readonly byDigest = new Map<string, { entry: PlannedEntry; index: number }>();
  private readonly done: boolean[];
  /** Bytes of each blob written so far (from its start, in order). */
  private readonly written: number[];
  private readonly blobOrder: number[];
  private nextPending = 0;
  private journalQueue: Promise<void> = Promise.resolve();
  private readonly writeLane = priorityLimit(WRITES_AT_ONCE);

  private constructor(
    readonly tarPath: string,
    private readonly plan: TarPlan,
    private readonly files: PartFiles,
    private readonly hasher: TarHasher,
    private readonly options: BundleWriterOptions,
  ) {
    this.blobOrder = plan.entries.flatMap((e, i) => (e.blob ? [i] : []));
    this.done = this.blobOrder.map(() => false);
    this.written = this.blobOrder.map(() => 0);
    this.blobOrder.forEach((entryIndex, i) => {
      const entry = plan.entries[entryIndex]!;
      this.byDigest.set(entry.blob!.digest, { entry, index: i });
    });
    this.sink = new TarSink(this);
    this.advance();
  }

  /** Checks the destination, lays the tar out, and writes everything but the blobs. */
  static async open(options: BundleWriterOptions): Promise<BundleWriter> {
    const { bundle } = options.contents;
    const tarPath = join(options.outDir, bundleFileName(bundle.name, bundle.version));
    await refuseExisting(tarPath, options.force === true);
    try {
      await mkdir(options.outDir, { recursive: true });
    } catch (err) {
      throw writeError(options.outDir, err);
    }
    const plan = planBundle(options.contents);
    const free = await statfs(options.outDir).then((s) => s.bavail * s.bsize, () => Infinity);
    if (free < plan.size) {
      throw new AirgapError("DISK_FULL", `not enough space in ${options.outDir} for ${basename(tarPath)}: it needs ${formatBytes(plan.size)}, ${formatBytes(free)} are free`, {
        hint: "free space, choose another --out, or write parts to several media with --split-size",
      });
    }
    const parts = partLayout(tarPath, plan.size, options.splitSize);
    const files = await PartFiles.create(parts);
    // The hash worker starts while everything but the blobs to download is written.
    const hasher = new TarHasher(parts);
    const known = options.known ?? new Map<string, Buffer>();
    try {
      for (const run of contiguousRuns(plan, known)) await files.writev(run.buffers, run.offset);
      const journal = [JOURNAL_MAGIC, `parts ${options.splitSize ?? 0} ${plan.size}`, ""].join("\n");
      await writeFile(journalPath(tarPath), journal);
    } catch (err) {
      await hasher.stop();
      await files.abort();
      throw writeError(parts[0]!.temp, err);
    }
    const writer = new BundleWriter(tarPath, plan, files, hasher, options);
    writer.markWritten([...known.keys()]);
    return writer;
  }

  /** Notes blobs written with the headers (not journalled: a rerun has them in memory again). */
  private markWritten(digests: string[]): void {
    for (const digest of digests) {
      const slot = this.byDigest.get(digest);
      if (slot) this.done[slot.index] = true;
    }
    this.advance();
  }

  /** True when a blob is already in place. */
  has(digest: string): boolean {
    const slot = this.byDigest.get(digest);
    return slot !== undefined && this.done[slot.index] === true;
  }

  /** Writes a blob's (already verified) bytes at its place. */
  async writeBlob(d: Descriptor, source: Readable): Promise<void> {
    const slot = this.byDigest.get(d.digest);
    if (!slot) throw new AirgapError("IO", `${d.digest} is not part of this bundle`);
    if (this.done[slot.index]) {
      source.destroy();
      return;
    }
    const { entry } = slot;
    const end = entry.dataOffset + entry.size;
    let at = entry.dataOffset;
    const files = this.files;
    const onBytes = this.options.onBytes;
    const place = async (buffers: Buffer[], n: number) => {
      if (at + n > end) throw new AirgapError("SIZE_MISMATCH", `${d.digest}: more than ${entry.size} bytes`);
      // At most WRITES_AT_ONCE writes in flight, the earliest place in the tar first: the bundle's hash reads
      // the tar in order, and unordered writes (queued in the thread pool, then on the file's lock in the
      // kernel) sometimes starved the blob the hash was waiting for, leaving up to ~0.9 s of hashing after
      // the last download (measured on the bench: save 3.53-4.13 s without the order, 3.51-3.68 s with it).
      await this.writeLane(-slot.index, () => files.writev(buffers, at));
      at += n;
      this.written[slot.index] = at - entry.dataOffset;
      onBytes?.(n);
      // The blob holding back the tar's hash is hashed as it arrives, not once it is complete.
      if (slot.index === this.nextPending) this.advance();
    };
    await drainInto(source, place);
    if (at !== end) throw new AirgapError("SIZE_MISMATCH", `${d.digest}: ${at - entry.dataOffset} bytes, want ${entry.size}`);
    this.done[slot.index] = true;
    const line = `blob ${d.digest} ${d.mediaType} ${entry.dataOffset} ${entry.size}\n`;
    this.journalQueue = this.journalQueue.then(() => appendFile(journalPath(this.tarPath), line)).catch(() => undefined);
    this.advance();
  }

  /** Tells the hasher how far the tar is written without a gap. */
  private advance(): void {
    while (this.nextPending < this.blobOrder.length && this.done[this.nextPending]) this.nextPending++;
    const next = this.blobOrder[this.nextPending];
    this.hasher.advance(next === undefined ? this.plan.size : this.plan.entries[next]!.dataOffset + this.written[this.nextPending]!);
  }

  /** Completes the bundle: checks every blob is in place, renames the files, writes the sidecar. */
  async finish(): Promise<WrittenBundle> {
    const missing = this.blobOrder.filter((_, i) => !this.done[i]).map((i) => this.plan.entries[i]!.blob!.digest);
    if (missing.length > 0) throw new AirgapError("IO", `the bundle lacks ${missing.length} blobs (${missing[0]}…)`);
    const digests = await this.hasher.finish();
    await this.journalQueue;
    const files: WrittenFile[] = this.files.parts.map((p, i) => ({ path: p.final, size: p.size, sha256: digests.parts[i]! }));
    const sidecarPath = `${this.tarPath}.sha256`;
    const tempSidecar = temporaryName(sidecarPath);
    try {
      await writeFile(tempSidecar, sidecarText(files, { sha256: digests.whole }, this.tarPath, this.options.splitSize !== undefined));
      // From here a rerun completes the renames (recoverUnfinished): an older bundle is replaced, never lost.
      await appendFile(journalPath(this.tarPath), `${COMMIT_LINE}\n`);
      await this.files.commit();
      await rename(tempSidecar, sidecarPath);
    } catch (err) {
      await unlink(tempSidecar).catch(() => undefined);
      throw writeError(sidecarPath, err);
    }
    await removeStale(this.tarPath, files.map((f) => f.path));
    await unlink(journalPath(this.tarPath)).catch(() => undefined);
    // The hashes were taken by reading the finished file back, as `bundle verify` would: a load or verify of
    // this unchanged file on this host need not hash it again (any change to it voids the stamp).
    const decisive = entriesDigest(this.plan.entries.flatMap((e) => (e.content ? [{ name: e.name, content: e.content }] : [])));
    for (const f of files) await stamp(f.path, f.sha256, decisive);
    return { tarPath: this.tarPath, sidecarPath, files, size: this.plan.size, sha256: digests.whole };
  }

  /** Gives up: moves the blobs already written into the cache (so a rerun fetches none of them), deletes the rest. */
  async abort(cache?: OciLayout): Promise<void> {
    await this.hasher.stop();
    await this.journalQueue;
    // Blobs cut off mid-way (Ctrl-C in a large layer) keep what arrived: journalled first, so that a run stopped
    // while it salvages still finds them next time.
    const started = this.blobOrder.map((entryIndex, i) => ({ entry: this.plan.entries[entryIndex]!, written: this.written[i] ?? 0, done: this.done[i] }))
      .filter((b) => !b.done && b.written >= MIN_PARTIAL_BYTES);
    if (cache && started.length > 0) {
      await appendFile(journalPath(this.tarPath), started.map((b) => `partial ${b.entry.blob!.digest} ${b.entry.blob!.mediaType} ${b.entry.dataOffset} ${b.entry.blob!.size} ${b.written}\n`).join("")).catch(() => undefined);
    }
    await this.files.close();
    let salvaged = true;
    if (cache) {
      const tar = await TarFile.open(this.files.parts.map((p) => ({ path: p.temp, start: p.start, size: p.size })));
      for (const [i, entryIndex] of this.blobOrder.entries()) {
        if (!this.done[i]) continue;
        const entry = this.plan.entries[entryIndex]!;
        salvaged = (await salvageBlob(tar, entry.blob!, entry.dataOffset, cache).then(() => true, () => false)) && salvaged;
      }
      for (const b of started) salvaged = (await salvagePartial(tar, b.entry.blob!, b.entry.dataOffset, b.written, cache).then(() => true, () => false)) && salvaged;
      await tar.close();
    }
    // A blob the cache could not take (its disk is full too) stays where it is: the unfinished files (named so they
    // never look finished) and their journal are kept, and the next save moves them into the cache first.
    if (!salvaged) return;
    await this.files.abort();
    await unlink(journalPath(this.tarPath)).catch(() => undefined);
  }
}

/**
 * Everything of the tar but the blobs still to download, as runs of adjacent bytes (one write each):
 * headers, small files, blobs given in memory, padding and the end-of-archive blocks.
 */
function contiguousRuns(plan: TarPlan, known: ReadonlyMap<string, Buffer>): Array<{ offset: number; buffers: Buffer[] }> {
  const runs: Array<{ offset: number; buffers: Buffer[]; end: number }> = [];
  const put = (offset: number, data: Buffer) => {
    if (data.length === 0) return;
    const last = runs.at(-1);
    if (last && last.end === offset) {
      last.buffers.push(data);
      last.end += data.length;
    } else {
      runs.push({ offset, buffers: [data], end: offset + data.length });
    }
  };
  for (const e of plan.entries) {
    put(e.headerOffset, e.header);
    const data = e.content ?? (e.blob ? known.get(e.blob.digest) : undefined);
    if (data === undefined) continue;
    if (data.length !== e.size) throw new AirgapError("SIZE_MISMATCH", `${e.name}: ${data.length} bytes, want ${e.size}`);
    put(e.dataOffset, data);
    put(e.dataOffset + e.size, Buffer.alloc(padding(e.size)));
  }
  put(plan.endOffset, END_OF_ARCHIVE);
  return runs;
}

/** The bundle being written, as a sink of the copy engine: blobs go to their place in the tar. */
class TarSink implements Sink {
  readonly name: string;

  constructor(private readonly writer: BundleWriter) {
    this.name = `bundle:${writer.tarPath}`;
  }

  async exists(d: Descriptor): Promise<boolean> {
    return this.writer.has(d.digest);
  }

  async push(d: Descriptor, open: Opener): Promise<void> {
    await this.writer.writeBlob(d, await open());
  }

  async tag(_d: Descriptor, _ref: Reference): Promise<void> {
    // index.json is written from the plan.
  }
}
