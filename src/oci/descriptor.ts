/**
 * Descriptors, manifests and indexes: the parsed shapes, checked as they are parsed.
 * https://github.com/opencontainers/image-spec/blob/main/descriptor.md
 */
import { AirgapError } from "../errors.js";
import { digestProblem } from "../reference/reference.js";
import { isIndex, isManifest, isSchema1 } from "./media-types.js";
import type { Platform } from "./platform.js";

/** A content descriptor: what a blob is, its digest and size. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  /** What an artifact is (an SBOM, a signature…), in the Referrers API and its fallback tag index. */
  artifactType?: string;
}

/** An image manifest's references. */
export interface ImageManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** An index's references. */
export interface ImageIndex {
  mediaType: string;
  manifests: Descriptor[];
}

/** Largest manifest or index we accept (the distribution registry's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function bad(what: string, reason: string): AirgapError {
  return new AirgapError("INVALID_MANIFEST", `${what}: ${reason}`);
}

/** Checks and returns a descriptor found inside a manifest (`what` names the manifest in errors). */
export function checkDescriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (!d || typeof d !== "object") throw bad(what, "a descriptor is not an object");
  if (typeof d.mediaType !== "string" || d.mediaType === "") throw bad(what, "a descriptor has no mediaType");
  if (typeof d.digest !== "string") throw bad(what, "a descriptor has no digest");
  const problem = digestProblem(d.digest);
  if (problem) throw bad(what, problem);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) throw bad(what, `descriptor ${d.digest} has no valid size`);
  return d as Descriptor;
}

/**
 * Parses manifest or index bytes. `mediaType` is what the registry or the parent descriptor said;
 * the `mediaType` field inside, when present, must agree. Schema 1 is refused.
 */
export function parseManifest(bytes: Buffer, mediaType: string, what: string): ImageManifest | ImageIndex {
  if (isSchema1(mediaType)) throw new AirgapError("UNSUPPORTED", `${what}: Docker schema 1 manifests are not supported (re-push the image with a current Docker or skopeo)`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch {
    throw bad(what, "the manifest is not valid JSON");
  }
  if (json.schemaVersion === 1) throw new AirgapError("UNSUPPORTED", `${what}: Docker schema 1 manifests are not supported (re-push the image with a current Docker or skopeo)`);
  const inner = typeof json.mediaType === "string" ? json.mediaType : undefined;
  const type = inner ?? mediaType;
  if (inner && inner !== mediaType) throw bad(what, `media type ${mediaType} does not match the manifest's own ${inner}`);
  if (isIndex(type)) {
    if (!Array.isArray(json.manifests)) throw bad(what, "the index has no manifests list");
    return { mediaType: type, manifests: json.manifests.map((m) => checkDescriptor(m, what)) };
  }
  if (isManifest(type)) {
    if (!Array.isArray(json.layers)) throw bad(what, "the manifest has no layers list");
    return { mediaType: type, config: checkDescriptor(json.config, what), layers: json.layers.map((l) => checkDescriptor(l, what)) };
  }
  throw new AirgapError("UNSUPPORTED", `${what}: unsupported manifest media type "${type}"`);
}

/** True when a parsed manifest is an index. */
export function isParsedIndex(m: ImageManifest | ImageIndex): m is ImageIndex {
  return "manifests" in m;
}
