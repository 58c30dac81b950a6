/**
 * Helm charts at save: each chart of `--chart`/`--charts` fetched (an OCI registry through the registry client with
 * its auth and mirrors; a classic chart repository through its `index.yaml` over HTTPS with the same TLS settings;
 * a local archive or folder), its digest checked, kept as an OCI artifact in Helm's media types, and the images it
 * deploys found: rendered with `helm template` when `helm` is on the PATH, else from its values; and from the
 * `helm.sh/images` annotation either way.
 */
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { createHash } from "node:crypto";
import { AirgapError } from "../errors.js";
import { readCapped } from "../registry/errors.js";
import { readSmallFile } from "../util/small-file.js";
import type { ReadOnlyTarget } from "../content/target.js";
import { chartArtifact, chartParts, chartTag, type ChartArtifact } from "../charts/artifact.js";
import { MAX_CHART_BYTES, packChartFolder } from "../charts/archive.js";
import { annotatedImages, mergeValues, readChart, valueImages, type Chart, type NamedImage } from "../charts/chart.js";
import { renderChart } from "../charts/render.js";
import type { ChartSpec } from "../charts/spec.js";
import type { FileScan, ImageFinding } from "../kube/finding.js";
import { scanManifest } from "../kube/scan.js";
import { loadDocuments } from "../kube/yaml.js";
import { rewriteManifest } from "../kube/rewrite.js";
import { findingName } from "../kube/finding.js";
import type { Coverage } from "../kube/coverage.js";
import type { Descriptor } from "../oci/descriptor.js";
import { ENTRY, type BundleChart } from "../bundle/format.js";
import type { ManifestFileInput } from "../bundle/writer.js";
import type { Reference } from "../reference/reference.js";
import type { Registries } from "../registry/registries.js";

/** A chart ready to go into a bundle. */
export interface CarriedChart {
  spec: ChartSpec;
  chart: Chart;
  artifact: ChartArtifact;
  /** The chart's archive (the artifact's chart layer). */
  tgz: Buffer;
  /** The values files' bytes, in order. */
  values: Array<{ path: string; bytes: Buffer }>;
  /** Every image it deploys, as findings of the file `chart NAME VERSION`. */
  findings: ImageFinding[];
  /** How its images were found: `rendered` by helm, or read from its `values` (no helm on the PATH). */
  found: "rendered" | "values";
  /** Its templates as helm rendered them with its values, scanned (empty without helm). */
  rendered: FileScan[];
}

/** What gathering charts needs. */
export interface ChartContext {
  registries: Registries;
  /** Where an OCI chart is read from: its registry, or a mirror of it. */
  sourceFor: (ref: Reference, label: string) => ReadOnlyTarget;
  /** The helm binary (undefined: none on the PATH). */
  helm: string | undefined;
  signal?: AbortSignal;
}

/** Largest chart repository index read (a big public repository's is tens of MB). */
const MAX_INDEX_BYTES = 128 * 1024 * 1024;
/** Largest Helm config (Chart.yaml as JSON). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** The chart's name as the messages give it: where it came from. */
export function chartLabel(spec: ChartSpec): string {
  const o = spec.origin;
  return o.kind === "oci" ? o.url : o.kind === "repository" ? `${o.url} ${o.name} ${o.version}` : o.path;
}

/** Fetches, checks and reads every chart; the images each deploys found. */
export async function gatherCharts(specs: readonly ChartSpec[], context: ChartContext): Promise<CarriedChart[]> {
  const out: CarriedChart[] = [];
  for (const spec of specs) out.push(await gatherChart(spec, context));
  const seen = new Map<string, CarriedChart>();
  for (const c of out) {
    const key = `${c.chart.metadata.name}:${c.chart.metadata.version}`;
    const first = seen.get(key);
    if (first && first.artifact.manifest.descriptor.digest !== c.artifact.manifest.descriptor.digest) {
      throw new AirgapError("INVALID_CHARTS", `${spec(c)} and ${spec(first)} are both chart ${key}, with different contents`, { hint: "carry one of them: they would go to the same place in the private registry" });
    }
    seen.set(key, c);
  }
  return out;
}

const spec = (c: CarriedChart) => `${c.spec.from} (${chartLabel(c.spec)})`;

async function gatherChart(spec: ChartSpec, context: ChartContext): Promise<CarriedChart> {
  const label = chartLabel(spec);
  const { artifact, tgz } = await fetchChart(spec, label, context);
  const chart = readChart(tgz, label);
  const o = spec.origin;
  if (o.kind === "repository" && (chart.metadata.name !== o.name || chart.metadata.version !== o.version)) {
    throw new AirgapError("INVALID_CHART", `${label}: the archive holds ${chart.metadata.name} ${chart.metadata.version}`, { hint: "the repository's index.yaml points at another chart" });
  }
  const values = await Promise.all(spec.values.map(async (path) => ({ path, bytes: await readSmallFile(path, MAX_CHART_BYTES, `${spec.from}: --values`) })));
  let userValues: Record<string, unknown> = {};
  for (const v of values) {
    const [doc] = loadDocuments(v.bytes.toString("utf8"), v.path);
    if (doc !== undefined && doc !== null && (typeof doc !== "object" || Array.isArray(doc))) throw new AirgapError("INVALID_CHARTS", `${v.path}: values are a map of keys`);
    userValues = mergeValues(userValues, (doc ?? {}) as Record<string, unknown>);
  }
  const where = `chart ${chart.metadata.name} ${chart.metadata.version}`;
  const named = annotatedImages(chart, label);
  let rendered: FileScan[] = [];
  if (context.helm) {
    const files = await renderChart(context.helm, tgz, { release: spec.release ?? chart.metadata.name, namespace: spec.namespace ?? "default", values: values.map((v) => v.bytes), label });
    rendered = files.map((r) => scanManifest(r.file, r.text));
    for (const f of rendered.flatMap((r) => r.findings)) f.origin = where;
  } else {
    named.push(...valueImages(chart, userValues));
  }
  const findings = rendered.flatMap((r) => r.findings);
  const known = new Set(findings.map((f) => `${f.ref.domain}/${f.ref.path}:${f.ref.tag ?? ""}@${f.ref.digest ?? ""}`));
  for (const n of named) {
    const key = `${n.ref.domain}/${n.ref.path}:${n.ref.tag ?? ""}@${n.ref.digest ?? ""}`;
    if (known.has(key)) continue;
    known.add(key);
    findings.push(namedFinding(n, where));
  }
  return { spec, chart, artifact, tgz, values, findings, found: context.helm ? "rendered" : "values", rendered };
}

/** An image a chart names outside its templates, as a finding. */
function namedFinding(n: NamedImage, origin: string): ImageFinding {
  return { file: n.where, line: 0, path: n.where, document: 0, raw: n.raw, ref: n.ref, kind: "image", start: 0, end: 0, origin };
}

async function fetchChart(spec: ChartSpec, label: string, context: ChartContext): Promise<{ artifact: ChartArtifact; tgz: Buffer }> {
  const o = spec.origin;
  if (o.kind === "oci") {
    const source = context.sourceFor(o.ref, label);
    const top = await source.resolve(o.ref, context.signal);
    const parts = chartParts(top.bytes, label);
    const config = await source.fetchBytes(parts.config, MAX_CONFIG_BYTES, context.signal);
    const tgz = await source.fetchBytes(parts.chart, MAX_CHART_BYTES, context.signal);
    const others = await Promise.all(parts.others.map(async (d) => ({ descriptor: d, bytes: await source.fetchBytes(d, MAX_CHART_BYTES, context.signal) })));
    return { artifact: { manifest: top, config: { descriptor: parts.config, bytes: config }, layers: [{ descriptor: parts.chart, bytes: tgz }, ...others] }, tgz };
  }
  let tgz: Buffer;
  if (o.kind === "repository") {
    tgz = await fromRepository(o, label, context);
  } else {
    const info = await stat(o.path).catch(() => undefined);
    if (!info) throw new AirgapError("FILE_NOT_FOUND", `${spec.from}: ${o.path}: no such chart archive or folder`);
    if (info.isDirectory()) {
      const chartYaml = await readFile(`${o.path}/Chart.yaml`, "utf8").catch(() => undefined);
      if (chartYaml === undefined) throw new AirgapError("INVALID_CHART", `${o.path}: no Chart.yaml in it: not a chart's folder`);
      const [meta] = loadDocuments(chartYaml, `${o.path}/Chart.yaml`);
      const name = (meta as { name?: unknown } | undefined)?.name;
      if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new AirgapError("INVALID_CHART", `${o.path}/Chart.yaml names no chart`);
      tgz = await packChartFolder(o.path, name);
    } else {
      tgz = await readSmallFile(o.path, MAX_CHART_BYTES, `${spec.from}: the chart archive`);
    }
  }
  return { artifact: chartArtifact(readChart(tgz, label).metadata, tgz), tgz };
}

/** A chart from a classic repository: its entry in `index.yaml`, its archive, checked against the index's digest. */
async function fromRepository(o: Extract<ChartSpec["origin"], { kind: "repository" }>, label: string, context: ChartContext): Promise<Buffer> {
  const get = async (url: URL, what: string, max: number) => {
    const res = await context.registries.host(url.host).send(url.href, { what, noAuth: false, ...(context.signal && { signal: context.signal }) });
    return readCapped(res.body, max, what);
  };
  const indexUrl = new URL(`${o.url}/index.yaml`);
  const indexText = (await get(indexUrl, `reading ${indexUrl.href}`, MAX_INDEX_BYTES)).toString("utf8");
  const [index] = loadDocuments(indexText, indexUrl.href);
  const entries = (index as { entries?: Record<string, unknown> } | undefined)?.entries?.[o.name];
  if (!Array.isArray(entries)) throw new AirgapError("NOT_FOUND", `${label}: ${indexUrl.href} lists no chart ${o.name}`);
  const entry = entries.find((e) => typeof e === "object" && e !== null && String((e as { version?: unknown }).version) === o.version) as { urls?: unknown; digest?: unknown } | undefined;
  if (!entry) {
    const versions = entries.slice(0, 5).map((e) => String((e as { version?: unknown }).version)).join(", ");
    throw new AirgapError("NOT_FOUND", `${label}: ${indexUrl.href} has no version ${o.version} of ${o.name} (it has ${versions}${entries.length > 5 ? ", …" : ""})`);
  }
  const first = Array.isArray(entry.urls) ? entry.urls[0] : undefined;
  if (typeof first !== "string") throw new AirgapError("INVALID_CHART", `${label}: ${indexUrl.href} gives no URL for it`);
  const url = new URL(first, `${o.url}/`);
  const tgz = await get(url, `fetching ${url.href}`, MAX_CHART_BYTES);
  const want = typeof entry.digest === "string" ? entry.digest.replace(/^sha256:/, "").toLowerCase() : undefined;
  const got = createHash("sha256").update(tgz).digest("hex");
  if (want === undefined) throw new AirgapError("INVALID_CHART", `${label}: ${indexUrl.href} gives no digest for it, so what arrived cannot be checked`, { hint: "ask the repository's owner to regenerate its index (helm repo index writes digests), or save the chart as a local .tgz you checked" });
  if (want !== got) throw new AirgapError("DIGEST_MISMATCH", `${label}: ${url.href} is sha256:${got}, but ${indexUrl.href} says sha256:${want}; refused`, { hint: "the archive or the index was changed after the index was made: ask the repository's owner" });
  return tgz;
}

/** Where a chart goes in the private registry, below its prefix: `charts/NAME`, tagged with its version. */
export function chartTarget(c: { name: string; version: string }): { path: string; tag: string } {
  return { path: `charts/${c.name}`, tag: chartTag(c.version) };
}

/**
 * A chart's entry of bundle.json, its manifest's descriptor (for index.json) and the files it carries: its values
 * files, and its rendering at save with every reference rewritten by `target` as the manifests' are.
 */
export function bundleChart(c: CarriedChart, coverage: Coverage, target: (f: ImageFinding) => string): { json: BundleChart; manifest: Descriptor; files: ManifestFileInput[] } {
  const { name, version } = c.chart.metadata;
  const { path, tag } = chartTarget({ name, version });
  const dir = `${ENTRY.chartsDir}${name}-${version}/`;
  const files = c.values.map((v, i) => ({ path: `${dir}values/${i + 1}-${basename(v.path).replace(/[^A-Za-z0-9._-]/g, "_")}`, content: v.bytes }));
  const renderedPath = `${dir}rendered.yaml`;
  const images = [...new Set(c.findings.map((f) => coverage.uses.get(f)?.[0]?.normalized ?? findingName(f)))];
  // A local chart's path is the saving machine's: only its name travels.
  const source = c.spec.origin.kind === "local" ? basename(c.spec.origin.path) : chartLabel(c.spec);
  return {
    json: {
      name, version, source, digest: c.artifact.manifest.descriptor.digest, chartDigest: c.artifact.layers[0]!.descriptor.digest,
      target: `${path}:${tag}`, release: c.spec.release ?? name, namespace: c.spec.namespace ?? "default",
      values: files.map((f) => f.path), images, found: c.found,
      ...(c.found === "rendered" && { rendered: renderedPath }),
    },
    manifest: c.artifact.manifest.descriptor,
    files: c.found === "rendered"
      ? [...files, { path: renderedPath, content: Buffer.from(c.rendered.map((scan) => rewriteManifest(scan, target).text).join("\n")) }]
      : files,
  };
}
