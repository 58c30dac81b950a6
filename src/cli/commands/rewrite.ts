/**
 * `bundle rewrite`: point the manifests' image references at the private registry, standalone.
 */
import { plural } from "../../util/plural.js";
import { mkdir, writeFile } from "node:fs/promises";
import { checkOutputFolder } from "../../util/output-path.js";
import { dirname, join, resolve } from "node:path";
import { AirgapError } from "../../errors.js";
import { writeError } from "../../util/whole-file.js";
import { assertNoTargetCollisions, parseRegistry } from "../../reference/target.js";
import { repositoryOf, parseReference } from "../../reference/reference.js";
import type { CommandSpec } from "../command.js";
import { MANIFEST_SIZE_OPTION, maxManifestBytes } from "../manifest-options.js";
import { openVerifiedBundle } from "../open-bundle.js";
import type { Output } from "../output.js";
import { EXIT } from "../output.js";
import { targetLayoutOf, targetLayoutOption } from "../shared-options.js";
import { CONVERT_OPTIONS, kubeVersion, reportConversions } from "../install-options.js";

/** The `rewrite` command. */
export const rewriteCommand: CommandSpec = {
  command: "rewrite",
  summary: "Rewrite the manifests' image references to a private registry",
  description:
    "Rewrite every image reference in the manifests to REGISTRY[/PREFIX]/<source host>/<source path> with the same\n" +
    "tag and digest, changing nothing else in the files (comments, quoting, order, JSON/YAML inside strings stay),\n" +
    "and write them to --out. The same mapping as bundle load's push.",
  examples: [
    ["bundle rewrite --registry 10.0.0.5:5000 --out rendered/", "Rewrite ./manifests into rendered/"],
    ["bundle rewrite --registry harbor.local/ai-devops --manifests manifests --out rendered/", "With a Harbor project as prefix"],
    ["bundle rewrite --registry 10.0.0.5:5000 --out rendered/ --convert-apis --kube-version 1.34", "Also convert what was written for an older Kubernetes (CRDs of v1beta1, Ingress, HPA, …)"],
  ],
  options: {
    registry: { type: "string", describe: "Private registry HOST[:PORT][/PREFIX]", demandOption: true, requiresArg: true },
    manifests: { type: "string", describe: "Folder of Kubernetes manifests", default: "manifests", requiresArg: true },
    out: { type: "string", describe: "Folder to write the rewritten manifests to", demandOption: true, requiresArg: true },
    ...targetLayoutOption("host: REGISTRY/<host>/<path>; strip-host: REGISTRY/<path> (collisions refused)"),
    ...MANIFEST_SIZE_OPTION,
    force: { type: "boolean", describe: "Write into --out even when it already holds files" },
    "convert-apis": { ...CONVERT_OPTIONS["convert-apis"]!, describe: "Convert objects written in API versions --kube-version no longer serves to their successors (kubectl apply then takes them)" },
    "kube-version": { ...CONVERT_OPTIONS["kube-version"]!, describe: "With --convert-apis: the Kubernetes version the manifests will be applied to, e.g. 1.34" },
    "webhook-side-effects": CONVERT_OPTIONS["webhook-side-effects"]!,
    bundle: { type: "string", describe: "The bundle the images were loaded from: references pinned to an index it keeps some platforms of are pinned to what the load pushed", requiresArg: true },
  },
  async run(args, out) {
    const registry = parseRegistry(String(args.registry));
    const layout = targetLayoutOf(args);
    const manifests = String(args.manifests);
    const outDir = String(args.out);
    if (resolve(outDir) === resolve(manifests)) {
      throw new AirgapError("INVALID_ARGUMENT", "--out must not be the manifests folder itself", { hint: "write to another folder; the originals stay as they are" });
    }
    await checkOutputFolder(outDir, { force: args.force === true, option: "--out" });
    // Loaded on use: the YAML parsers cost start-up time that other commands need not pay.
    const [{ scanManifestDir }, { rewriteManifest, relocation }] = await Promise.all([import("../../kube/files.js"), import("../../kube/rewrite.js")]);
    const scans = await scanManifestDir(manifests, true, maxManifestBytes(args));
    assertNoTargetCollisions(scans.flatMap((s) => s.findings.map((f) => f.ref)), layout);
    const repins = args.bundle === undefined ? new Map<string, string>() : await bundleRepins(args, out);
    const target = relocation(registry, layout, repins);
    // Every file is rewritten and checked before any is written.
    const results = scans.map((s) => rewriteManifest(s, target));
    if (args["convert-apis"] === true) {
      if (args["kube-version"] === undefined) throw new AirgapError("INVALID_ARGUMENT", "--convert-apis needs --kube-version: the Kubernetes version the manifests are to be applied to (e.g. 1.34)");
      const { convertFiles, removedIn } = await import("../../ops/convert-apis.js");
      const sideEffects = args["webhook-side-effects"] as "None" | "NoneOnDryRun" | undefined;
      const converted = await convertFiles(results.map((r) => ({ path: r.file, text: r.text })), removedIn(kubeVersion(String(args["kube-version"]))), { ...(sideEffects && { webhookSideEffects: sideEffects }) });
      converted.files.forEach((f, i) => (results[i]!.text = f.text));
      reportConversions(converted, out);
    }
    for (const r of results) {
      const path = join(outDir, r.file);
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, r.text);
      } catch (err) {
        throw writeError(path, err);
      }
    }
    const changes = results.flatMap((r) => r.changes);
    out.result(
      changes.map((c) => `${c.finding.file}:${c.finding.line}  ${c.finding.raw} -> ${c.to}`).join("\n"),
      { files: results.map((r) => ({ file: r.file, changes: r.changes.map((c) => ({ line: c.finding.line, path: c.finding.path, from: c.finding.raw, to: c.to })) })) },
    );
    // Without the bundle, a reference pinned to a multi-platform index keeps that digest; a save that kept only
    // some platforms pushed another one, and the pinned digest would not resolve in the registry. Said once.
    const pinned = changes.filter((c) => c.finding.ref.digest !== undefined);
    if (args.bundle === undefined && pinned.length > 0) {
      out.warn(`${plural(pinned.length, "reference")} ${pinned.length === 1 ? "is" : "are"} pinned to a digest (first: ${pinned[0]!.finding.file}:${pinned[0]!.finding.line}); if the bundle kept only some platforms of an index, its load pushed another digest: give --bundle B to pin to what it pushed`);
    }
    out.info(`${plural(changes.length, "reference")} rewritten in ${plural(results.length, "file")} under ${outDir}`);
    return EXIT.OK;
  },
};

/** `repository@index digest` → the digest a load of the bundle pushed instead (platforms filtered at save). */
async function bundleRepins(args: Record<string, unknown>, out: Output): Promise<Map<string, string>> {
  const reader = await openVerifiedBundle(args, out);
  try {
    const repins = new Map<string, string>();
    for (const image of reader.bundle.images) {
      if (image.targetDigest !== undefined) repins.set(`${repositoryOf(parseReference(image.source))}@${image.digest}`, image.targetDigest);
    }
    return repins;
  } finally {
    await reader.close();
  }
}
