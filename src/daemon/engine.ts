/**
 * A Docker engine, reached through dockerode: the only file that imports it, declaring just the engine
 * calls this tool uses (ping, info, image export and load, image inspect).
 * https://docs.docker.com/reference/api/engine/
 */
import { Readable } from "node:stream";
import Docker from "dockerode";
import { AirgapError } from "../errors.js";

/** Where the engine listens: `--docker-host`, else `DOCKER_HOST`, else the default socket. */
export interface EngineOptions {
  dockerHost?: string;
}

/** What an engine says about an image. */
export interface EngineImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

/** The engine calls we use. */
export interface DockerEngine {
  /** The address, for messages. */
  readonly address: string;
  /** Checks that the engine answers; throws DOCKER_UNREACHABLE otherwise. Resolves to its platform (`linux/amd64`). */
  ping(): Promise<string>;
  /** The engine's image export (`docker save NAME`) as a stream. */
  exportImage(name: string): Promise<Readable>;
  /** Feeds an image archive to the engine's image load (`docker load`); resolves when the engine has finished. */
  loadImages(archive: Readable): Promise<void>;
  /** Inspects an image by name or ID; undefined when the engine has no such image. */
  inspectImage(name: string): Promise<EngineImage | undefined>;
}

const DEFAULT_SOCKET = "/var/run/docker.sock";

/** Connects (lazily: nothing is contacted until the first call). */
export function connectEngine(options: EngineOptions = {}): DockerEngine {
  const address = options.dockerHost ?? process.env.DOCKER_HOST ?? `unix://${DEFAULT_SOCKET}`;
  return new DockerodeEngine(address, new Docker(dockerodeOptions(address)));
}

function dockerodeOptions(address: string): Docker.DockerOptions {
  if (address.startsWith("unix://")) return { socketPath: address.slice("unix://".length) };
  if (address.startsWith("/")) return { socketPath: address };
  const m = /^(?:tcp|http):\/\/([^:/]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(address);
  if (!m) {
    throw new AirgapError("INVALID_ARGUMENT", `cannot read the Docker engine address "${address}"`, { hint: "give unix:///path/to/docker.sock or tcp://HOST:PORT" });
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2] ?? 2375), protocol: "http" };
}

class DockerodeEngine implements DockerEngine {
  constructor(
    readonly address: string,
    private readonly docker: Docker,
  ) {}

  async ping(): Promise<string> {
    try {
      await this.docker.ping();
      const info = (await this.docker.info()) as { OSType?: string; Architecture?: string };
      return `${info.OSType ?? "linux"}/${normaliseArch(info.Architecture ?? "amd64")}`;
    } catch (err) {
      throw new AirgapError("DOCKER_UNREACHABLE", `no Docker engine answers at ${this.address}: ${reason(err)}`, {
        hint: "start the engine, or name it with --docker-host (or DOCKER_HOST)",
        cause: err,
      });
    }
  }

  async exportImage(name: string): Promise<Readable> {
    try {
      const stream = await this.docker.getImage(name).get();
      return stream instanceof Readable ? stream : Readable.from(stream);
    } catch (err) {
      throw this.failure(`exporting ${name}`, err);
    }
  }

  async loadImages(archive: Readable): Promise<void> {
    let response: NodeJS.ReadableStream;
    try {
      response = await this.docker.loadImage(archive, { quiet: "1" });
    } catch (err) {
      throw this.failure("loading images", err);
    }
    // The engine answers with JSON messages; a failed load says so in an `error` message, not a status code.
    let text = "";
    for await (const chunk of response) text += chunk.toString();
    for (const line of text.split(/\r?\n/)) {
      if (!line.trim()) continue;
      let message: { error?: string; errorDetail?: { message?: string } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        continue;
      }
      const error = message.errorDetail?.message ?? message.error;
      if (error) throw new AirgapError("DOCKER", `the Docker engine at ${this.address} refused the images: ${error}`);
    }
  }

  async inspectImage(name: string): Promise<EngineImage | undefined> {
    try {
      const info = await this.docker.getImage(name).inspect();
      return { id: info.Id, repoTags: info.RepoTags ?? [], repoDigests: info.RepoDigests ?? [] };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw this.failure(`inspecting ${name}`, err);
    }
  }

  private failure(what: string, err: unknown): AirgapError {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404) return new AirgapError("NOT_FOUND", `${what}: the Docker engine at ${this.address} has no such image`);
    if (status === undefined) {
      return new AirgapError("DOCKER_UNREACHABLE", `${what}: no Docker engine answers at ${this.address}: ${reason(err)}`, {
        hint: "start the engine, or name it with --docker-host (or DOCKER_HOST)",
        cause: err,
      });
    }
    return new AirgapError("DOCKER", `${what}: the Docker engine answered ${status}: ${reason(err)}`, { cause: err });
  }
}

function normaliseArch(arch: string): string {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[arch] ?? arch;
}

function reason(err: unknown): string {
  const e = err as { code?: string; json?: { message?: string }; message?: string };
  return e.json?.message ?? e.code ?? (e.message ?? String(err)).split("\n")[0]!;
}
