/**
 * What a registry is given for a multi-platform image whose index lost platforms at save. A registry refuses
 * an index whose entries it lacks, so such an image is pushed as the one kept manifest, or as a new index of
 * the kept ones (their digests unchanged). Save (to pin manifests to it), load (to push it) and install (to
 * render it) all ask this one function, so the digest a manifest names is the digest the registry holds.
 */
import { digestOf } from "../oci/verify.js";
import { isIndex, isManifest } from "../oci/media-types.js";
import type { Descriptor } from "../oci/descriptor.js";
import type { ManifestData, SourceJob } from "./target.js";
import type { ResolvedImage } from "./graph.js";

/** How an image reaches a registry: its own top manifest, one kept child, or a new index of the kept children. */
export type PushedForm =
  | { as: "original" }
  | { as: "child"; digest: string }
  | { as: "new-index"; manifest: ManifestData };

/**
 * The form an image takes in a registry given the digests of the child manifests kept from its index.
 * A single manifest, or an index every image entry of which was kept, goes as it is (bytes unchanged).
 */
export function pushedForm(top: ManifestData, kept: ReadonlySet<string>): PushedForm {
  if (!isIndex(top.descriptor.mediaType)) return { as: "original" };
  const original = JSON.parse(top.bytes.toString("utf8")) as { manifests?: Array<{ digest: string; mediaType: string }> };
  const entries = original.manifests ?? [];
  const images = entries.filter((m) => isManifest(m.mediaType) || isIndex(m.mediaType));
  if (images.every((m) => kept.has(m.digest))) return { as: "original" };
  const keptEntries = entries.filter((m) => kept.has(m.digest));
  if (keptEntries.length === 1) return { as: "child", digest: keptEntries[0]!.digest };
  const bytes = Buffer.from(JSON.stringify({ ...original, manifests: keptEntries }));
  return { as: "new-index", manifest: { descriptor: { mediaType: top.descriptor.mediaType, digest: digestOf(bytes), size: bytes.length }, bytes } };
}

/** The digest an image has in a registry after a load (see {@link pushedForm}). */
export function pushedDigest(top: ManifestData, kept: ReadonlySet<string>): string {
  const form = pushedForm(top, kept);
  return form.as === "child" ? form.digest : pushedTop(top, form).digest;
}

/** The top descriptor an image has in a registry after a load, given the index entries kept (`children`). */
export function pushedDescriptor(top: ManifestData, children: readonly Descriptor[]): Descriptor {
  const form = pushedForm(top, new Set(children.map((c) => c.digest)));
  return form.as === "child" ? children.find((c) => c.digest === form.digest)! : pushedTop(top, form);
}

/** The top of an original or a new index. */
function pushedTop(top: ManifestData, form: Exclude<PushedForm, { as: "child" }>): Descriptor {
  return form.as === "original" ? top.descriptor : form.manifest.descriptor;
}

/** The image as the registry is given it: a filtered index becomes its kept manifest or a new index of those kept. */
export function asPushed<J extends SourceJob>(image: ResolvedImage<J>): ResolvedImage<J> {
  const form = pushedForm(image.top, new Set(image.children.map((c) => c.descriptor.digest)));
  if (form.as === "original") return image;
  if (form.as === "child") return { ...image, top: image.children.find((c) => c.descriptor.digest === form.digest)!, children: [] };
  return { ...image, top: form.manifest };
}
