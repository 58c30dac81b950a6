/**
 * `bundle verify`: check a bundle before and after carrying it.
 */
import { plural } from "../../util/plural.js";
import { formatBytes } from "../../util/size.js";
import { BundleReader } from "../../bundle/reader.js";
import { verifyBundle } from "../../ops/verify.js";
import type { CommandSpec } from "../command.js";
import { progressFor } from "../progress.js";
import { IMAGE_KEY_OPTIONS, imageKeyOption, KEY_OPTION, publicKeyOption } from "../keys.js";
import { reportImageSignatures } from "../image-signatures.js";
import { EXIT } from "../output.js";

/** The `verify` command. */
export const verifyCommand: CommandSpec = {
  command: "verify <bundle>",
  summary: "Check a bundle: its .sha256 (fast) or every blob and cross-reference (--deep)",
  description:
    "Check the bundle against its NAME-VERSION.tar.sha256 (the same verdict as `sha256sum -c`), for the tar or each\n" +
    "of its parts. With --deep, also re-hash every blob against its name, check that every manifest's config and\n" +
    "layers (and every kept index entry) are present, and that bundle.json, index.json and SHA256SUMS agree.\n" +
    "Every problem is reported with the entry it concerns.",
  examples: [
    ["bundle verify bundles/ai-devops-5.1.0.tar", "The fast check"],
    ["bundle verify bundles/ai-devops-5.1.0.tar.001 --deep", "Everything, for a split bundle"],
  ],
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: { deep: { type: "boolean", describe: "Re-hash every blob and cross-check the bundle's own files" }, ...KEY_OPTION, ...IMAGE_KEY_OPTIONS },
  async run(args, out) {
    const reader = await BundleReader.open(String(args.bundle));
    try {
      const key = await publicKeyOption(args);
      const imageKey = await imageKeyOption(args);
      const progress = args.deep === true && !out.json ? progressFor(out) : undefined;
      const result = await verifyBundle(reader, { deep: args.deep === true, ...(key && { key }), ...(progress && { onEvent: (e) => progress.event(e) }) }).finally(() => progress?.stop());
      const base = reader.bundle.base;
      const delta = base ? `; a delta: ${plural(base.external.count, "config and layer", "configs and layers")} (${formatBytes(base.external.bytes)}) left out, held by the site` : "";
      if (imageKey) await reportImageSignatures(reader, imageKey, args["require-signatures"] === true, out);
      out.result(`OK ${reader.path}: ${result.files.join(", ")} ${result.files.length === 1 ? "matches its checksum" : "match their checksums"}${result.deep ? `; ${plural(result.blobs, "blob")} re-hashed, every reference present` : ""}${delta}${result.signedBy ? `; signed by ${result.signedBy}` : ""}`, { ok: true, ...result, ...(base && { external: base.external }) });
      return EXIT.OK;
    } finally {
      await reader.close();
    }
  },
};
