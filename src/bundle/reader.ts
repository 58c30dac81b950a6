/**
 * Reads a bundle in place: its tar index, bundle.json, and any blob by byte range, verified as it is
 * read. As a {@link ReadOnlyTarget} it is the source of `bundle load`.
 */
import { Readable } from "node:stream";
import { AirgapError } from "../errors.js";
import type { ManifestData, ReadOnlyTarget } from "../content/target.js";
import type { Descriptor } from "../oci/descriptor.js";
import { digestHex, verifyBytes } from "../oci/verify.js";
import { formatReference, type Reference } from "../reference/reference.js";
import { naturalCompare } from "../util/natural-sort.js";
import { ENTRY, type BundleJson } from "./format.js";
import { checkBundleJson, checkIndexJson } from "./format-check.js";
import { bundleParts, indexTar, TarFile, type TarEntry } from "./tar-index.js";
import { isManifestFileName } from "../util/manifest-file.js";

/** Largest bundle.json / index.json we read (the bundle is not trusted until verified). */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

/** An open bundle. */
export class BundleReader implements ReadOnlyTarget {
  readonly name: string;

  private constructor(
    /** The path given (the tar, its first part, or the base name of its parts). */
    readonly path: string,
    readonly tar: TarFile,
    readonly entries: Map<string, TarEntry>,
    readonly bundle: BundleJson,
    /** index.json's descriptors by normalised source reference. */
    readonly index: Map<string, Descriptor>,
  ) {
    this.name = `bundle:${path}`;
  }

  /** True when there is something to install: manifests, or Helm charts. */
  installs(): boolean {
    return this.manifestFiles().length > 0 || (this.bundle.charts ?? []).length > 0;
  }

  /** The charts' values files the bundle carries (`charts/…`). */
  chartFiles(): string[] {
    return [...this.entries.keys()].filter((n) => n.startsWith(ENTRY.chartsDir) && !n.endsWith("/")).sort();
  }

  /** The Kubernetes manifest files the bundle carries (YAML or JSON under manifests/), in natural order. */
  manifestFiles(): string[] {
    return [...this.entries.keys()].filter((n) => n.startsWith(ENTRY.manifestsDir) && isManifestFileName(n)).sort(naturalCompare);
  }

  /** Opens and indexes a bundle; checks its format. */
  static async open(path: string): Promise<BundleReader> {
    const tar = await TarFile.open(await bundleParts(path));
    try {
      const entries = await indexTar(tar, path);
      const readJson = async (name: string): Promise<unknown> => {
        const e = entries.get(name);
        if (!e) throw new AirgapError("INVALID_BUNDLE", `${path}: no ${name} in the bundle`, { hint: "is this a bundle written by bundle save?" });
        if (e.size > MAX_METADATA_BYTES) throw new AirgapError("INVALID_BUNDLE", `${path}: ${name} is too large (${e.size} bytes)`);
        try {
          return JSON.parse((await tar.read(e.offset, e.size)).toString("utf8"));
        } catch {
          throw new AirgapError("INVALID_BUNDLE", `${path}: ${name} is not valid JSON`);
        }
      };
      const bundle = checkBundleJson(await readJson(ENTRY.bundleJson), path);
      const index = checkIndexJson(await readJson(ENTRY.indexJson), path);
      return new BundleReader(path, tar, entries, bundle, index);
    } catch (err) {
      await tar.close();
      throw err;
    }
  }

  /** The entry of a blob, if the bundle has it. */
  blobEntry(digest: string): TarEntry | undefined {
    return this.entries.get(`${ENTRY.blobsDir}${digestHex(digest)}`);
  }

  async exists(d: Descriptor): Promise<boolean> {
    return this.blobEntry(d.digest)?.size === d.size;
  }

  private entryFor(d: Descriptor): TarEntry {
    const e = this.blobEntry(d.digest);
    if (!e) throw new AirgapError("NOT_FOUND", `${d.digest} is not in ${this.path}`);
    if (e.size !== d.size) throw new AirgapError("SIZE_MISMATCH", `${d.digest} in ${this.path} is ${e.size} bytes, want ${d.size}`);
    return e;
  }

  /** The raw bytes of a blob by byte range (callers verify: the copy engine does). */
  async fetch(d: Descriptor): Promise<Readable> {
    const e = this.entryFor(d);
    return Readable.from(this.tar.range(e.offset, e.size), { objectMode: false, highWaterMark: 1 << 20 });
  }

  async fetchBytes(d: Descriptor, maxBytes: number): Promise<Buffer> {
    if (d.size > maxBytes) throw new AirgapError("INVALID_MANIFEST", `${d.digest} is ${d.size} bytes, more than the ${maxBytes}-byte limit`);
    const e = this.entryFor(d);
    const data = await this.tar.read(e.offset, e.size);
    verifyBytes(data, d, `reading ${this.path} blob ${d.digest}`);
    return data;
  }

  /** Resolves a normalised source reference through index.json. */
  async resolve(ref: Reference): Promise<ManifestData> {
    const name = formatReference(ref);
    const d = this.index.get(name);
    if (!d) throw new AirgapError("NOT_FOUND", `${name} is not in ${this.path}`);
    return { descriptor: d, bytes: await this.fetchBytes(d, MAX_METADATA_BYTES) };
  }

  /** Reads a non-blob entry (a manifest file, SHA256SUMS…) whole. */
  async readEntry(name: string): Promise<Buffer> {
    const e = this.entries.get(name);
    if (!e) throw new AirgapError("NOT_FOUND", `${name} is not in ${this.path}`);
    return this.tar.read(e.offset, e.size);
  }

  async close(): Promise<void> {
    await this.tar.close();
  }
}
