/**
 * `bundle load --docker`: every image of the bundle into a Docker engine, for closed-network nodes that have
 * an engine but no registry. The copy engine copies each image, for the engine's platform, into one
 * docker-archive sink whose stream the engine's image load reads as it is made (no temporary file); each
 * image is tagged with its source name and, given a registry, its target name. Then every image is
 * inspected: its ID must be its config's digest, its tags in place.
 */
import { ArchiveSink } from "../archive/sink.js";
import { CopyEngine, type CopiedImage, type CopyEvent, type FailedImage } from "../content/copy.js";
import { onePlatformPolicy } from "../content/policy.js";
import type { DockerEngine } from "../daemon/engine.js";
import { AirgapError, type Problem } from "../errors.js";
import type { ImageManifest } from "../oci/descriptor.js";
import { parseManifest } from "../oci/descriptor.js";
import { parsePlatform } from "../oci/platform.js";
import { engineName, parseReference } from "../reference/reference.js";
import { targetReference, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import { plural } from "../util/plural.js";
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
  onEvent?: (event: CopyEvent) => void;
}

/** Loads every image of the bundle into the engine and checks each arrived. Throws LOAD_FAILED listing any that did not. */
export async function loadIntoEngine(reader: BundleReader, engine: DockerEngine, options: EngineLoadOptions): Promise<EngineLoadedImage[]> {
  const platform = parsePlatform(await engine.ping());
  const copier = new CopyEngine({
    policy: onePlatformPolicy(platform, true),
    concurrency: 1,
    ...(options.onEvent && { onEvent: options.onEvent }),
  });
  const sink = new ArchiveSink("docker-archive", "the Docker engine");
  const jobs = (reader.bundle.images ?? []).map((i) => {
    const ref = parseReference(i.source);
    return { label: i.source, ref, source: reader, sink, ...(ref.tag !== undefined && { tagAs: ref }) };
  });
  // Every graph first: an image the engine cannot take (no such platform) stops the load before it starts.
  const resolved = await Promise.all(jobs.map((job) => copier.resolve(job)));
  const unresolved = resolved.filter((r): r is FailedImage => "error" in r);
  if (unresolved.length > 0) throw unresolved[0]!.error;

  const loading = engine.loadImages(sink.stream);
  loading.catch((err: Error) => sink.abort(err));
  const copied: CopiedImage[] = [];
  for (const image of resolved) {
    if ("error" in image) continue;
    const result = await copier.transfer(image);
    if ("error" in result) {
      sink.abort(result.error);
      await loading.catch(() => undefined);
      throw result.error;
    }
    copied.push(result);
    if (options.registry && image.job.tagAs) await sink.tag(image.top.descriptor, parseReference(targetReference({ ...image.job.tagAs, digest: undefined }, options.registry, options.layout)));
  }
  await sink.finish();
  await loading;

  const loaded = await Promise.all(
    copied.map(async (c): Promise<EngineLoadedImage> => {
      const tag = c.job.tagAs;
      const tags = tag === undefined ? [] : [engineName({ ...tag, digest: undefined }), ...(options.registry ? [targetReference({ ...tag, digest: undefined }, options.registry, options.layout)] : [])];
      const config = (parseManifest(c.top.bytes, c.top.descriptor.mediaType, c.job.label) as ImageManifest).config.digest;
      const got = await engine.inspectImage(config);
      const base = { source: c.job.label, id: config, tags };
      if (!got) return { ...base, verified: false, problem: "the engine does not have it after the load" };
      if (got.id !== config) return { ...base, verified: false, problem: `the engine gave it ID ${got.id}` };
      const missing = tags.filter((t) => !got.repoTags.some((r) => r === t || r === `docker.io/${t}` || `docker.io/library/${r}` === t));
      if (missing.length > 0) return { ...base, verified: false, problem: `not tagged ${missing.join(", ")}` };
      return { ...base, verified: true };
    }),
  );
  const problems: Problem[] = loaded.filter((l) => !l.verified).map((l) => ({ text: l.source, reason: l.problem ?? "not verified" }));
  if (problems.length > 0) throw new AirgapError("LOAD_FAILED", `${problems.length} of ${plural(loaded.length, "image")} did not arrive in the engine intact`, { problems });
  return loaded;
}
