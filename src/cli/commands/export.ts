/**
 * `bundle export`: one image of a bundle as a docker-archive (`docker load`) or an oci-archive (skopeo, podman).
 */
import { streamingGc } from "../runtime-tuning.js";
import type { CommandSpec } from "../command.js";
import { EXIT } from "../output.js";
import { progressFor } from "../progress.js";

/** The `export` command. */
export const exportCommand: CommandSpec = {
  command: "export <bundle> <ref>",
  summary: "Write one image of a bundle as a docker-archive or oci-archive file",
  description:
    "Write one image of the bundle (for one platform) as a file: docker-archive, for `docker load -i FILE`, or\n" +
    "oci-archive, for `skopeo copy oci-archive:FILE …` and podman. Every byte is checked against its digest as it\n" +
    "is read; the file is written under a temporary name and renamed only when complete.",
  examples: [
    ["bundle export bundles/ai-devops-5.1.0.tar mysql:8.0.27 --format docker-archive -o mysql.tar", "Then: docker load -i mysql.tar"],
    ["bundle export bundles/ai-devops-5.1.0.tar gcr.io/x/y:1 --format oci-archive -o y.tar --platform linux/arm64", "One platform of a multi-platform image"],
  ],
  positionals: {
    bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" },
    ref: { type: "string", describe: "The image, as in the imagelist (nginx:1.25 and docker.io/library/nginx:1.25 are the same)" },
  },
  options: {
    format: { type: "string", describe: "Archive format", choices: ["docker-archive", "oci-archive"], default: "docker-archive" },
    output: { type: "string", alias: "o", describe: "File to write", demandOption: true, requiresArg: true },
    platform: { type: "string", describe: "Platform of a multi-platform image (default: the only one kept, else linux/amd64)", requiresArg: true },
    force: { type: "boolean", describe: "Overwrite the file if it exists" },
  },
  async run(args, out) {
    const { exportImage } = await import("../../ops/export.js");
    streamingGc(true);
    const progress = out.json ? undefined : progressFor(out);
    const result = await exportImage({
      bundlePath: String(args.bundle),
      ref: String(args.ref),
      format: String(args.format) as "docker-archive" | "oci-archive",
      output: String(args.output),
      force: args.force === true,
      ...(args.platform !== undefined && { platform: String(args.platform) }),
      // One image: its failure is the command's error, said once by it (not also as a progress line).
      ...(progress && { onEvent: (e) => e.type !== "image-failed" && progress.event(e) }),
    }).finally(() => progress?.stop());
    out.result(`wrote ${result.output}: ${result.source} (${result.digest}) as ${String(args.format)}`, result);
    return EXIT.OK;
  },
};
