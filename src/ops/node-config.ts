/**
 * `bundle node-config`: what each node's containerd needs to pull from the private registry, written the way
 * sites configure it: one `hosts.toml` per registry host in a folder containerd reads as its `config_path`
 * (containerd 1.5 and later; read again at every pull, no restart).
 *
 * - the private registry itself: plain HTTP, or HTTPS with a private CA (copied beside its hosts.toml);
 * - a mirror for every host the bundle's images came from (`docker.io` → the registry's `docker.io/` path
 *   under `host` layout): a manifest that was not rewritten still pulls from the private registry, and never
 *   from the internet (the mirror is the namespace's only server);
 * - the CRI plugin's `sandbox_image`, pointing at the pause image the bundle carries: a closed network's nodes
 *   cannot pull `registry.k8s.io/pause`, and every pod needs it first.
 */
import { lstat, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { AirgapError } from "../errors.js";
import { isPauseImage, parseReference, type Reference } from "../reference/reference.js";
import { formatRegistry, targetNamespace, targetReference, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import { checkOutputFile } from "../util/output-path.js";
import { writeError, writeWholeFile } from "../util/whole-file.js";

/** What the nodes are told. */
export interface NodeConfigRequest {
  registry: RegistryLocation;
  layout: TargetLayout;
  /** The registry speaks plain HTTP. */
  plainHttp: boolean;
  /** The CA that signed the registry's certificate (PEM), when it is a private one. */
  ca?: Buffer;
  /** Hosts whose images the registry holds (under their mirror path). */
  mirrors: readonly string[];
  /** The pause image (a source reference, as saved), for `sandbox_image`. */
  sandboxImage?: Reference;
}

/** One file to write, relative to the output folder. */
export interface NodeConfigFile {
  path: string;
  data: Buffer;
}

/** The files and the containerd settings that go with them. */
export interface NodeConfig {
  files: NodeConfigFile[];
  /** The pause image in the private registry, when one was given. */
  sandboxImage?: string;
  /** The lines to add to /etc/containerd/config.toml (CRI plugin, config version 2) for `hostsDir`. */
  containerdToml(hostsDir: string): string;
}

const HEADER = "# Written by airgap-bundle node-config.";

/** The hosts.toml files (and CA copies) for a request. */
export function nodeConfig(request: NodeConfigRequest): NodeConfig {
  const host = request.registry.host;
  if (request.plainHttp && request.ca) throw new AirgapError("INVALID_ARGUMENT", "plain HTTP and a CA contradict each other");
  const scheme = request.plainHttp ? "http" : "https";
  const files: NodeConfigFile[] = [];
  // containerd 1.6 refuses a hosts.toml without a [host] table (and then falls back to the upstream host): the
  // one server is written both as the fallback and as the host tried first.
  const hostsToml = (dir: string, comment: string[], url: string, overridePath: boolean) => {
    if (request.ca) files.push({ path: join(dir, "ca.crt"), data: request.ca });
    const settings = [...(overridePath ? ["override_path = true"] : []), ...(request.ca ? ['ca = "ca.crt"'] : [])];
    const lines = [...comment, `server = "${url}"`, ...settings, "", `[host."${url}"]`, '  capabilities = ["pull", "resolve"]', ...settings.map((l) => `  ${l}`)];
    files.push({ path: join(dir, "hosts.toml"), data: Buffer.from(`${lines.join("\n")}\n`) });
  };
  hostsToml(host, [`${HEADER} The private registry ${host}${request.plainHttp ? ", over plain HTTP" : request.ca ? ", its certificate signed by the CA beside this file" : ""}.`], `${scheme}://${host}`, false);
  for (const mirror of [...new Set(request.mirrors.map((m) => m.toLowerCase()))].sort()) {
    if (mirror === host) continue;
    // The same mapping as the load's push: the mirror serves what the load put there.
    const namespace = targetNamespace(mirror, request.registry.prefix, request.layout);
    const path = namespace === "" ? "" : `/${namespace}`;
    hostsToml(mirror, [
      `${HEADER} Images named ${mirror}/... come from the private registry ${formatRegistry(request.registry)}, where bundle load`,
      `# put them (under ${path || "/"}); ${mirror} itself is never asked: the private registry is this namespace's only server.`,
    ], `${scheme}://${host}/v2${path}`, true);
  }
  const sandboxImage = request.sandboxImage && targetReference(request.sandboxImage, request.registry, request.layout);
  return {
    files,
    ...(sandboxImage && { sandboxImage }),
    containerdToml: (hostsDir) => [
      "# Add to /etc/containerd/config.toml (config version 2; containerd 1.6 or 1.7), then restart containerd:",
      '[plugins."io.containerd.grpc.v1.cri"]',
      ...(sandboxImage ? [`  sandbox_image = "${sandboxImage}"`] : []),
      '[plugins."io.containerd.grpc.v1.cri".registry]',
      `  config_path = "${hostsDir}"`,
      "",
    ].join("\n"),
  };
}

/** The pause image among a bundle's image sources (`…/pause:TAG`), if it carries one. */
export function pauseImageOf(sources: readonly string[]): Reference | undefined {
  return sources.map((s) => parseReference(s)).find(isPauseImage);
}

/** The hosts a bundle's images came from. */
export function sourceHostsOf(sources: readonly string[]): string[] {
  return [...new Set(sources.map((s) => parseReference(s).domain))];
}

/** What a write did, file by file. */
export interface NodeConfigWrite {
  written: string[];
  unchanged: string[];
}

/**
 * Writes the files under `outDir`. A file already there with the same bytes is left as it is (several
 * registries share one folder); a different one is replaced only with `force`, and never when it is not a
 * regular file. Each file is written whole or not at all (a temporary beside it, renamed).
 */
export async function writeNodeConfig(outDir: string, config: NodeConfig, options: { force: boolean }): Promise<NodeConfigWrite> {
  const result: NodeConfigWrite = { written: [], unchanged: [] };
  const plan: NodeConfigFile[] = [];
  for (const file of config.files) {
    const path = join(outDir, file.path);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isFile() && (await readFile(path)).equals(file.data)) {
      result.unchanged.push(path);
      continue;
    }
    if (st) {
      if (!options.force) {
        throw new AirgapError("BUNDLE_EXISTS", `${path} is already there and says something else; it is left as it is`, { hint: "pass --force to replace it, or give another --out" });
      }
      // A link, a device or a folder is never written over, --force or not.
      await checkOutputFile(path, { force: true, option: "--out" });
    }
    plan.push(file);
  }
  for (const file of plan) {
    const path = join(outDir, file.path);
    await mkdir(dirname(path), { recursive: true }).catch((err: unknown) => {
      throw writeError(path, err);
    });
    await writeWholeFile(path, file.data);
    result.written.push(path);
  }
  return result;
}
