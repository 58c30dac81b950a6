/**
 * Rendering a chart with the `helm` binary (`helm template`): what it deploys with the given values, as
 * manifests our scanner reads like any others. Every run is bounded in time and its output in size.
 */
import { execFile } from "node:child_process";
import { access, constants, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { AirgapError, type ErrorCode } from "../errors.js";

/** Longest a `helm template` may take. */
export const HELM_TIMEOUT_MS = 120_000;
/** Most bytes of rendered manifests read. */
const MAX_RENDERED_BYTES = 64 * 1024 * 1024;

/** The `helm` found on PATH (or given), undefined when there is none. */
export async function findHelm(pathVariable = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of pathVariable.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "helm");
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/** Runs helm with `args`; its stdout, or an error (`failure`, INVALID_CHART unless said) naming `what` and helm's own last line. */
export function runHelm(helm: string, args: string[], what: string, options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; failure?: ErrorCode; signal?: AbortSignal } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(helm, args, { timeout: options.timeoutMs ?? HELM_TIMEOUT_MS, maxBuffer: MAX_RENDERED_BYTES, env: options.env ?? process.env, encoding: "utf8", ...(options.signal && { signal: options.signal }) }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if (options.signal?.aborted) return reject(options.signal.reason as Error);
      const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string };
      if (e.killed && e.signal === "SIGTERM") return reject(new AirgapError("TIMED_OUT", `${what}: helm did not finish in ${(options.timeoutMs ?? HELM_TIMEOUT_MS) / 1000} s`));
      const said = stderr.trim().split("\n").filter(Boolean).at(-1) ?? e.message;
      reject(new AirgapError(options.failure ?? "INVALID_CHART", `${what}: helm failed: ${said}`));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** One rendered template: its path in the chart (`NAME/templates/x.yaml`) and its text. */
export interface RenderedFile {
  file: string;
  text: string;
}

/** A chart archive and its values files, written where helm can read them. */
export interface ChartOnDisk {
  /** The private folder they are in (removed after). */
  dir: string;
  chart: string;
  /** `--values FILE` for each, in order. */
  valueArgs: string[];
}

/** Runs `use` with the chart and its values written into a private temporary folder, removed after. */
export async function withChartOnDisk<T>(tgz: Buffer, values: readonly Buffer[], use: (files: ChartOnDisk) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "airgap-chart-"));
  try {
    const chart = join(dir, "chart.tgz");
    await writeFile(chart, tgz);
    const valueArgs: string[] = [];
    for (const [i, v] of values.entries()) {
      const path = join(dir, `values-${i}.yaml`);
      await writeFile(path, v);
      valueArgs.push("--values", path);
    }
    return await use({ dir, chart, valueArgs });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Renders a chart archive with values files: `helm template RELEASE CHART -n NS -f …`, split by template. */
export async function renderChart(helm: string, tgz: Buffer, options: { release: string; namespace: string; values: Buffer[]; label: string }): Promise<RenderedFile[]> {
  return withChartOnDisk(tgz, options.values, async ({ chart, valueArgs }) => {
    const out = await runHelm(helm, ["template", options.release, chart, "--namespace", options.namespace, "--include-crds", ...valueArgs], `rendering ${options.label}`);
    return splitRendered(out);
  });
}

/** Splits helm's output at its `# Source: PATH` lines. */
export function splitRendered(text: string): RenderedFile[] {
  const files = new Map<string, string[]>();
  let current = "rendered";
  for (const doc of text.split(/^---\s*$/m)) {
    const source = /^# Source: (.+)$/m.exec(doc)?.[1]?.trim();
    if (source) current = source;
    if (doc.trim() === "") continue;
    files.set(current, [...(files.get(current) ?? []), doc]);
  }
  return [...files].map(([file, docs]) => ({ file, text: docs.map((d) => `---${d.startsWith("\n") ? "" : "\n"}${d}`).join("") }));
}
