/**
 * `bundle inventory`: what a closed site holds, as a small file to carry out for `bundle save --since`.
 */
import { readFile } from "node:fs/promises";
import { AirgapError } from "../../errors.js";
import { parseRegistry } from "../../reference/target.js";
import { plural } from "../../util/plural.js";
import { formatBytes } from "../../util/size.js";
import type { CommandSpec } from "../command.js";
import { EXIT } from "../output.js";
import { REGISTRY_OPTIONS, registriesFrom } from "../registry-options.js";
import { targetLayoutOf, targetLayoutOption } from "../shared-options.js";

/** The `inventory` command. */
export const inventoryCommand: CommandSpec = {
  command: "inventory",
  summary: "Record what a registry (or a bundle) holds, for save --since to make a delta",
  description:
    "Run in the closed network: read every repository and tag of --registry (under its /PREFIX), each manifest and\n" +
    "the configs and layers it references, and write them, with sizes, to a small JSON file (no manifest bodies;\n" +
    "docs/inventory-format.md) and its .sha256 beside it. Carry the file out; `bundle save --since FILE` then\n" +
    "leaves out everything the site holds. Where /v2/_catalog is refused, name the repositories with --repos FILE,\n" +
    "or read those of a bundle with --from-bundle B; give the last bundle anyway when it names images by digest\n" +
    "(they have no tag in the registry, so only their digests find them). Without --registry, --from-bundle B\n" +
    "records what B put there.",
  examples: [
    ["bundle inventory --registry 10.0.0.5:5000 -o site-inventory.json", "Everything the site's registry holds"],
    ["bundle inventory --registry harbor.local/ai --from-bundle bundles/ai-devops-5.1.0.tar -o site.json", "Only the repositories of the last bundle (catalog refused)"],
    ["bundle inventory --from-bundle bundles/ai-devops-5.1.0.tar -o site.json", "The last bundle as the site's record"],
  ],
  options: {
    registry: { type: "string", describe: "The site's registry HOST[:PORT][/PREFIX]", requiresArg: true },
    repos: { type: "string", describe: "File naming the repositories to read, one per line (relative to the /PREFIX)", requiresArg: true },
    "from-bundle": { type: "string", describe: "A bundle: with --registry, also read its images' repositories and digests (images pulled by digest have no tag); without, record what it holds", requiresArg: true },
    ...targetLayoutOption("The layout the images were loaded with: host or strip-host"),
    output: { type: "string", alias: "o", describe: "File to write (and FILE.sha256 beside it)", demandOption: true, requiresArg: true },
    ...REGISTRY_OPTIONS,
  },
  async run(args, out, context) {
    const { bundleTargets, inventoryOfBundle, inventoryOfRegistry, writeInventory } = await import("../../ops/inventory.js");
    const layout = targetLayoutOf(args);
    if (args.registry === undefined && args["from-bundle"] === undefined) {
      throw new AirgapError("INVALID_ARGUMENT", "name what to record: --registry R, or --from-bundle B", { hint: "bundle inventory --registry 10.0.0.5:5000 -o site-inventory.json" });
    }
    let repositories: string[] | undefined;
    if (args.repos !== undefined) {
      const text = await readFile(String(args.repos), "utf8").catch(() => {
        throw new AirgapError("FILE_NOT_FOUND", `cannot read ${String(args.repos)}`);
      });
      repositories = text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => l !== "");
    }
    let inventory;
    let bundleRepositories: string[] | undefined;
    let digests: Array<{ repository: string; digest: string }> = [];
    let skipped: Array<{ text?: string; reason: string }> = [];
    if (args["from-bundle"] !== undefined) {
      const { BundleReader } = await import("../../bundle/reader.js");
      const reader = await BundleReader.open(String(args["from-bundle"]));
      try {
        if (args.registry === undefined) inventory = await inventoryOfBundle(reader, layout);
        else ({ repositories: bundleRepositories, digests } = bundleTargets(reader, layout));
      } finally {
        await reader.close();
      }
    }
    if (!inventory) {
      const registry = parseRegistry(String(args.registry));
      const connection = await registriesFrom(args, context, [registry.host]);
      try {
        const result = await inventoryOfRegistry({
          registry, host: connection.registries.host(registry.host), signal: context.signal, digests,
          ...(repositories && { repositories }),
          ...(bundleRepositories && { also: bundleRepositories }),
        });
        ({ inventory, skipped } = result);
      } finally {
        await connection.registries.close();
      }
    }
    for (const s of skipped) out.warn(`${s.text}: not recorded: ${s.reason}`);
    const output = String(args.output);
    const sha256 = await writeInventory(output, inventory);
    const repos = Object.keys(inventory.repositories).length;
    const tags = Object.values(inventory.repositories).reduce((n, r) => n + Object.keys(r.tags).length, 0);
    const bytes = Object.values(inventory.blobs).reduce((n, b) => n + b.size, 0);
    out.result(
      `${output}: ${plural(repos, "repository", "repositories")}, ${plural(tags, "tag")}, ${plural(Object.keys(inventory.manifests).length, "manifest")}, ` +
        `${plural(Object.keys(inventory.blobs).length, "config and layer", "configs and layers")} (${formatBytes(bytes)}) from ${inventory.source}`,
      { output, sha256, source: inventory.source, repositories: repos, tags, manifests: Object.keys(inventory.manifests).length, blobs: Object.keys(inventory.blobs).length, bytes },
    );
    return EXIT.OK;
  },
};
