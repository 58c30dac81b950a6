/**
 * A Target held in memory, for fast tests of the copy engine: it keeps the roles' contract (it runs the same
 * contract suite as the real places) and counts what it was asked, so a test can say what the engine did.
 */
import { Readable } from "node:stream";
import { AirgapError } from "../../src/errors.js";
import type { ManifestData, Opener, Target } from "../../src/content/target.js";
import type { Descriptor } from "../../src/oci/descriptor.js";
import { digestOf } from "../../src/oci/verify.js";
import { formatReference, type Reference } from "../../src/reference/reference.js";
import { allBlobs, topManifest, type TestArtifact } from "./images.js";

/** Blobs and tags in maps; every call counted. */
export class MemoryTarget implements Target {
  readonly blobs = new Map<string, { mediaType: string; data: Buffer }>();
  readonly tags = new Map<string, string>();
  readonly calls = { resolve: 0, fetch: 0, fetchBytes: 0, exists: 0, push: 0, tag: 0 };

  constructor(readonly name = "memory") {}

  /** Stores an artifact's blobs and tags it as `ref`. */
  static with(artifact: TestArtifact, ref: Reference, name?: string): MemoryTarget {
    const t = new MemoryTarget(name);
    for (const b of allBlobs(artifact)) t.blobs.set(b.digest, { mediaType: b.mediaType, data: b.data });
    t.tags.set(formatReference({ ...ref, digest: undefined }), topManifest(artifact).digest);
    return t;
  }

  private get(d: Descriptor): Buffer {
    const b = this.blobs.get(d.digest);
    if (!b) throw new AirgapError("NOT_FOUND", `${d.digest} is not in ${this.name}`);
    return b.data;
  }

  async resolve(ref: Reference): Promise<ManifestData> {
    this.calls.resolve++;
    const digest = ref.digest ?? this.tags.get(formatReference({ ...ref, digest: undefined }));
    const b = digest === undefined ? undefined : this.blobs.get(digest);
    if (!b || digest === undefined) throw new AirgapError("NOT_FOUND", `${formatReference(ref)} is not in ${this.name}`);
    return { descriptor: { mediaType: b.mediaType, digest, size: b.data.length }, bytes: b.data };
  }

  async fetchBytes(d: Descriptor, maxBytes: number): Promise<Buffer> {
    this.calls.fetchBytes++;
    if (d.size > maxBytes) throw new AirgapError("INVALID_MANIFEST", `${d.digest} is larger than ${maxBytes} bytes`);
    const data = this.get(d);
    if (digestOf(data) !== d.digest) throw new AirgapError("DIGEST_MISMATCH", `${d.digest} in ${this.name} does not match its bytes`);
    return data;
  }

  async fetch(d: Descriptor): Promise<Readable> {
    this.calls.fetch++;
    const data = this.get(d);
    // In pieces, as a file or a socket would give them.
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += 4096) pieces.push(data.subarray(i, i + 4096));
    return Readable.from(pieces);
  }

  async exists(d: Descriptor): Promise<boolean> {
    this.calls.exists++;
    return this.blobs.get(d.digest)?.data.length === d.size;
  }

  async push(d: Descriptor, open: Opener): Promise<void> {
    this.calls.push++;
    const chunks: Buffer[] = [];
    for await (const c of await open()) chunks.push(c as Buffer);
    this.blobs.set(d.digest, { mediaType: d.mediaType, data: Buffer.concat(chunks) });
  }

  async tag(d: Descriptor, ref: Reference): Promise<void> {
    this.calls.tag++;
    if (!this.blobs.has(d.digest)) throw new AirgapError("NOT_FOUND", `tagging ${d.digest}, which ${this.name} lacks`);
    this.tags.set(formatReference({ ...ref, digest: undefined }), d.digest);
  }

  async headManifest(reference: string): Promise<string | undefined> {
    for (const [name, digest] of this.tags) if (name.endsWith(`:${reference}`)) return digest;
    return this.blobs.has(reference) ? reference : undefined;
  }
}
