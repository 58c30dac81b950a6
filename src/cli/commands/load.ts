/**
 * `bundle load`: push a bundle into the private registry and prove every image arrived.
 */
import { plural } from "../../util/plural.js";
import { DEFAULT_CONCURRENCY } from "../../content/copy.js";
import { AirgapError } from "../../errors.js";
import { parseRegistry, type RegistryLocation, type TargetLayout } from "../../reference/target.js";
import { formatBytes, parseSize } from "../../util/size.js";
import type { CommandContext, CommandSpec } from "../command.js";
import type { BundleReader } from "../../bundle/reader.js";
import { streamingGc } from "../runtime-tuning.js";
import { EXIT, type Output } from "../output.js";
import { openBases, openVerifiedBundle } from "../open-bundle.js";
import { formatTable, tableWidth } from "../table.js";
import { progressFor, type ProgressRenderer } from "../progress.js";
import { DOCKER_OPTIONS, engine } from "../docker-options.js";
import { INSTALL_OPTIONS, performInstall, prepareForCheck, preflightInstall, referenceNotice, type InstallPreflight } from "../install-options.js";
import { REGISTRY_OPTIONS, registriesFrom } from "../registry-options.js";
import { runPreflightStep } from "../preflight-step.js";
import type { Registries } from "../../registry/registries.js";
import { IMAGE_KEY_OPTIONS, imageKeyOption, KEY_OPTION } from "../keys.js";
import { reportImageSignatures } from "../image-signatures.js";
import { concurrencyOf, concurrencyOption, targetLayoutOf, targetLayoutOption } from "../shared-options.js";
import type { LoadResult } from "../../ops/load.js";
import type { ManifestText } from "../../kube/render.js";

/** The `load` command. */
export const loadCommand: CommandSpec = {
  command: "load <bundle>",
  summary: "Push a bundle into the private registry, prove every image arrived, then install its manifests",
  description:
    "Verify the bundle (its .sha256; --deep re-hashes every blob), push every blob and manifest to the registry\n" +
    "(blobs it has are skipped, blobs another repository has are mounted, the rest uploaded straight from the tar;\n" +
    "manifests keep their bytes, so digests stay valid), tag each image, then check /v2/_catalog and that every\n" +
    "target tag resolves to the bundle's digest. A second load uploads nothing. When the bundle carries manifests,\n" +
    "they are then installed as `bundle install` does (settings and the cluster are checked before the push;\n" +
    "--no-install only pushes). --docker loads into a Docker engine instead of a registry.",
  examples: [
    ["bundle load bundles/ai-devops-5.1.0.tar --registry 10.0.0.5:5000", "Push into the private registry"],
    ["bundle load bundles/ai-devops-5.1.0.tar.001 --registry harbor.local/ai-devops --ca-file ca.pem", "A split bundle into a Harbor project"],
    ["bundle load bundles/ai-devops-5.1.0.tar --docker --registry 10.0.0.5:5000", "Into this node's Docker engine, tagged with source and target names"],
  ],
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: {
    registry: { type: "string", describe: "Private registry HOST[:PORT][/PREFIX] (with --docker: also tag the images with their names there)", requiresArg: true },
    docker: { type: "boolean", describe: "Load the images into a Docker engine instead of a registry (for nodes without one)" },
    ...DOCKER_OPTIONS,
    deep: { type: "boolean", describe: "Re-hash every blob before pushing (the default checks the .sha256)" },
    "skip-verify": { type: "boolean", describe: "Do not check the bundle first (every blob is still verified as it is read)" },
    ...KEY_OPTION,
    ...IMAGE_KEY_OPTIONS,
    ...targetLayoutOption("host: REGISTRY/<host>/<path>; strip-host: REGISTRY/<path> (collisions refused)"),
    ...concurrencyOption("Blob uploads", DEFAULT_CONCURRENCY),
    "chunk-size": { type: "string", describe: "Upload blobs in PATCH chunks of this size (e.g. 50M), for proxies that cap request bodies", requiresArg: true },
    base: { type: "string", array: true, describe: "A delta: an older bundle that supplies what the delta relies on and the registry lacks; repeatable", requiresArg: true },
    ...REGISTRY_OPTIONS,
    install: { type: "boolean", describe: "Install the bundle's manifests after the push (--no-install only pushes)", default: true },
    "digest-tags": { type: "boolean", describe: "Tag each image pulled by digest alone pin-sha256-<hex> (registry garbage collection keeps it; --no-digest-tags pushes it untagged)", default: true },
    ...INSTALL_OPTIONS,
  },
  async run(args, out, context) {
    if (args.docker) return loadIntoDocker(args, out);
    if (args.registry === undefined) throw new AirgapError("INVALID_ARGUMENT", "--registry is required", { hint: "name the private registry, e.g. --registry 10.0.0.5:5000 (or --docker to load into a Docker engine)" });
    const registry = parseRegistry(String(args.registry));
    if (args.deep && args["skip-verify"]) throw new AirgapError("INVALID_ARGUMENT", "--deep and --skip-verify contradict each other");
    const concurrency = concurrencyOf(args);
    const chunkSize = args["chunk-size"] === undefined ? undefined : parseSize(String(args["chunk-size"]), "--chunk-size");
    if (chunkSize !== undefined && chunkSize < 1024) throw new AirgapError("INVALID_ARGUMENT", "--chunk-size must be at least 1Ki");
    const layout = targetLayoutOf(args);
    // With manifests to install, settings, rendering and the cluster are checked before a byte is pushed.
    const progress: { renderer?: ProgressRenderer } = {};
    const connection = await registriesFrom(args, context, [registry.host], (n) => progress.renderer?.retry(n), chunkSize === undefined ? {} : { chunkSize });
    try {
      // Inputs before network: the bundle (checked first: a damaged manifest must say so, not fail to parse),
      // settings and kubeconfig are all checked before the first request to the registry.
      const imageKey = await imageKeyOption(args);
      const reader = await openVerifiedBundle(args, out, { announceSkip: false });
      try {
        // The images' signatures, offline, before anything else reaches the registry or the cluster.
        if (imageKey) await reportImageSignatures(reader, imageKey, args["require-signatures"] === true, out);
        let preflight: InstallPreflight | undefined;
        if (reader.installs()) {
          if (args.install === false) out.info(`not installing the bundle's manifests (--no-install); later: bundle install ${String(args.bundle)} --registry ${String(args.registry)}`);
          else {
            preflight = await preflightInstall(reader, args, out, registry, layout, "load", context.signal);
            // The cluster is checked before the push; the images it will pull, after it (they are not there yet).
            if (preflight.cluster && args["skip-preflight"] !== true) await runPreflightStep(preflight, out);
          }
        }
        // What the cluster will pull, rendered before the push; the load asks the registry for it after.
        const rendered = reader.installs() ? (preflight?.prepared ?? (await prepareForCheck(reader, args, registry, layout))).files : false;
        const bases = await openBases(args);
        try {
          await push(reader, args, out, context, { registry, layout, concurrency, ...connection, progress, bases, rendered });
        } finally {
          for (const b of bases) await b.close();
        }
        if (!preflight) return EXIT.OK;
        out.info("installing the bundle's manifests");
        return await performInstall(preflight, reader, args, out, context);
      } finally {
        await reader.close();
      }
    } finally {
      await connection.registries.close();
    }
  },
};

/** Pushes and checks every image, printing the table; throws LOAD_FAILED when any did not arrive intact. */
async function push(
  reader: BundleReader,
  args: Record<string, unknown>,
  out: Output,
  context: CommandContext,
  settings: { registry: RegistryLocation; layout: TargetLayout; concurrency: number; registries: Registries; progress: { renderer?: ProgressRenderer }; bases: BundleReader[]; rendered: readonly ManifestText[] | false },
): Promise<void> {
  const { registry, layout, concurrency, registries, bases, rendered } = settings;
  // Loaded on use: with the rendered-reference check comes the YAML parsers, which other commands need not pay for.
  const { loadBundle } = await import("../../ops/load.js");
  const progress = progressFor(out);
  settings.progress.renderer = progress;
  try {
    // The table is printed once the images are in, before the rendered references are asked of the registry.
    let pushed = false;
    const notice = referenceNotice(out);
    const printTable = (result: LoadResult) => {
      progress?.stop();
      pushed = true;
      const rows = result.images.map((i) => [i.source, i.target, i.indexDigest ? `${i.indexDigest.slice(0, 19)} → ${i.digest.slice(0, 19)}` : i.digest.slice(0, 19), `${i.pushed}/${i.skipped}/${i.mounted}`, i.verified ? "yes" : `NO: ${i.problem}`]);
      // Names and problems give way on a narrow terminal; digests and counts do not.
      const table = formatTable(["IMAGE", "TARGET", "DIGEST", "PUSHED/SKIPPED/MOUNTED", "VERIFIED"], rows, { width: tableWidth(), shrink: [0, 1, 4] });
      const summary = {
        registry: String(args.registry), images: result.images, catalog: result.catalog,
        uploadedBytes: result.uploadedBytes, seconds: Number(result.seconds.toFixed(2)), ok: result.problems.length === 0,
        ...(result.charts.length > 0 && { charts: result.charts }),
      };
      if (out.json) out.jsonLine({ type: "summary", ...summary });
      else out.result(table, summary);
      if (!out.json) out.info("PUSHED/SKIPPED/MOUNTED count each image's blobs (layers and config): uploaded / already in the registry / mounted from another repository");
      for (const c of result.charts) out.info(`chart ${c.name} ${c.version}: ${c.verified ? `oci://${c.target} (helm pull oci://${c.target.slice(0, c.target.lastIndexOf(":"))} --version ${c.version})` : `NOT pushed: ${c.problem}`}`);
      out.info(`${plural(result.images.length, "image")}${result.charts.length > 0 ? ` and ${plural(result.charts.length, "chart")}` : ""}, ${formatBytes(result.uploadedBytes)} uploaded in ${result.seconds.toFixed(1)}s; /v2/_catalog ${result.catalog}`);
    };
    const result = await loadBundle({
      reader,
      bases,
      registry,
      layout,
      registries,
      verify: args["skip-verify"] ? "skip" : "verified",
      digestTags: args["digest-tags"] !== false,
      concurrency,
      rendered,
      signal: context.signal,
      onEvent: (e) => {
        if (e.type === "phase") streamingGc(e.phase === "push");
        if (e.type === "pushed") printTable(e.result);
        else if (pushed && e.type === "notice") notice(e.level, e.message);
        else progress?.event(e);
      },
    });
    if (result.problems.length > 0) {
      throw new AirgapError("LOAD_FAILED", `${result.problems.length} of ${plural(result.images.length + result.charts.length, result.charts.length > 0 ? "image and chart" : "image", result.charts.length > 0 ? "images and charts" : "images")} did not arrive intact`, {
        problems: result.problems, hint: "rerun the load: what arrived is skipped",
      });
    }
  } finally {
    progress?.stop();
  }
}

/** `--docker`: every image into a Docker engine; a table of image, ID, tags. */
async function loadIntoDocker(args: Record<string, unknown>, out: Output): Promise<number> {
  streamingGc(true);
  const registry = args.registry === undefined ? undefined : parseRegistry(String(args.registry));
  const { loadIntoEngine } = await import("../../ops/load-docker.js");
  const reader = await openVerifiedBundle(args, out);
  try {
    const docker = await engine(args);
    const progress = out.json ? undefined : progressFor(out);
    const loaded = await loadIntoEngine(reader, docker, { ...(registry && { registry }), layout: targetLayoutOf(args), ...(progress && { onEvent: (e) => progress.event(e) }) })
      .finally(() => progress?.stop());
    const rows = loaded.map((l) => [l.source, l.id.slice(0, 19), l.tags.join(" ") || "(by ID only: no tag)", l.verified ? "yes" : `NO: ${l.problem}`]);
    const table = formatTable(["IMAGE", "IMAGE ID", "TAGS", "VERIFIED"], rows);
    out.result(table, { engine: docker.address, images: loaded });
    out.info(`${plural(loaded.length, "image")} loaded into the Docker engine at ${docker.address}`);
    if (reader.manifestFiles().length > 0) out.info(`the manifests are not installed by --docker; with a registry: bundle install ${String(args.bundle)} --registry R`);
    return EXIT.OK;
  } finally {
    await reader.close();
  }
}

