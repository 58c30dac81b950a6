/**
 * Real registries for tests: Debian's `docker-registry` (the CNCF distribution registry 2.8) started on
 * 127.0.0.1 with a free port, its own storage folder, optional htpasswd (bcrypt) auth and optional TLS.
 */
import type { ChildProcess } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { freePort } from "./ports.js";
import { run, spawnTracked, stopTracked } from "./processes.js";
import { makePki, type TestPki } from "./tls.js";

/** Options for {@link startRegistry}. */
export interface RegistryOptions {
  /** Require HTTP Basic auth against an htpasswd file (bcrypt). */
  auth?: "htpasswd";
  /** Serve HTTPS with a certificate from a throw-away CA. */
  tls?: boolean;
  /** Extra top-level config (YAML text appended verbatim), e.g. a token issuer's `registryConfig`. */
  extraConfig?: string;
  /** A fixed port (default: a free one). */
  port?: number;
  /**
   * Which implementation: Debian's distribution 2.8 (`docker-registry`), or distribution v3 built from Go modules
   * (scripts/peers/build.sh). Default: $AIRGAP_TEST_REGISTRY, else 2.8.
   */
  impl?: "2.8" | "v3";
}

/** The registry program of an implementation; v3 from the build cache (built by scripts/peers/build.sh). */
export function registryProgram(impl: "2.8" | "v3"): string {
  if (impl === "2.8") return "docker-registry";
  const bin = join(process.env.AIRGAP_BUILD_CACHE ?? join(homedir(), ".cache", "airgap-bundle", "build"), "peers", "bin", "registry-v3");
  if (!existsSync(bin)) throw new Error(`distribution v3 is not built (${bin}): run bash scripts/peers/build.sh`);
  return bin;
}

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, as used in image references. */
  host: string;
  /** `http(s)://127.0.0.1:PORT`. */
  url: string;
  /** Credentials when started with htpasswd auth. */
  username?: string;
  password?: string;
  /** The CA when started with TLS. */
  pki?: TestPki;
  /** Temporary folder holding config, storage and the log. */
  dir: string;
  /** Path of the registry's log (access log included). */
  logFile: string;
  /** Sends a request to the registry (with the CA trusted; with Basic auth when `auth` is true). */
  fetch(path: string, init?: { method?: string; headers?: Record<string, string>; auth?: boolean }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;
  /** The registry log so far. */
  log(): Promise<string>;
  /** Kills the registry process at once (SIGKILL), keeping its storage: a crash. */
  kill(): Promise<void>;
  /** Starts the registry again on the same port and storage (after kill). */
  restart(): Promise<void>;
  /** Stops the registry and deletes its storage. */
  stop(): Promise<void>;
}

const USERNAME = "airgap";

function configYaml(dir: string, port: number, options: RegistryOptions, pki?: TestPki): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: info",
    "  formatter: text",
    "  accesslog:",
    "    disabled: false",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "data")}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  secret: airgap-bundle-test-secret",
    "  headers:",
    "    X-Content-Type-Options: [nosniff]",
  ];
  if (pki) lines.push("  tls:", `    certificate: ${pki.certFile}`, `    key: ${pki.keyFile}`);
  if (options.auth === "htpasswd") lines.push("auth:", "  htpasswd:", "    realm: airgap-test", `    path: ${join(dir, "htpasswd")}`);
  if (options.extraConfig) lines.push(options.extraConfig);
  return `${lines.join("\n")}\n`;
}

/** Starts a registry and waits until `/v2/` answers. Call `stop()` in teardown. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "airgap-registry-"));
  const pki = options.tls ? await makePki(dir) : undefined;
  const password = options.auth === "htpasswd" ? `pw-${Math.random().toString(36).slice(2)}` : undefined;
  if (password) {
    const line = await run("htpasswd", ["-Bbn", USERNAME, password]);
    await writeFile(join(dir, "htpasswd"), line);
  }
  const dispatcher = new Agent({ connect: pki ? { ca: pki.caPem } : {} });
  const logFile = join(dir, "registry.log");
  const scheme = pki ? "https" : "http";

  const program = registryProgram(options.impl ?? (process.env.AIRGAP_TEST_REGISTRY === "v3" ? "v3" : "2.8"));
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    const configFile = join(dir, "config.yml");
    await writeFile(configFile, configYaml(dir, port, options, pki));
    let logStream = createWriteStream(logFile, { flags: "a" });
    const launch = (): ChildProcess => {
      const c = spawnTracked(program, ["serve", configFile], { stdio: ["ignore", "pipe", "pipe"] });
      c.stdout?.pipe(logStream, { end: false });
      c.stderr?.pipe(logStream, { end: false });
      return c;
    };
    let child: ChildProcess = launch();
    const url = `${scheme}://127.0.0.1:${port}`;
    let stopped = false;
    const registry: TestRegistry = {
      host: `127.0.0.1:${port}`,
      url,
      ...(password && { username: USERNAME, password }),
      ...(pki && { pki }),
      dir,
      logFile,
      async fetch(path, init = {}) {
        const headers: Record<string, string> = { ...init.headers };
        if (init.auth && password) headers.authorization = `Basic ${Buffer.from(`${USERNAME}:${password}`).toString("base64")}`;
        const res = await request(`${url}${path}`, { method: (init.method ?? "GET") as "GET", headers, dispatcher });
        const body = Buffer.from(await res.body.arrayBuffer());
        return { status: res.statusCode, headers: res.headers, body };
      },
      log: () => readFile(logFile, "utf8"),
      async kill() {
        child.kill("SIGKILL");
        await stopTracked(child);
      },
      async restart() {
        logStream = createWriteStream(logFile, { flags: "a" });
        child = launch();
        const until = Date.now() + 15_000;
        while (Date.now() < until) {
          const res = await registry.fetch("/v2/").catch(() => undefined);
          if (res && (res.status === 200 || res.status === 401)) return;
          await sleep(50);
        }
        throw new Error("docker-registry did not restart");
      },
      async stop() {
        // A test may stop a registry itself (a source gone) before its teardown does: the second stop does nothing.
        if (stopped) return;
        stopped = true;
        await stopTracked(child);
        logStream.end();
        await dispatcher.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await registry.fetch("/v2/");
        if (res.status === 200 || res.status === 401) return registry;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    lastError = (await readFile(logFile, "utf8").catch(() => "")).split("\n").slice(-5).join("\n");
    await stopTracked(child);
    logStream.end();
  }
  await dispatcher.close();
  await rm(dir, { recursive: true, force: true });
  throw new Error(`docker-registry did not start: ${lastError}`);
}

/** Counts access-log lines of `method` requests whose path matches `pattern`. */
export async function countRequests(registry: TestRegistry, method: string, pattern: RegExp): Promise<number> {
  const log = await registry.log();
  return log.split("\n").filter((line) => {
    const m = /"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/.exec(line);
    return m !== null && m[1] === method && pattern.test(m[2] ?? "");
  }).length;
}
