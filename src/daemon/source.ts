/**
 * A Docker engine as a place images are read from (`docker-daemon:NAME:TAG` imagelist lines, `--from-daemon`):
 * each image is exported from the engine (`docker save NAME`) and read as an archive into the download cache.
 * The first image connects and checks the engine; the others wait for that answer.
 */
import { ArchiveSource } from "../archive/source.js";
import type { OciLayout } from "../layout/layout.js";
import { engineName } from "../reference/reference.js";
import type { DockerEngine } from "./engine.js";

/** The images of one engine, through the cache. */
export function daemonSource(connect: () => Promise<DockerEngine>, cache: OciLayout): ArchiveSource {
  let engine: Promise<DockerEngine> | undefined;
  return new ArchiveSource("docker-daemon", (ref) => {
    const name = engineName(ref);
    return {
      key: name,
      what: `docker-daemon:${name}`,
      open: async () => {
        engine ??= connect().then(async (e) => (await e.ping(), e));
        return (await engine).exportImage(name);
      },
    };
  }, cache);
}
