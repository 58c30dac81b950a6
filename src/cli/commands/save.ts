/**
 * `bundle save`: pull every image of the imagelist into one versioned, checksummed bundle.
 */
import { plural } from "../../util/plural.js";
import { basename, dirname } from "node:path";
import { DEFAULT_CONCURRENCY } from "../../content/copy.js";
import { AirgapError } from "../../errors.js";
import { DEFAULT_CACHE_DIR } from "../../layout/layout.js";
import { DEFAULT_PLATFORMS, parsePlatform } from "../../oci/platform.js";
import { readImagelist } from "../../reference/imagelist.js";
import { formatBytes, parseSize } from "../../util/size.js";
import type { CommandSpec } from "../command.js";
import { MANIFEST_SIZE_OPTION, maxManifestBytes } from "../manifest-options.js";
import { streamingGc } from "../runtime-tuning.js";
import { EXIT } from "../output.js";
import { progressFor } from "../progress.js";
import { DOCKER_OPTIONS, engine } from "../docker-options.js";
import { REGISTRY_OPTIONS, registriesFrom } from "../registry-options.js";
import { MIRROR_OPTIONS, mirrorsFrom } from "../mirror-options.js";
import { signingKeyOption } from "../keys.js";
import { signSidecar } from "../../ops/sign.js";
import { fingerprint } from "../../oci/signing.js";
import { concurrencyOf, concurrencyOption } from "../shared-options.js";
import { parseChartSpec, readChartsFile, type ChartSpec } from "../../charts/spec.js";
import { findHelm } from "../../charts/render.js";

/** The charts of `--chart` (with `--values`) and `--charts FILE`. */
async function chartsFrom(args: Record<string, unknown>): Promise<ChartSpec[]> {
  const given = ((args.chart as string[] | undefined) ?? []).map(String);
  const values = ((args.values as string[] | undefined) ?? []).map(String);
  if (values.length > 0 && given.length !== 1) {
    throw new AirgapError("INVALID_ARGUMENT", `--values goes with exactly one --chart (${given.length} given)`, { hint: "give each chart its values in a --charts file: one chart a line, each with its --values" });
  }
  const specs = given.map((g) => parseChartSpec([...g.trim().split(/\s+/), ...values.flatMap((v) => ["--values", v])], `--chart ${g}`));
  if (args.charts !== undefined) specs.push(...(await readChartsFile(String(args.charts))));
  return specs;
}

/** The `save` command. */
export const saveCommand: CommandSpec = {
  command: "save",
  summary: "Pull every image of the imagelist into one versioned bundle (tar + .sha256)",
  description:
    "Pull every image of the imagelist concurrently from its registry, store each blob once, verify every digest,\n" +
    "rewrite the manifests' image references to {{REGISTRY}}/<host>/<path> (filled in at load), and write\n" +
    "bundles/NAME-VERSION.tar with NAME-VERSION.tar.sha256 beside it. An image the manifests use but the imagelist\n" +
    "lacks stops the save before anything is downloaded. Downloads are kept in a cache\n" +
    "(bundles/.cache), so a rerun after a failure or Ctrl-C fetches only what is missing. If any image fails, every\n" +
    "failure is listed and no bundle is written.",
  examples: [
    ["bundle save --name ai-devops --version 5.1.0", "Bundle ./imagelist and ./manifests into bundles/ai-devops-5.1.0.tar"],
    ["bundle save --name ai-devops --version 5.1.0 --split-size 4G", "Split into parts that fit on FAT32 media"],
    ["bundle save --name app --version 1 --platform linux/amd64 --platform linux/arm64", "Keep two platforms of multi-platform images"],
    ["bundle save --name app --version 1 --from-daemon", "Images built on this host: read them from the Docker engine"],
    ["bundle save --name ai-devops --version 5.2.0 --since site-inventory.json", "Only what the closed site lacks (a delta)"],
  ],
  options: {
    name: { type: "string", describe: "Bundle name (part of the file name)", demandOption: true, requiresArg: true },
    version: { type: "string", describe: "Bundle version (part of the file name)", demandOption: true, requiresArg: true },
    imagelist: { type: "string", describe: "Image list file", default: "imagelist", requiresArg: true },
    manifests: { type: "string", describe: "Folder of Kubernetes manifests to rewrite and carry [default: manifests, skipped when absent]", requiresArg: true },
    "add-manifest-images": { type: "boolean", describe: "Also fetch images the manifests use that the imagelist lacks" },
    "allow-missing": { type: "boolean", describe: "Warn, instead of failing, about images the manifests use that the imagelist lacks" },
    ...MANIFEST_SIZE_OPTION,
    "pin-digests": { type: "boolean", describe: "Rewrite name:tag to name:tag@sha256:… in the manifests (the digest resolved now)" },
    out: { type: "string", describe: "Folder to write the bundle to", default: "bundles", requiresArg: true },
    "cache-dir": { type: "string", describe: "Download cache (an OCI layout); reruns resume from it", default: DEFAULT_CACHE_DIR, requiresArg: true },
    force: { type: "boolean", describe: "Overwrite an existing bundle of the same name and version" },
    "split-size": { type: "string", describe: "Split the tar into parts of this size (4G = 4×10⁹ bytes, fits FAT32; 2Gi binary)", requiresArg: true },
    platform: { type: "string", array: true, describe: "Platform to keep from multi-platform images; repeatable", default: [...DEFAULT_PLATFORMS], requiresArg: true },
    "all-platforms": { type: "boolean", describe: "Keep every platform of multi-platform images" },
    ...concurrencyOption("Blob downloads", DEFAULT_CONCURRENCY),
    "from-daemon": { type: "boolean", describe: "Read every image from the local Docker engine (as if each line were docker-daemon:NAME:TAG)" },
    "sign-key": { type: "string", describe: "Sign the bundle: a PKCS#8 PEM private key (ECDSA P-256 or Ed25519); writes NAME-VERSION.tar.sig", requiresArg: true },
    "sign-key-pass-env": { type: "string", describe: "Environment variable holding the passphrase of an encrypted --sign-key (else asked on a terminal)", requiresArg: true },
    referrers: { type: "boolean", describe: "Carry each image's signatures, attestations, SBOMs and OCI referrers (--no-referrers skips them)", default: true },
    chart: { type: "string", array: true, describe: "Carry a Helm chart: oci://HOST/PATH/NAME:VERSION, \"https://REPO NAME VERSION\", or a local .tgz or folder; repeatable", requiresArg: true },
    charts: { type: "string", describe: "File of charts to carry, one a line, each with its --values (docs/charts.md)", requiresArg: true },
    values: { type: "string", array: true, describe: "Values file of the one --chart (rendered to find its images, installed with it); repeatable", requiresArg: true },
    since: { type: "string", array: true, describe: "Make a delta: leave out what this inventory (bundle inventory) or earlier bundle holds; repeatable", requiresArg: true },
    ...DOCKER_OPTIONS,
    ...REGISTRY_OPTIONS,
    ...MIRROR_OPTIONS,
  },
  async run(args, out, context) {
    const concurrency = concurrencyOf(args);
    const splitSize = args["split-size"] === undefined ? undefined : parseSize(String(args["split-size"]), "--split-size");
    if (splitSize !== undefined && splitSize < 1024 * 1024) throw new AirgapError("INVALID_ARGUMENT", "--split-size must be at least 1Mi");
    const platforms = args["all-platforms"] ? "all" : (args.platform as string[]).map(parsePlatform);
    const imagelist = await readImagelist(String(args.imagelist));
    out.warnProblems(imagelist.warnings);

    // The signing key and the inventories (or earlier bundles) a delta is made against: read before any registry is asked.
    const signKey = await signingKeyOption(args);
    const { readBase } = await import("../../ops/inventory.js");
    const sinceFiles = ((args.since as string[] | undefined) ?? []).map(String);
    const since = await Promise.all(sinceFiles.map((f) => readBase(f)));
    since.forEach((b, i) => {
      if (b.sidecarChecked === false) out.warn(`--since ${sinceFiles[i]}: no .sha256 beside it, so it could not be checked for damage on the way out`);
    });
    const charts = await chartsFrom(args);
    const helm = charts.length > 0 ? await findHelm() : undefined;
    const progress = progressFor(out);
    const mirrors = await mirrorsFrom(args);
    const { registries } = await registriesFrom(args, context, imagelist.entries.map((e) => e.ref.domain), (n) => progress?.retry(n), { insecureHosts: mirrors.insecureHosts() });
    try {
      // Loaded on use: the manifest tooling (a YAML parser) is not needed by other commands.
      const { saveBundle } = await import("../../ops/save.js");
      const result = await saveBundle({
        imagelist,
        // A folder the user names must exist; the default one may be absent.
        manifestsDir: args.manifests === undefined ? "manifests" : String(args.manifests),
        manifestsRequired: args.manifests !== undefined,
        addManifestImages: args["add-manifest-images"] === true,
        allowMissing: args["allow-missing"] === true,
        pinDigests: args["pin-digests"] === true,
        maxManifestBytes: maxManifestBytes(args),
        name: String(args.name),
        version: String(args.version),
        outDir: String(args.out),
        cacheDir: String(args["cache-dir"]),
        force: args.force === true,
        ...(splitSize !== undefined && { splitSize }),
        platforms,
        concurrency,
        registries,
        ...(!mirrors.empty && { mirrors }),
        docker: { connect: () => engine(args), all: args["from-daemon"] === true },
        toolVersion: context.toolVersion,
        ...(since.length > 0 && { since }),
        referrers: args.referrers !== false,
        ...(charts.length > 0 && { charts }),
        ...(helm !== undefined && { helm }),
        signal: context.signal,
        onEvent: (e) => {
          if (e.type === "phase" && e.phase === "download") streamingGc(true);
          progress?.event(e);
        },
      });
      progress?.stop();
      const signature = signKey ? await signSidecar(result.bundle.sidecarPath, signKey) : undefined;
      const mbps = result.uniqueBytes / 1e6 / Math.max(result.seconds, 0.001);
      const summary = {
        type: "summary",
        bundle: result.bundle.tarPath,
        sidecar: result.bundle.sidecarPath,
        ...(signature && signKey && { signature, signedBy: fingerprint(signKey) }),
        parts: result.bundle.files.length > 1 ? result.bundle.files.map((f) => f.path) : undefined,
        sha256: result.bundle.sha256,
        images: result.images,
        platforms: result.json.platforms,
        uniqueBlobs: result.uniqueBlobs,
        bytes: result.uniqueBytes,
        dedupSavedBytes: result.dedupSavedBytes,
        bundleBytes: result.bundle.size,
        seconds: Number(result.seconds.toFixed(2)),
        mbPerSecond: Number(mbps.toFixed(1)),
        ...(result.external && { delta: { leftOut: result.external.count, leftOutBytes: result.external.bytes } }),
        ...(result.json.charts && { charts: result.json.charts.map((c) => ({ name: c.name, version: c.version, digest: c.digest, images: c.images.length })) }),
      };
      if (out.json) {
        out.jsonLine(summary);
      } else {
        out.result(result.bundle.files.map((f) => f.path).join("\n"), summary);
        out.info(
          `${plural(result.images, "image")} (${result.json.platforms.join(", ")}), ${plural(result.uniqueBlobs, "unique blob")}, ${formatBytes(result.uniqueBytes)} ` +
            `(${formatBytes(result.dedupSavedBytes)} saved by dedup), ${result.seconds.toFixed(1)}s, ${mbps.toFixed(0)} MB/s\n` +
            (result.json.charts ? `${plural(result.json.charts.length, "chart")}: ${result.json.charts.map((c) => `${c.name} ${c.version} (${plural(c.images.length, "image")}${c.found === "values" ? ", from its values" : ""})`).join(", ")}\n` : "") +
            (result.external ? `delta: ${plural(result.external.count, "config and layer", "configs and layers")} the site holds left out (${formatBytes(result.external.bytes)} not carried)\n` : "") +
            (signature && signKey ? `signed: ${signature} (key ${fingerprint(signKey)})\n` : "") +
            `checksums: ${result.bundle.sidecarPath} (check with: cd ${dirname(result.bundle.sidecarPath)} && sha256sum -c ${basename(result.bundle.sidecarPath)})`,
        );
      }
      return EXIT.OK;
    } finally {
      progress?.stop();
      await registries.close();
    }
  },
};
