/**
 * Registry credentials: Docker's config.json (`auths`, `credsStore`, `credHelpers`) and explicit ones
 * from the command line. Credentials are never logged, never part of an error, never written anywhere.
 * https://docs.docker.com/reference/cli/docker/login/#credential-stores
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { AirgapError } from "../errors.js";
import { spawn } from "node:child_process";

/** A username and password (or token) for one registry. */
export interface Credential {
  username: string;
  password: string;
}

/** Looks up the credential for a registry host, if any. */
export interface CredentialStore {
  get(host: string): Promise<Credential | undefined>;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** The keys under which Docker may have stored a host's credentials (Docker Hub has its historic URL). */
function keysFor(host: string): string[] {
  if (host === "docker.io") return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io", "https://index.docker.io/v1"];
  return [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
}

/** The server name a credential helper is asked about. */
function helperServer(host: string): string {
  return host === "docker.io" ? "https://index.docker.io/v1/" : host;
}

/** Runs `docker-credential-NAME get` with the server on stdin and parses `{Username, Secret}`. */
async function runHelper(helper: string, server: string): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ["get"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e: NodeJS.ErrnoException) =>
      reject(new AirgapError("CREDENTIALS", `credential helper ${program} could not run: ${e.code ?? e.message}`)),
    );
    child.on("close", (code) => {
      if (code !== 0) {
        // Helpers answer "credentials not found in native keychain" for unknown servers: no credential.
        if (/not found/i.test(out + err)) return resolve(undefined);
        return reject(new AirgapError("CREDENTIALS", `credential helper ${program} failed for ${server} (exit ${code})`));
      }
      try {
        const parsed = JSON.parse(out) as { Username?: string; Secret?: string };
        if (!parsed.Secret) return resolve(undefined);
        resolve({ username: parsed.Username ?? "", password: parsed.Secret });
      } catch {
        reject(new AirgapError("CREDENTIALS", `credential helper ${program} gave an answer that is not JSON`));
      }
    });
    child.stdin.end(server);
  });
}

/** Where Docker's config lives: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
}

/** Credentials from Docker's config file (a missing file means no credentials). */
export async function dockerConfigStore(path = dockerConfigPath()): Promise<CredentialStore> {
  let config: DockerConfig = {};
  try {
    config = JSON.parse(await readFile(path, "utf8")) as DockerConfig;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new AirgapError("CREDENTIALS", `cannot read Docker config ${path}: ${err instanceof SyntaxError ? "not valid JSON" : (err as Error).message}`);
    }
  }
  return {
    async get(host) {
      const helper = config.credHelpers?.[host] ?? (host === "docker.io" ? config.credHelpers?.["index.docker.io"] : undefined);
      if (helper) return runHelper(helper, helperServer(host));
      for (const key of keysFor(host)) {
        const entry = config.auths?.[key];
        if (!entry) continue;
        if (entry.auth) {
          const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
          const colon = decoded.indexOf(":");
          if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
        }
        if (entry.username && entry.password) return { username: entry.username, password: entry.password };
      }
      if (config.credsStore) return runHelper(config.credsStore, helperServer(host));
      return undefined;
    },
  };
}

/** Credentials given on the command line for one host, falling back to another store for the rest. */
export function withExplicit(host: string, credential: Credential, fallback: CredentialStore): CredentialStore {
  return { get: (h) => (h === host ? Promise.resolve(credential) : fallback.get(h)) };
}
