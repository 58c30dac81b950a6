/**
 * `bundle scan`: the image references the manifests use, and how they match the imagelist.
 */
import { plural } from "../../util/plural.js";
import { readImagelist } from "../../reference/imagelist.js";
import type { CommandSpec } from "../command.js";
import { MANIFEST_SIZE_OPTION, maxManifestBytes } from "../manifest-options.js";
import { EXIT } from "../output.js";

/** The `scan` command. */
export const scanCommand: CommandSpec = {
  command: "scan",
  summary: "List the images the manifests use; report those the imagelist lacks",
  description:
    "Find every image reference in the manifests (containers, keys named image or ending in Image, JSON and YAML\n" +
    "held in strings) and match it to the imagelist. Prints each reference with file:line, then what the imagelist\n" +
    "lacks (with the nearest entry) and what no manifest uses. Exits 1 when something is missing.",
  examples: [
    ["bundle scan", "Check ./manifests against ./imagelist"],
    ["bundle scan --manifests examples/demo/manifests --imagelist examples/demo/imagelist --json", "The same as JSON"],
  ],
  options: {
    manifests: { type: "string", describe: "Folder of Kubernetes manifests", default: "manifests", requiresArg: true },
    imagelist: { type: "string", describe: "Image list file", default: "imagelist", requiresArg: true },
    ...MANIFEST_SIZE_OPTION,
  },
  async run(args, out) {
    // Loaded on use: the YAML parser costs start-up time that other commands need not pay.
    const [{ checkCoverage }, { scanManifestDir }, { findingName }] = await Promise.all([
      import("../../kube/coverage.js"),
      import("../../kube/files.js"),
      import("../../kube/scan.js"),
    ]);
    const scans = await scanManifestDir(String(args.manifests), true, maxManifestBytes(args));
    const list = await readImagelist(String(args.imagelist));
    out.warnProblems(list.warnings);
    const findings = scans.flatMap((s) => s.findings);
    const coverage = checkCoverage(findings, list.entries);
    const where = (file: string, line: number) => `${file}:${line}`;
    const rows = findings.map((f) => [where(f.file, f.line), f.kind === "repository" ? `${findingName(f)} (repository)` : findingName(f), f.path] as const);
    const widths = [0, 1].map((i) => rows.reduce((w, r) => Math.max(w, r[i]!.length), 0));
    const lines = rows.map(([w, name, path]) => `${w.padEnd(widths[0]!)}  ${name.padEnd(widths[1]!)}  ${path}`);
    if (coverage.missing.length > 0) {
      lines.push("", `missing from the imagelist (${coverage.missing.length}):`);
      for (const m of coverage.missing) {
        lines.push(`  ${where(m.finding.file, m.finding.line)}  ${m.name}${m.nearest ? `  nearest: ${m.nearest.normalized} (${list.file}:${m.nearest.line})` : ""}`);
      }
    }
    if (coverage.unused.length > 0) {
      lines.push("", `not used by any manifest (${coverage.unused.length}):`);
      for (const e of coverage.unused) lines.push(`  ${list.file}:${e.line}  ${e.normalized}`);
    }
    for (const e of coverage.sandbox) out.info(`${list.file}:${e.line}: ${e.normalized} is the pause image every pod sandbox runs (bundle node-config prints the nodes' sandbox_image line for it)`);
    for (const scan of scans) for (const i of scan.ignored) out.info(`${i.file}:${i.line}: ${i.path}: "${i.value}" is not an image reference (${i.reason})`);
    out.result(lines.join("\n"), {
      findings: findings.map((f) => ({ file: f.file, line: f.line, path: f.path, document: f.document, reference: f.raw, normalized: findingName(f), kind: f.kind })),
      missing: coverage.missing.map((m) => ({ file: m.finding.file, line: m.finding.line, reference: m.finding.raw, normalized: m.name, nearest: m.nearest ? { normalized: m.nearest.normalized, line: m.nearest.line } : null })),
      unused: coverage.unused.map((e) => ({ normalized: e.normalized, line: e.line })),
      ignored: scans.flatMap((s) => s.ignored),
    });
    const holding = new Set(findings.map((f) => f.file)).size;
    out.info(`${plural(findings.length, "reference")} in ${holding === scans.length ? plural(scans.length, "file") : `${holding} of ${plural(scans.length, "file")}`}; ${coverage.missing.length} missing from the imagelist, ${plural(coverage.unused.length, "imagelist entry", "imagelist entries")} unused`);
    return coverage.missing.length > 0 ? EXIT.FAILURE : EXIT.OK;
  },
};
