/**
 * `bundle images`: print the normalised, de-duplicated imagelist.
 */
import { plural } from "../../util/plural.js";
import { readImagelist } from "../../reference/imagelist.js";
import type { CommandSpec } from "../command.js";
import { EXIT } from "../output.js";

/** The `images` command. */
export const imagesCommand: CommandSpec = {
  command: "images",
  summary: "Print the normalised, de-duplicated image list",
  description:
    "Read an imagelist (one image reference per line, # comments), normalise every reference the way Docker does\n" +
    "(mysql:8.0 -> docker.io/library/mysql:8.0) and print the distinct images in file order.\n" +
    "Duplicates are dropped with a warning naming both lines; every invalid line is reported with its number.",
  examples: [
    ["bundle images", "List the images of ./imagelist"],
    ["bundle images --imagelist ai-devops.imagelist --json", "The same as JSON: [{source, normalized, line}]"],
  ],
  options: {
    imagelist: { type: "string", describe: "Image list file", default: "imagelist", requiresArg: true },
  },
  async run(args, out) {
    const list = await readImagelist(String(args.imagelist));
    out.warnProblems(list.warnings);
    out.result(
      list.entries.map((e) => e.normalized).join("\n"),
      list.entries.map((e) => ({ source: e.source, normalized: e.normalized, line: e.line })),
    );
    out.info(`${plural(list.entries.length, "image")}${list.warnings.length ? `, ${plural(list.warnings.length, "duplicate line")} dropped` : ""}`);
    return EXIT.OK;
  },
};
