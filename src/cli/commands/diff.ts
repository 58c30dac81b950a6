/**
 * `bundle diff A B`: images added, removed and changed between two bundles or inventories, and the bytes new and shared.
 */
import { formatBytes } from "../../util/size.js";
import type { CommandSpec } from "../command.js";
import { EXIT } from "../output.js";
import { formatTable } from "../table.js";

/** The `diff` command. */
export const diffCommand: CommandSpec = {
  command: "diff <a> <b>",
  summary: "What changes from A to B (bundles or inventories): images added, removed, changed; bytes new and shared",
  description:
    "Compare two bundles, two inventories (bundle inventory), or one of each, in either order. Images are named as a\n" +
    "load names them below the registry (repository:tag). Changed: a tag that names another digest. New bytes: the\n" +
    "configs and layers of B that A lacks — what `bundle save --since A` would carry for B.",
  examples: [
    ["bundle diff bundles/ai-devops-5.1.0.tar bundles/ai-devops-5.2.0.tar", "What the upgrade changes"],
    ["bundle diff site-inventory.json bundles/ai-devops-5.2.0.tar --json", "What the site lacks, for a script"],
  ],
  positionals: {
    a: { type: "string", describe: "The older side: a bundle or an inventory file" },
    b: { type: "string", describe: "The newer side: a bundle or an inventory file" },
  },
  options: {},
  async run(args, out) {
    const { diffFiles } = await import("../../ops/diff.js");
    const d = await diffFiles(String(args.a), String(args.b));
    const short = (digest?: string) => digest?.slice(0, 19) ?? "";
    const rows = [
      ...d.added.map((c) => ["added", c.image, "", short(c.to)]),
      ...d.removed.map((c) => ["removed", c.image, short(c.from), ""]),
      ...d.changed.map((c) => ["changed", c.image, short(c.from), short(c.to)]),
    ];
    const table = rows.length > 0 ? formatTable(["CHANGE", "IMAGE", "FROM", "TO"], rows) : "no image added, removed or changed";
    out.result(
      `${table}\n${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged; ` +
        `${formatBytes(d.newBlobs.bytes)} new in ${d.newBlobs.count} configs and layers, ${formatBytes(d.sharedBlobs.bytes)} shared (${d.sharedBlobs.count})`,
      d,
    );
    return EXIT.OK;
  },
};
