/**
 * Loading a delta: before anything is pushed, every config and layer the delta relies on without carrying must be
 * in the target registry (in the repository the site's inventory named) or in an older bundle given with --base.
 * If any is missing nothing is pushed, and each missing blob is listed with the images that need it. Then the
 * delta is read as one source with what it relies on (content/layered.ts), and the engine mounts each blob the
 * site holds into the repositories that need it instead of uploading it.
 */
import type { Readable } from "node:stream";
import pLimit from "p-limit";
import { LayeredSource } from "../content/layered.js";
import type { ManifestData, ReadOnlyTarget } from "../content/target.js";
import { AirgapError, type Problem } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import type { Reference } from "../reference/reference.js";
import type { RegistryLocation } from "../reference/target.js";
import type { RegistryHost } from "../registry/client.js";
import { RegistryRepository } from "../registry/repository.js";
import { keptGraph } from "./inventory.js";
import { plural } from "../util/plural.js";
import type { BundleReader } from "../bundle/reader.js";

/** Checks at once. */
const CHECKS_AT_ONCE = 16;

/** A delta made ready to load: its source, and where in the registry each blob it left out is. */
export interface PreparedDelta {
  source: ReadOnlyTarget;
  /** Digest → repository path (with the /PREFIX) that holds it. */
  homes: Map<string, string>;
}

/** The configs and layers each image of the bundle needs, by digest → the images (read from its manifests). */
async function imagesNeeding(reader: BundleReader, digests: ReadonlySet<string>): Promise<Map<string, string[]>> {
  const needs = new Map<string, string[]>();
  const note = (digest: string, image: string) => {
    if (!digests.has(digest)) return;
    const list = needs.get(digest) ?? [];
    if (!list.includes(image)) list.push(image);
    needs.set(digest, list);
  };
  for (const image of reader.bundle.images) {
    const graph = await keptGraph(reader, image.source).catch(() => undefined);
    for (const c of graph?.contents ?? []) note(c.descriptor.digest, image.source);
  }
  return needs;
}

/**
 * Checks that the target (or a --base bundle) holds everything the delta relies on; throws LOAD_FAILED listing what
 * is missing, with the images that need it, before anything is pushed.
 */
export async function prepareDelta(reader: BundleReader, bases: readonly BundleReader[], options: { registry: RegistryLocation; host: RegistryHost; signal?: AbortSignal }): Promise<PreparedDelta> {
  const base = reader.bundle.base!;
  const prefix = options.registry.prefix ? `${options.registry.prefix}/` : "";
  const repos = new Map<string, RegistryRepository>();
  const repo = (path: string) => repos.get(path) ?? repos.set(path, new RegistryRepository(options.host, path)).get(path)!;
  const homes = new Map<string, string>();
  const missing: Array<{ digest: string; size: number; where: string }> = [];
  const limit = pLimit(CHECKS_AT_ONCE);
  await Promise.all(base.blobs.map((b) => limit(async () => {
    const d: Descriptor = { mediaType: "application/octet-stream", digest: b.digest, size: b.size };
    if (bases.some((r) => r.blobEntry(b.digest)?.size === b.size)) return;
    const path = `${prefix}${b.repository}`;
    if (await repo(path).exists(d, options.signal)) homes.set(b.digest, path);
    else missing.push({ digest: b.digest, size: b.size, where: path });
  })));
  if (missing.length > 0) {
    const needs = await imagesNeeding(reader, new Set(missing.map((m) => m.digest)));
    const problems: Problem[] = missing.map((m) => ({ text: m.digest, reason: `not in ${options.registry.host}/${m.where}${bases.length > 0 ? " nor in the --base bundles" : ""}; needed by ${needs.get(m.digest)?.join(", ") ?? "no image"}` }));
    throw new AirgapError("LOAD_FAILED", `${reader.path} is a delta: the target lacks ${plural(missing.length, "blob")} it relies on; nothing was pushed`, {
      problems,
      hint: "give the bundle that carried them with --base OLD.tar, load into the registry the delta was made for, or save a whole bundle (without --since)",
    });
  }
  // Each blob from the first place that holds it: the delta, the older bundles, the registry's repositories.
  const fromRegistry: ReadOnlyTarget = {
    name: options.registry.host,
    resolve: (ref: Reference): Promise<ManifestData> => Promise.reject(new AirgapError("INTERNAL", `resolving ${ref.path} in the delta's base`)),
    exists: async (d) => homes.has(d.digest),
    fetchBytes: (d, max, signal) => repo(homes.get(d.digest)!).fetchBytes(d, max, signal),
    fetch: (d, signal): Promise<Readable> => repo(homes.get(d.digest)!).fetch(d, signal),
  };
  return { source: new LayeredSource([reader, ...bases, fromRegistry]), homes };
}
