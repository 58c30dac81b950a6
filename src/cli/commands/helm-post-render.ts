/**
 * `bundle helm-post-render` (not listed in help): Helm's post-renderer during `bundle install`. helm writes the
 * release's manifests to its stdin; every image reference comes back on stdout pointing at the private registry
 * (the same relocation `bundle rewrite` and the install's reference check use), nothing else changed. A manifest
 * it cannot read fails helm's install or upgrade before anything is applied.
 */
import { AirgapError } from "../../errors.js";
import { parseRegistry } from "../../reference/target.js";
import type { CommandSpec } from "../command.js";
import { EXIT } from "../output.js";
import { targetLayoutOf, targetLayoutOption } from "../shared-options.js";

/** Most bytes of manifests helm may hand over (as `helm template`'s output is bounded at save). */
const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** The `helm-post-render` command. */
export const helmPostRenderCommand: CommandSpec = {
  command: "helm-post-render",
  hidden: true,
  summary: "Helm's post-renderer during bundle install: image references on stdin relocated to the private registry",
  description: "Read Kubernetes manifests on stdin, write them on stdout with every image reference pointing at --registry.",
  examples: [],
  options: {
    registry: { type: "string", describe: "Private registry HOST[:PORT][/PREFIX]", demandOption: true, requiresArg: true },
    ...targetLayoutOption("The layout the load used"),
    repin: { type: "string", array: true, describe: "REPOSITORY@DIGEST=DIGEST: a pinned digest the registry holds as another", requiresArg: true },
  },
  async run(args, out, context) {
    const registry = parseRegistry(String(args.registry));
    const repins = new Map<string, string>();
    for (const r of (args.repin as string[] | undefined) ?? []) {
      const at = r.lastIndexOf("=");
      if (at < 0) throw new AirgapError("INVALID_ARGUMENT", `--repin ${r}: not REPOSITORY@DIGEST=DIGEST`);
      repins.set(r.slice(0, at), r.slice(at + 1));
    }
    const text = await context.readStdin(MAX_INPUT_BYTES, "helm's rendered manifests");
    const [{ scanManifest }, { relocation, rewriteManifest }] = await Promise.all([import("../../kube/scan.js"), import("../../kube/rewrite.js")]);
    const rewritten = rewriteManifest(scanManifest("helm's rendered manifests", text), relocation(registry, targetLayoutOf(args), repins));
    out.resultStream.write(rewritten.text);
    return EXIT.OK;
  },
};
