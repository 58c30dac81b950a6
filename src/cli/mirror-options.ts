/**
 * Where the internet side's images are read through (registry/mirrors.ts): `--mirror`, `--registries-conf` (else
 * CONTAINERS_REGISTRIES_CONF, else /etc/containers/registries.conf and registries.conf.d/ when present),
 * `--docker-daemon-json` (else /etc/docker/daemon.json when present), `--mirror-only`.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { AirgapError } from "../errors.js";
import { MirrorTable, parseDockerDaemonJson, parseMirrorFlag, parseRegistriesConf, type RegistryRule } from "../registry/mirrors.js";
import { readSmallFile } from "../util/small-file.js";
import type { OptionSpec } from "./command.js";

/** Largest configuration file read. */
const MAX_CONF_BYTES = 4 * 1024 * 1024;

export const MIRROR_OPTIONS: Record<string, OptionSpec> = {
  mirror: { type: "string", array: true, describe: "Read HOST's images through a pull-through mirror first: HOST=MIRROR[/PREFIX], e.g. docker.io=harbor.corp/dockerhub-proxy (repeatable, in order)", requiresArg: true },
  "registries-conf": { type: "string", describe: "Mirrors from this registries.conf (containers' v2 TOML; default CONTAINERS_REGISTRIES_CONF, else /etc/containers/registries.conf when present)", requiresArg: true },
  "docker-daemon-json": { type: "string", describe: "docker.io mirrors from this Docker daemon.json's registry-mirrors (default /etc/docker/daemon.json when present)", requiresArg: true },
  "mirror-only": { type: "boolean", describe: "Read images only through their mirrors, never from the registry itself" },
};

/** A file given by the user (must be there) or by default (may be absent); its text or undefined. */
async function readConf(path: string, given: boolean, what: string): Promise<string | undefined> {
  try {
    return (await readSmallFile(path, MAX_CONF_BYTES, what)).toString("utf8");
  } catch (err) {
    if (!given && err instanceof AirgapError && err.code === "FILE_NOT_FOUND") return undefined;
    throw err;
  }
}

/** The mirror table the options and the machine's configuration make (`--mirror` first, then registries.conf, then Docker's). */
export async function mirrorsFrom(args: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<MirrorTable> {
  const rules: RegistryRule[] = ((args.mirror as string[] | undefined) ?? []).map(String).map(parseMirrorFlag);
  const confGiven = args["registries-conf"] !== undefined ? String(args["registries-conf"]) : env.CONTAINERS_REGISTRIES_CONF;
  const conf = confGiven ?? "/etc/containers/registries.conf";
  const text = await readConf(conf, confGiven !== undefined, "registries.conf");
  if (text !== undefined) rules.push(...parseRegistriesConf(text, conf));
  if (confGiven === undefined) {
    // The drop-in folder beside the default file, in name order, as containers/image reads it.
    const dir = "/etc/containers/registries.conf.d";
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".conf")).sort();
    for (const n of names) {
      const t = await readConf(join(dir, n), false, "registries.conf");
      if (t !== undefined) rules.push(...parseRegistriesConf(t, join(dir, n)));
    }
  }
  const daemonGiven = args["docker-daemon-json"] !== undefined ? String(args["docker-daemon-json"]) : undefined;
  const daemon = daemonGiven ?? "/etc/docker/daemon.json";
  const json = await readConf(daemon, daemonGiven !== undefined, "Docker daemon.json");
  if (json !== undefined) rules.push(...parseDockerDaemonJson(json, daemon));
  return new MirrorTable(rules, args["mirror-only"] === true);
}
