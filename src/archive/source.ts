/**
 * Image archives as a place images are read from: on first use an archive is read to its end into the
 * download cache (`import.ts`), which then serves its blobs. Each archive is read once per run.
 */
import type { Readable } from "node:stream";
import type { ManifestData, ReadOnlyTarget } from "../content/target.js";
import type { OciLayout } from "../layout/layout.js";
import type { Descriptor } from "../oci/descriptor.js";
import type { Reference } from "../reference/reference.js";
import { importEngineArchive } from "./import.js";

/** Opens the archive that holds an image, and names it in messages. */
export type ArchiveOpener = (ref: Reference) => { key: string; what: string; open: () => Promise<Readable> };

/** Images out of archives, through the cache. */
export class ArchiveSource implements ReadOnlyTarget {
  private readonly imported = new Map<string, Promise<ManifestData>>();

  constructor(
    readonly name: string,
    private readonly archiveOf: ArchiveOpener,
    private readonly cache: OciLayout,
  ) {}

  resolve(ref: Reference): Promise<ManifestData> {
    const { key, what, open } = this.archiveOf(ref);
    let manifest = this.imported.get(key);
    if (!manifest) {
      manifest = open().then((archive) => importEngineArchive(archive, this.cache, what));
      this.imported.set(key, manifest);
    }
    return manifest;
  }

  fetchBytes(d: Descriptor, maxBytes: number): Promise<Buffer> {
    return this.cache.fetchBytes(d, maxBytes);
  }

  fetch(d: Descriptor): Promise<Readable> {
    return this.cache.fetch(d);
  }

  exists(d: Descriptor): Promise<boolean> {
    return this.cache.exists(d);
  }
}
