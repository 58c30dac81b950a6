/**
 * Command-line options for reaching registries (TLS, plain HTTP, credentials, retries), shared by
 * every command that talks to one, and how they become a {@link Registries}.
 */
import { AirgapError } from "../errors.js";
import type { RetryNotice } from "../registry/client.js";
import { Registries } from "../registry/registries.js";
import { dockerConfigStore, withExplicit, type CredentialStore } from "../registry/credentials.js";
import { DEFAULT_RETRY, type RetryOptions } from "../registry/retry.js";
import { DEFAULT_STALL } from "../registry/stall.js";
import { parseDuration } from "../util/duration.js";
import type { CommandContext, OptionSpec } from "./command.js";

/** The options, for a command's `options`. */
export const REGISTRY_OPTIONS: Record<string, OptionSpec> = {
  retries: { type: "number", describe: "Retries of a failed request (connection errors, 408, 429, 5xx)", default: DEFAULT_RETRY.retries, requiresArg: true },
  "stall-timeout": { type: "string", describe: "A request that moves fewer than 64 KiB in this long is stalled: dropped and retried (e.g. 30s, 2m)", default: "30s", requiresArg: true },
  "ca-file": { type: "string", array: true, describe: "Trust this CA certificate (PEM) too; repeatable", requiresArg: true },
  "insecure-registry": { type: "string", array: true, describe: "Do not verify TLS for HOST (and allow plain HTTP); repeatable", requiresArg: true },
  "plain-http": { type: "string", array: true, describe: "Speak plain HTTP to HOST (localhost and 127.0.0.1 fall back to it by themselves); repeatable", requiresArg: true },
  username: { type: "string", describe: "User name for the registry named by --creds-host (else Docker's config is used)", requiresArg: true },
  "password-stdin": { type: "boolean", describe: "Read the password for --username from standard input" },
  "creds-host": { type: "string", describe: "Registry host that --username is for (default: the only host in use)", requiresArg: true },
};

/** Builds the registries of a run; `hosts` are the registry hosts the command will talk to. */
export async function registriesFrom(
  args: Record<string, unknown>,
  context: CommandContext,
  hosts: string[],
  onRetry?: (notice: RetryNotice) => void,
  extra: { chunkSize?: number; insecureHosts?: string[] } = {},
): Promise<{ registries: Registries }> {
  const retries = Number(args.retries ?? DEFAULT_RETRY.retries);
  if (!Number.isInteger(retries) || retries < 0 || retries > 100) throw new AirgapError("INVALID_ARGUMENT", `--retries must be a whole number from 0 to 100`);
  const retry: RetryOptions = { ...DEFAULT_RETRY, retries };
  const stall = { ...DEFAULT_STALL, ms: parseDuration(String(args["stall-timeout"] ?? "30s"), "--stall-timeout") };
  let credentials: CredentialStore = await dockerConfigStore();
  const username = args.username as string | undefined;
  if (username !== undefined || args["password-stdin"]) {
    if (username === undefined || !args["password-stdin"]) {
      throw new AirgapError("INVALID_ARGUMENT", "--username and --password-stdin go together", { hint: "echo \"$PASSWORD\" | bundle … --username USER --password-stdin" });
    }
    const distinct = [...new Set(hosts)];
    const host = (args["creds-host"] as string | undefined) ?? (distinct.length === 1 ? distinct[0] : undefined);
    if (!host) throw new AirgapError("INVALID_ARGUMENT", `--username: the images come from ${distinct.length} registries; name the one it is for with --creds-host`);
    const password = (await context.readStdin()).replace(/\r?\n$/, "");
    if (password === "") throw new AirgapError("INVALID_ARGUMENT", "--password-stdin: standard input was empty");
    credentials = withExplicit(host, { username, password }, credentials);
  }
  const registries = new Registries({
    credentials,
    caFiles: (args["ca-file"] as string[] | undefined) ?? [],
    insecureHosts: [...((args["insecure-registry"] as string[] | undefined) ?? []), ...(extra.insecureHosts ?? [])],
    plainHttp: (args["plain-http"] as string[] | undefined) ?? [],
    retry,
    stall,
    userAgent: `airgap-bundle/${context.toolVersion}`,
    ...(onRetry && { onRetry }),
    ...(extra.chunkSize !== undefined && { chunkSize: extra.chunkSize }),
  });
  return { registries };
}
