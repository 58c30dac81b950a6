/**
 * A chart installed as a Helm release by the closed side's `helm`: `helm upgrade --install` from the bundle's
 * archive and values, with our relocation as Helm's post-renderer (a `postrenderer/v1` plugin in a private plugin
 * folder that runs this tool), so `helm list`, `helm upgrade` and `helm uninstall` work on it as on any release.
 * Every helm run is bounded in time.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AirgapError } from "../errors.js";
import { HELM_TIMEOUT_MS, runHelm, withChartOnDisk } from "./render.js";

/** The post-renderer plugin's name, in the private plugin folder each helm run gets. */
export const POST_RENDERER = "airgap-relocate";

/** A program and its arguments: how helm runs our post-renderer (it reads manifests on stdin, writes them on stdout). */
export interface Command {
  command: string;
  args: string[];
}

/** Where helm finds the cluster; `signal` stops a helm run (Ctrl-C, the command's bound). */
export interface HelmCluster {
  kubeconfig?: string;
  context?: string;
  signal?: AbortSignal;
}

/** A release to install. */
export interface ReleaseSpec {
  name: string;
  namespace: string;
  /** `chart NAME VERSION`, for messages. */
  label: string;
  tgz: Buffer;
  values: Buffer[];
}

/** What helm says it installed. */
export interface InstalledRelease {
  name: string;
  namespace: string;
  revision: number;
  status: string;
}

/**
 * `helm upgrade --install`: the release installed or upgraded from the archive, its manifests passed through
 * `postRenderer` before helm applies them. Bounded by `timeoutMs`; helm's own last words on failure.
 */
export async function upgradeRelease(helm: string, release: ReleaseSpec, options: HelmCluster & { postRenderer: Command; timeoutMs: number; forceConflicts?: boolean }): Promise<InstalledRelease> {
  return withChartOnDisk(release.tgz, release.values, async ({ dir, chart, valueArgs }) => {
    const plugin = join(dir, "plugins", POST_RENDERER);
    await mkdir(plugin, { recursive: true });
    // JSON is YAML: no quoting of paths or registries to get wrong.
    await writeFile(join(plugin, "plugin.yaml"), JSON.stringify({
      apiVersion: "v1", type: "postrenderer/v1", name: POST_RENDERER, version: "1.0.0", runtime: "subprocess",
      runtimeConfig: { platformCommand: [{ command: options.postRenderer.command, args: options.postRenderer.args }] },
    }, null, 2));
    const seconds = Math.max(1, Math.floor(options.timeoutMs / 1000));
    const out = await runHelm(helm, [
      "upgrade", "--install", release.name, chart, "--namespace", release.namespace, "--create-namespace",
      ...valueArgs, "--post-renderer", POST_RENDERER, "--timeout", `${seconds}s`, "--output", "json",
      ...(options.forceConflicts ? ["--force-conflicts"] : []), ...clusterArgs(options),
    ], `installing ${release.label} as release ${release.name}`, { env: { ...process.env, HELM_PLUGINS: join(dir, "plugins") }, timeoutMs: options.timeoutMs, failure: "INSTALL_FAILED", ...(options.signal && { signal: options.signal }) });
    return installedRelease(out, release);
  });
}

/** Whether the release exists in its namespace (`helm status`). */
export async function releaseExists(helm: string, name: string, namespace: string, options: HelmCluster & { timeoutMs?: number }): Promise<boolean> {
  try {
    await runHelm(helm, ["status", name, "--namespace", namespace, ...clusterArgs(options)], `asking helm about release ${name}`, { timeoutMs: options.timeoutMs ?? HELM_TIMEOUT_MS, failure: "INSTALL_FAILED", ...(options.signal && { signal: options.signal }) });
    return true;
  } catch (err) {
    if (err instanceof AirgapError && /release: not found/.test(err.message)) return false;
    throw err;
  }
}

/** `helm uninstall`: the release and every object it made, gone (its namespace stays). */
export async function uninstallRelease(helm: string, name: string, namespace: string, options: HelmCluster & { wait: boolean; timeoutMs: number }): Promise<void> {
  const seconds = Math.max(1, Math.floor(options.timeoutMs / 1000));
  await runHelm(helm, ["uninstall", name, "--namespace", namespace, "--timeout", `${seconds}s`, ...(options.wait ? ["--wait"] : []), ...clusterArgs(options)], `uninstalling release ${name}`, { timeoutMs: options.timeoutMs, failure: "INSTALL_FAILED", ...(options.signal && { signal: options.signal }) });
}

function clusterArgs(options: HelmCluster): string[] {
  return [...(options.kubeconfig ? ["--kubeconfig", options.kubeconfig] : []), ...(options.context ? ["--kube-context", options.context] : [])];
}

/** The release helm's `--output json` describes. */
function installedRelease(json: string, release: ReleaseSpec): InstalledRelease {
  let parsed: { version?: unknown; info?: { status?: unknown } };
  try {
    parsed = JSON.parse(json) as typeof parsed;
  } catch {
    throw new AirgapError("INSTALL_FAILED", `installing ${release.label} as release ${release.name}: helm's answer is not JSON`);
  }
  return { name: release.name, namespace: release.namespace, revision: Number(parsed.version ?? 0), status: String(parsed.info?.status ?? "unknown") };
}
