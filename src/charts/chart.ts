/**
 * A chart read from its archive: its Chart.yaml, its values, its dependencies (each must be packed in `charts/`,
 * as `helm dependency build` leaves them), and the images it names without being rendered — the `helm.sh/images`
 * annotation of Chart.yaml (HIP-0015) and image-shaped values (`image.repository` + `image.tag`, a
 * `global.imageRegistry` in front). Rendering with `helm template` is charts/render.ts.
 */
import { AirgapError } from "../errors.js";
import { loadDocuments } from "../kube/yaml.js";
import { parseReference, type Reference } from "../reference/reference.js";
import { readChartArchive, type ChartFiles } from "./archive.js";

/** What Chart.yaml says that we use. */
export interface ChartMetadata {
  apiVersion: string;
  name: string;
  version: string;
  appVersion?: string;
  description?: string;
  annotations?: Record<string, string>;
  dependencies?: Array<{ name: string; alias?: string; condition?: string }>;
  /** Everything else Chart.yaml holds, kept as it is (Helm's OCI config is all of it as JSON). */
  [key: string]: unknown;
}

/** A chart and its packed dependencies. */
export interface Chart {
  metadata: ChartMetadata;
  /** values.yaml as data (an empty map when absent). */
  values: Record<string, unknown>;
  /** Dependencies, by the name their parent's values use for them (alias, else name). */
  dependencies: Map<string, Chart>;
}

/** An image a chart names without rendering, and where. */
export interface NamedImage {
  ref: Reference;
  raw: string;
  /** `annotation` (helm.sh/images) or the values path, e.g. `values: controller.image`. */
  where: string;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads a chart archive; INVALID_CHART naming `label` when it is not a chart. */
export function readChart(tgz: Buffer, label: string): Chart {
  return chartFrom(readChartArchive(tgz, label), label);
}

function chartFrom(files: ChartFiles, label: string): Chart {
  const bad = (reason: string) => new AirgapError("INVALID_CHART", `${label}: ${reason}`);
  const roots = new Set([...files.keys()].map((p) => p.split("/")[0]!));
  if (roots.size !== 1) throw bad(`its files are under ${roots.size} folders, not one (${[...roots].slice(0, 3).join(", ")})`);
  const root = [...roots][0]!;
  const chartYaml = files.get(`${root}/Chart.yaml`);
  if (!chartYaml) throw bad(`no ${root}/Chart.yaml`);
  const [meta] = loadDocuments(chartYaml.toString("utf8"), `${label}: Chart.yaml`);
  if (!isMap(meta) || typeof meta.name !== "string" || typeof meta.version !== "string") throw bad("Chart.yaml names no chart name and version");
  const metadata = { apiVersion: "v1", ...meta } as ChartMetadata;
  const valuesText = files.get(`${root}/values.yaml`)?.toString("utf8");
  const [values] = valuesText ? loadDocuments(valuesText, `${label}: values.yaml`) : [];
  const chart: Chart = { metadata, values: isMap(values) ? values : {}, dependencies: new Map() };

  // Packed dependencies: charts/NAME-VERSION.tgz, or charts/NAME/ unpacked.
  const packed = new Map<string, Chart>();
  const folders = new Map<string, ChartFiles>();
  for (const [path, data] of files) {
    const m = /^[^/]+\/charts\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) continue;
    if (m[2] === undefined && m[1]!.endsWith(".tgz")) {
      const dep = readChart(data, `${label}: charts/${m[1]}`);
      packed.set(dep.metadata.name, dep);
    } else if (m[2] !== undefined) {
      const sub = folders.get(m[1]!) ?? new Map<string, Buffer>();
      sub.set(`${m[1]}${m[2]}`, data);
      folders.set(m[1]!, sub);
    }
  }
  for (const [name, sub] of folders) if (sub.has(`${name}/Chart.yaml`)) packed.set(name, chartFrom(sub, `${label}: charts/${name}`));
  const declared = Array.isArray(metadata.dependencies) ? metadata.dependencies.filter(isMap) : [];
  for (const d of declared) {
    const name = String(d.name);
    const dep = packed.get(name);
    if (!dep) throw new AirgapError("INVALID_CHART", `${label}: its dependency ${name} is not packed in charts/`, { hint: "run helm dependency build in the chart's folder first (the closed side cannot fetch it)" });
    chart.dependencies.set(typeof d.alias === "string" ? d.alias : name, dep);
  }
  // A chart in charts/ that Chart.yaml does not declare is a dependency all the same (Helm renders it).
  for (const [name, dep] of packed) if (!declared.some((d) => d.name === name)) chart.dependencies.set(name, dep);
  return chart;
}

/** Merges `over` into `base` as Helm merges values files: maps deeply, anything else replaced; `null` removes a key. */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = isMap(v) && isMap(out[k]) ? mergeValues(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/** The images of the `helm.sh/images` annotation of a chart and of its dependencies. */
export function annotatedImages(chart: Chart, label: string): NamedImage[] {
  const out: NamedImage[] = [];
  const text = chart.metadata.annotations?.["helm.sh/images"];
  if (typeof text === "string") {
    const [list] = loadDocuments(text, `${label}: Chart.yaml annotation helm.sh/images`);
    for (const item of Array.isArray(list) ? list : []) {
      const raw = typeof item === "string" ? item : isMap(item) && typeof item.image === "string" ? item.image : undefined;
      if (raw === undefined) continue;
      const ref = tryReference(raw);
      if (ref) out.push({ ref, raw, where: `${chart.metadata.name}: annotation helm.sh/images` });
    }
  }
  for (const dep of chart.dependencies.values()) out.push(...annotatedImages(dep, label));
  return out;
}

function tryReference(raw: string): Reference | undefined {
  try {
    return parseReference(raw.trim());
  } catch {
    return undefined;
  }
}

/**
 * Image-shaped values of a chart with the user's values merged in, and of each dependency with what its parent
 * gives it: a map with `repository` (and `registry`, `tag`, `digest`), a `global.imageRegistry` or
 * `global.image.registry` before a repository that names no registry, the chart's appVersion as the tag when none
 * is given (what most charts' templates default to), and strings under keys named `image` or `…Image`.
 */
export function valueImages(chart: Chart, userValues: Record<string, unknown>): NamedImage[] {
  const out: NamedImage[] = [];
  const walk = (c: Chart, values: Record<string, unknown>, globals: Record<string, unknown>) => {
    const merged = mergeValues(c.values, values);
    const global = mergeValues(isMap(merged.global) ? merged.global : {}, globals);
    const registry = typeof global.imageRegistry === "string" ? global.imageRegistry : isMap(global.image) && typeof global.image.registry === "string" ? global.image.registry : undefined;
    const visit = (v: unknown, path: string[]) => {
      if (isMap(v)) {
        if (typeof v.repository === "string" && v.repository !== "") {
          const host = typeof v.registry === "string" && v.registry !== "" ? v.registry : registry;
          const tag = typeof v.tag === "string" || typeof v.tag === "number" ? String(v.tag) : c.metadata.appVersion;
          const digest = typeof v.digest === "string" && v.digest.startsWith("sha256:") ? v.digest : undefined;
          const raw = `${host ? `${host}/` : ""}${v.repository}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
          const ref = tryReference(raw);
          if (ref) out.push({ ref, raw, where: `${c.metadata.name}: values ${path.join(".")}` });
          return;
        }
        // A dependency's section is walked with the dependency (its appVersion, its own defaults).
        for (const [k, child] of Object.entries(v)) if (k !== "global" && !(path.length === 0 && c.dependencies.has(k))) visit(child, [...path, k]);
      } else if (typeof v === "string" && /^(image|.*Image)$/.test(path.at(-1) ?? "") && /[:@]/.test(v)) {
        const ref = tryReference(v);
        if (ref) out.push({ ref, raw: v, where: `${c.metadata.name}: values ${path.join(".")}` });
      }
    };
    visit(merged, []);
    for (const [name, dep] of c.dependencies) walk(dep, isMap(merged[name]) ? (merged[name] as Record<string, unknown>) : {}, global);
  };
  walk(chart, userValues, {});
  return out;
}
