/**
 * Which Helm charts a save carries: `--chart SPEC` (repeatable) and `--charts FILE`, one SPEC a line
 * (docs/charts.md). A SPEC is one of
 * - `oci://HOST/PATH/NAME:VERSION` — a chart in an OCI registry;
 * - `https://REPO-URL NAME VERSION` — a classic chart repository (its `index.yaml`);
 * - a local `.tgz` (a packaged chart) or a chart's folder.
 * In the file, a line may go on with `--values FILE` (repeatable; relative to the file's folder), `--release NAME`
 * and `--namespace NS` (what `install` installs it as; the chart's name and `default` when not given).
 * Every bad line is reported at once, with its number.
 */
import { dirname, isAbsolute, join } from "node:path";
import { AirgapError, type Problem } from "../errors.js";
import { parseReference, type Reference } from "../reference/reference.js";
import { printable } from "../util/printable.js";
import { readSmallFile } from "../util/small-file.js";

/** Largest charts file read (one chart a line). */
const MAX_CHARTS_FILE_BYTES = 4 * 1024 * 1024;

/** Where a chart comes from. */
export type ChartOrigin =
  | { kind: "oci"; ref: Reference; url: string }
  | { kind: "repository"; url: string; name: string; version: string }
  | { kind: "local"; path: string };

/** One chart to carry. */
export interface ChartSpec {
  origin: ChartOrigin;
  /** Values files, in the order Helm merges them (later wins). */
  values: string[];
  /** Release name at install (default: the chart's name). */
  release?: string;
  /** Namespace at install (default: `default`). */
  namespace?: string;
  /** Where it was given: `--chart` or `FILE:LINE`. */
  from: string;
}

/** A Kubernetes name: a release's or a namespace's. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A chart's name and version as a chart repository's index lists them. */
const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Parses the words of one SPEC (and, in a file, its options); throws INVALID_CHARTS with the reason. */
export function parseChartSpec(words: string[], from: string, baseDir = "."): ChartSpec {
  const fail = (reason: string): never => {
    throw new AirgapError("INVALID_CHARTS", `${from}: ${reason}`, { hint: "a chart is oci://HOST/PATH/NAME:VERSION, https://REPO-URL NAME VERSION, or a local .tgz or folder (docs/charts.md)" });
  };
  const first = words[0];
  if (first === undefined) return fail("no chart given");
  const positional: string[] = [first];
  const spec: Omit<ChartSpec, "origin"> = { values: [], from };
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith("--")) {
      positional.push(word);
      continue;
    }
    const value = words[++i];
    if (value === undefined || value.startsWith("--")) return fail(`${word} needs a value`);
    if (word === "--values") spec.values.push(isAbsolute(value) ? value : join(baseDir, value));
    else if (word === "--release") spec.release = DNS_LABEL.test(value) && value.length <= 53 ? value : fail(`--release ${printable(value)}: a release name is lower-case letters, digits and -, at most 53`);
    else if (word === "--namespace") spec.namespace = DNS_LABEL.test(value) && value.length <= 63 ? value : fail(`--namespace ${printable(value)} is not a namespace name`);
    else return fail(`unknown option ${printable(word)} (a line takes --values, --release and --namespace)`);
  }
  return { origin: originOf(positional, baseDir, fail), ...spec };
}

function originOf(words: string[], baseDir: string, fail: (reason: string) => never): ChartOrigin {
  const [first, ...rest] = words as [string, ...string[]];
  if (first.startsWith("oci://")) {
    if (rest.length > 0) fail(`${printable(first)}: an OCI chart is one word (NAME:VERSION at its end), not followed by ${printable(rest.join(" "))}`);
    let ref: Reference;
    try {
      ref = parseReference(first.slice("oci://".length));
    } catch (err) {
      return fail(`${printable(first)}: ${(err as Error).message}`);
    }
    if (!/:[^/]+$/.test(first.slice("oci://".length).split("@")[0]!)) fail(`${printable(first)}: name the chart's version (oci://HOST/PATH/NAME:VERSION)`);
    return { kind: "oci", ref, url: first };
  }
  if (/^https?:\/\//.test(first)) {
    const [name, version, ...more] = rest;
    if (name === undefined || version === undefined || more.length > 0) fail(`${printable(first)}: a chart repository is followed by the chart's name and version (https://REPO-URL NAME VERSION)`);
    try {
      new URL(first);
    } catch {
      fail(`${printable(first)} is not a URL`);
    }
    if (!CHART_NAME.test(name!)) fail(`${printable(name!)} is not a chart name`);
    if (!VERSION.test(version!)) fail(`${printable(version!)} is not a chart version`);
    return { kind: "repository", url: first.replace(/\/+$/, ""), name: name!, version: version! };
  }
  if (first.includes("://")) fail(`${printable(first)}: charts come from oci://, https:// or a local path`);
  if (rest.length > 0) fail(`${printable(first)}: a local chart is one path, not followed by ${printable(rest.join(" "))}`);
  return { kind: "local", path: isAbsolute(first) ? first : join(baseDir, first) };
}

/** Splits a line into words: white space apart, `"…"` or `'…'` keeping spaces (a path with a space). */
function words(line: string): string[] | undefined {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[3]?.includes('"') || m[3]?.includes("'")) return undefined;
    out.push(m[1] ?? m[2] ?? m[3]!);
  }
  return out;
}

/** Parses a charts file's text: `#` comments, blank lines; every bad line at once. */
export function parseChartsFile(text: string, file: string): ChartSpec[] {
  const specs: ChartSpec[] = [];
  const problems: Problem[] = [];
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/(^|\s)#.*$/, "").trim();
    if (content === "") return;
    const split = words(content);
    if (!split) {
      problems.push({ file, line, text: printable(content), reason: "an unclosed quote" });
      return;
    }
    try {
      specs.push(parseChartSpec(split, `${file}:${line}`, dirname(file)));
    } catch (err) {
      problems.push({ file, line, text: printable(content), reason: (err as Error).message.replace(`${file}:${line}: `, "") });
    }
  });
  if (problems.length > 0) throw new AirgapError("INVALID_CHARTS", `${file}: ${problems.length} bad line${problems.length === 1 ? "" : "s"}`, { problems, hint: "fix the lines listed (docs/charts.md has the format)" });
  return specs;
}

/** Reads a charts file; FILE_NOT_FOUND when it is not there, INVALID_ARGUMENT when it is not a small regular file. */
export async function readChartsFile(file: string): Promise<ChartSpec[]> {
  return parseChartsFile((await readSmallFile(file, MAX_CHARTS_FILE_BYTES, "--charts")).toString("utf8"), file);
}
