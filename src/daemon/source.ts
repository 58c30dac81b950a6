/**
 * A Docker engine as a place images are read from (`docker-daemon:NAME:TAG` imagelist lines, `--from-daemon`):
 * on first use an image is exported from the engine and converted into the download cache, which then
 * serves its blobs. The engine is asked once per image per run.
 */
import type { Readable } from "node:stream";
import type { ManifestData, ReadOnlyTarget } from "../content/target.js";
import type { OciLayout } from "../layout/layout.js";
import type { Descriptor } from "../oci/descriptor.js";
import { formatReference, type Reference } from "../reference/reference.js";
import { importEngineArchive } from "./archive-import.js";
import type { DockerEngine } from "./engine.js";

/** The images of one engine, through the cache. */
export class DaemonSource implements ReadOnlyTarget {
  readonly name: string;
  private readonly exports = new Map<string, Promise<ManifestData>>();
  private engine?: Promise<DockerEngine>;

  constructor(
    private readonly connect: () => Promise<DockerEngine>,
    private readonly cache: OciLayout,
  ) {
    this.name = "docker-daemon";
  }

  async resolve(ref: Reference): Promise<ManifestData> {
    const name = engineName(ref);
    let exported = this.exports.get(name);
    if (!exported) {
      // The first image connects and checks the engine; the others wait for that answer.
      this.engine ??= this.connect().then(async (e) => (await e.ping(), e));
      exported = this.engine.then(async (e) => importEngineArchive(await e.exportImage(name), this.cache, `docker-daemon:${name}`));
      this.exports.set(name, exported);
    }
    return exported;
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

/** The name to ask the engine for: Docker's short form (`nginx:1.25`, `myapp:dev`, `gcr.io/x/y:1`). */
export function engineName(ref: Reference): string {
  const full = formatReference(ref);
  return full.startsWith("docker.io/library/") ? full.slice("docker.io/library/".length) : full.startsWith("docker.io/") ? full.slice("docker.io/".length) : full;
}
