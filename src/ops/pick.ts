/**
 * One runnable image out of a bundle: its image manifest for one platform (an index's kept child), with
 * the config and layers — what a Docker engine or a single-image archive takes.
 */
import type { ManifestData } from "../content/target.js";
import { AirgapError } from "../errors.js";
import { isParsedIndex, MAX_MANIFEST_BYTES, parseManifest, type Descriptor, type ImageManifest } from "../oci/descriptor.js";
import { DEFAULT_PLATFORMS, formatPlatform, parsePlatform, platformMatches, type Platform } from "../oci/platform.js";
import type { Reference } from "../reference/reference.js";
import type { BundleReader } from "../bundle/reader.js";

/** A single-platform image of a bundle. */
export interface PickedImage {
  /** The normalised source reference. */
  source: string;
  ref: Reference;
  manifest: ManifestData;
  config: Descriptor;
  layers: Descriptor[];
}

/**
 * The image of `ref` for `platform` (else the only platform the bundle kept, else linux/amd64). An index whose wanted platform
 * the bundle lacks → an error naming those it has.
 */
export async function pickImage(reader: BundleReader, ref: Reference, source: string, platform?: Platform): Promise<PickedImage> {
  const top = await reader.resolve(ref);
  let chosen = top;
  const parsed = parseManifest(top.bytes, top.descriptor.mediaType, source);
  if (isParsedIndex(parsed)) {
    const kept = parsed.manifests.filter((m) => reader.blobEntry(m.digest) !== undefined);
    // Asked for a platform: that one. Otherwise the only one kept, else the usual one.
    const wanted = platform ?? (kept.length === 1 ? undefined : parsePlatform(DEFAULT_PLATFORMS[0]!));
    const match = wanted ? kept.find((m) => platformMatches(wanted, m.platform)) : kept[0];
    if (!match) {
      const has = kept.map((m) => (m.platform ? formatPlatform(m.platform) : m.digest)).join(", ") || "none";
      throw new AirgapError("PLATFORM_NOT_FOUND", `${source}: the bundle has no ${wanted ? formatPlatform(wanted) : "single"} platform of it (it has: ${has})`, {
        hint: "choose one with --platform",
      });
    }
    chosen = { descriptor: match, bytes: await reader.fetchBytes(match, MAX_MANIFEST_BYTES) };
  }
  const image = parseManifest(chosen.bytes, chosen.descriptor.mediaType, source) as ImageManifest;
  return { source, ref, manifest: chosen, config: image.config, layers: image.layers };
}
