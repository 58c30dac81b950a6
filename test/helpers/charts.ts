/**
 * Charts made by the tests (no copied charts): folders written here, packed by Helm itself (`helm package`,
 * built from Go modules by scripts/peers/build.sh), served as a classic chart repository over HTTPS from
 * 127.0.0.1 (`index.yaml` made by `helm repo index`), or pushed to a registry with `helm push`.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { run } from "./processes.js";
import type { TestPki } from "./tls.js";

/** The Helm binary built from helm.sh/helm/v4 (scripts/peers/build.sh). */
export function helmBinary(): string {
  const bin = join(process.env.AIRGAP_BUILD_CACHE ?? join(homedir(), ".cache", "airgap-bundle", "build"), "peers", "bin", "helm");
  if (!existsSync(bin)) throw new Error(`helm is not built (${bin}): run bash scripts/peers/build.sh`);
  return bin;
}

/** A folder holding only `helm` (to put on a PATH). */
export async function helmPathDir(work: string): Promise<string> {
  const dir = join(work, "helm-bin");
  await mkdir(dir, { recursive: true });
  const { symlink } = await import("node:fs/promises");
  await symlink(helmBinary(), join(dir, "helm")).catch(() => undefined);
  return dir;
}

/** Runs helm with its own homes under `work` (nothing of the user's Helm setup is read or written). */
export async function helm(work: string, args: string[]): Promise<string> {
  const home = join(work, "helm-home");
  const env = { HELM_CACHE_HOME: join(home, "cache"), HELM_CONFIG_HOME: join(home, "config"), HELM_DATA_HOME: join(home, "data") };
  return run(helmBinary(), args, { env: { ...process.env, ...env } });
}

/** Writes a chart folder: `files` by path below it (Chart.yaml among them). */
export async function writeChart(dir: string, files: Record<string, string>): Promise<string> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

/** A Deployment template whose image is `image` (a Helm expression). */
export function deploymentTemplate(name: string, image: string): string {
  return [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    "  replicas: 1",
    `  selector: { matchLabels: { app: ${name} } }`,
    "  template:",
    `    metadata: { labels: { app: ${name} } }`,
    "    spec:",
    "      containers:",
    `        - name: ${name}`,
    `          image: ${image}`,
    "",
  ].join("\n");
}

/** An HTTPS chart repository on 127.0.0.1 serving the files of `dir` (index.yaml and the archives). */
export async function serveChartRepository(dir: string, pki: TestPki): Promise<{ url: string; stop(): Promise<void> }> {
  const [cert, key] = await Promise.all([readFile(pki.certFile), readFile(pki.keyFile)]);
  const server: Server = createServer({ cert, key }, (req, res) => {
    const name = decodeURIComponent((req.url ?? "/").split("?")[0]!.replace(/^\/+/, ""));
    if (name.includes("..") || name.includes("/")) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(dir, name)).then((data) => res.writeHead(200, { "content-length": data.length }).end(data), () => res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `https://127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Packs chart folders into `repoDir` with `helm package` and indexes them with `helm repo index`. */
export async function chartRepository(work: string, repoDir: string, chartDirs: string[], url: string): Promise<string[]> {
  await mkdir(repoDir, { recursive: true });
  for (const dir of chartDirs) await helm(work, ["package", dir, "--destination", repoDir]);
  await helm(work, ["repo", "index", repoDir, "--url", url]);
  return (await readdir(repoDir)).filter((n) => n.endsWith(".tgz"));
}
