/**
 * The Docker engine option of the commands that read from or write to one (`save`, `load --docker`, `export`).
 */
import type { DockerEngine } from "../daemon/engine.js";
import type { OptionSpec } from "./command.js";

/** `--docker-host`. */
export const DOCKER_OPTIONS: Record<string, OptionSpec> = {
  "docker-host": { type: "string", describe: "Docker engine address (unix:///path or tcp://HOST:PORT; default: DOCKER_HOST, else /var/run/docker.sock)", requiresArg: true },
};

/** The engine the options name (dockerode is loaded only now: at start-up it would cost every command). */
export async function engine(args: Record<string, unknown>): Promise<DockerEngine> {
  const { connectEngine } = await import("../daemon/engine.js");
  return connectEngine(args["docker-host"] === undefined ? {} : { dockerHost: String(args["docker-host"]) });
}
