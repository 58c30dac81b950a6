/**
 * `bundle inspect`: what a bundle holds, from bundle.json and the tar index alone (instant on 10 GB).
 */
import { BundleReader } from "../../bundle/reader.js";
import { ENTRY } from "../../bundle/format.js";
import { checkAgreement } from "../../bundle/format-check.js";
import { formatBytes } from "../../util/size.js";
import type { CommandSpec } from "../command.js";
import { EXIT } from "../output.js";

/** The `inspect` command. */
export const inspectCommand: CommandSpec = {
  command: "inspect <bundle>",
  summary: "Show what a bundle holds: images, targets, platforms, charts, manifests, sizes",
  description: "Print a bundle's name, version, creation, tool version, platforms, every image (source, target path, digest,\nplatforms, size), the Helm charts (version, digest, images), the manifests and the images they use, and blob count, bytes and the deduplication ratio.",
  examples: [["bundle inspect bundles/ai-devops-5.1.0.tar", "Describe a bundle"], ["bundle inspect bundles/ai-devops-5.1.0.tar --json", "The same as JSON"]],
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: {},
  async run(args, out) {
    const reader = await BundleReader.open(String(args.bundle));
    try {
      // A bundle whose own files disagree is not described as if it were sound.
      checkAgreement(reader.bundle, reader.index, reader.manifestFiles(), reader.path, reader.chartFiles());
      const b = reader.bundle;
      const blobEntries = [...reader.entries.values()].filter((e) => e.type === "file" && e.name.startsWith(ENTRY.blobsDir));
      const blobBytes = blobEntries.reduce((n, e) => n + e.size, 0);
      const imageBytes = b.images.reduce((n, i) => n + i.size, 0);
      const ratio = blobBytes > 0 ? imageBytes / blobBytes : 1;
      const lines = [
        `bundle:     ${b.name} ${b.version}`,
        `created:    ${b.created} by ${b.tool.name} ${b.tool.version}`,
        `platforms:  ${b.platforms.join(", ")}`,
        `blobs:      ${blobEntries.length}, ${formatBytes(blobBytes)} (${formatBytes(imageBytes)} without dedup, ${ratio.toFixed(2)}×)`,
        `size:       ${formatBytes(reader.tar.size)} in ${reader.tar.parts.length} file${reader.tar.parts.length === 1 ? "" : "s"}`,
        ...(b.base
          ? [
              `delta of:   ${b.base.inventories.map((i) => `${i.source} (inventory sha256 ${i.sha256.slice(0, 12)}…, ${i.created})`).join("; ")}`,
              `external:   ${b.base.external.count} configs and layers, ${formatBytes(b.base.external.bytes)}, left out: the site holds them (load checks they are there)`,
            ]
          : []),
        "",
        `images (${b.images.length}):`,
        ...b.images.map((i) => `  ${i.transport === "docker-daemon" ? "docker-daemon:" : ""}${i.source}\n    -> {{REGISTRY}}/${i.target}\n    ${i.targetDigest ? `${i.digest} → ${i.targetDigest} (pushed: platforms filtered)` : i.digest}  ${Object.keys(i.platformDigests).join(", ") || "-"}  ${formatBytes(i.size)}${i.mirror ? `\n    served by the mirror ${i.mirror}` : ""}`),
      ];
      if ((b.referrers ?? []).length > 0) {
        lines.push("", `attached (${b.referrers!.length}): signatures, attestations, SBOMs and other referrers, pushed after their image`);
        for (const image of b.images) {
          const mine = b.referrers!.filter((r) => r.subject === image.source);
          if (mine.length > 0) lines.push(`  ${image.source}`, ...mine.map((r) => `    ${r.kind}${r.artifactType ? ` ${r.artifactType}` : ""}  ${r.digest}${r.tag ? `  (tag ${r.tag})` : ""}`));
        }
      }
      if ((b.charts ?? []).length > 0) {
        lines.push("", `charts (${b.charts!.length}): Helm charts, pushed to {{REGISTRY}}/charts/NAME:VERSION`);
        for (const c of b.charts!) {
          lines.push(
            `  ${c.name} ${c.version}  from ${c.source}`,
            `    -> {{REGISTRY}}/${c.target}  ${c.digest}  (chart ${c.chartDigest})`,
            `    release ${c.release} in ${c.namespace}${c.values.length > 0 ? `, values ${c.values.join(", ")}` : ""}`,
            `    images (${c.images.length}${c.found === "values" ? ", read from its values: helm was not on the PATH at save" : ""}): ${c.images.join(", ") || "-"}`,
          );
        }
      }
      if (b.manifests.length > 0) {
        lines.push("", `manifests (${b.manifests.length}):`, ...b.manifests.map((m) => `  ${m.path}${m.images.length ? `: ${m.images.join(", ")}` : ""}`));
      }
      out.result(lines.join("\n"), { ...b, blobs: { count: blobEntries.length, bytes: blobBytes }, imageBytes, dedupRatio: Number(ratio.toFixed(4)), files: reader.tar.parts.map((p) => p.path) });
      return EXIT.OK;
    } finally {
      await reader.close();
    }
  },
};
