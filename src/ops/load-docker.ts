/**
 * `bundle load --docker`: every image of the bundle into a Docker engine, for closed-network nodes that have
 * an engine but no registry. The engine's image load is fed one docker-archive stream generated from the
 * bundle as it is read (no temporary file); each image is tagged with its source name and, given a registry,
 * its target name. Then every image is inspected: its ID must be its config's digest, its tags in place.
 */
import { plural } from "../util/plural.js";
import type { DockerEngine } from "../daemon/engine.js";
import { dockerArchive, type ArchiveImage } from "../daemon/archive-export.js";
import { engineName } from "../daemon/source.js";
import { AirgapError, type Problem } from "../errors.js";
import { parsePlatform } from "../oci/platform.js";
import { parseReference } from "../reference/reference.js";
import { targetReference, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import { pickImage } from "./pick.js";
import type { BundleReader } from "../bundle/reader.js";

/** One image as the engine has it after the load. */
export interface EngineLoadedImage {
  source: string;
  /** The image ID (its config digest). */
  id: string;
  tags: string[];
  verified: boolean;
  problem?: string;
}

/** Options of {@link loadIntoEngine}. */
export interface EngineLoadOptions {
  /** Also tag each image with its name under this registry. */
  registry?: RegistryLocation;
  layout: TargetLayout;
}

/** Loads every image of the bundle into the engine and checks each arrived. Throws LOAD_FAILED listing any that did not. */
export async function loadIntoEngine(reader: BundleReader, engine: DockerEngine, options: EngineLoadOptions): Promise<EngineLoadedImage[]> {
  const platform = parsePlatform(await engine.ping());
  const images: ArchiveImage[] = await Promise.all(
    (reader.bundle.images ?? []).map(async (i) => {
      const ref = parseReference(i.source);
      const image = await pickImage(reader, ref, i.source, platform);
      const tags = ref.tag === undefined ? [] : [engineName(ref), ...(options.registry ? [targetReference({ ...ref, digest: undefined }, options.registry, options.layout)] : [])];
      return { image, tags };
    }),
  );
  await engine.loadImages(dockerArchive(images, (d) => reader.fetchVerified(d)));
  const loaded = await Promise.all(
    images.map(async ({ image, tags }): Promise<EngineLoadedImage> => {
      const got = await engine.inspectImage(image.config.digest);
      const base = { source: image.source, id: image.config.digest, tags };
      if (!got) return { ...base, verified: false, problem: "the engine does not have it after the load" };
      if (got.id !== image.config.digest) return { ...base, verified: false, problem: `the engine gave it ID ${got.id}` };
      const missing = tags.filter((t) => !got.repoTags.some((r) => r === t || r === `docker.io/${t}` || `docker.io/library/${r}` === t));
      if (missing.length > 0) return { ...base, verified: false, problem: `not tagged ${missing.join(", ")}` };
      return { ...base, verified: true };
    }),
  );
  const problems: Problem[] = loaded.filter((l) => !l.verified).map((l) => ({ text: l.source, reason: l.problem ?? "not verified" }));
  if (problems.length > 0) throw new AirgapError("LOAD_FAILED", `${problems.length} of ${plural(loaded.length, "image")} did not arrive in the engine intact`, { problems });
  return loaded;
}
