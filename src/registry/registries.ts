/**
 * Every registry host of one run, sharing TLS settings, credentials and connection pools.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Dispatcher } from "undici";
import { Agent } from "./http.js";
import { AirgapError } from "../errors.js";
import { RegistryHost, type RegistryOptions } from "./client.js";

/** Every registry host of one run, sharing TLS settings, credentials and connection pools. */
export class Registries {
  private readonly hosts = new Map<string, RegistryHost>();
  private readonly dispatchers: Dispatcher[] = [];

  constructor(private readonly options: RegistryOptions) {}

  /** The client for a host (as in references: `docker.io`, `gcr.io`, `127.0.0.1:5000`). */
  host(host: string): RegistryHost {
    let client = this.hosts.get(host);
    if (!client) {
      const insecure = (this.options.insecureHosts ?? []).includes(host);
      const extra = (this.options.caFiles ?? []).map((f) => readCa(f));
      const connect = { ...(extra.length > 0 && { ca: [...rootCertificates, ...extra] }), rejectUnauthorized: !insecure };
      const dispatcher = new Agent({ connect, connections: this.options.connections ?? 16, pipelining: 1, keepAliveTimeout: 30_000 });
      const foreign = new Agent({ connect: extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}, connections: this.options.connections ?? 16 });
      this.dispatchers.push(dispatcher, foreign);
      client = new RegistryHost(host, this.options, dispatcher, foreign);
      this.hosts.set(host, client);
    }
    return client;
  }

  /** Closes every connection: politely, then (after a few seconds of requests that will not finish) at once. */
  async close(): Promise<void> {
    await Promise.all(
      this.dispatchers.map(async (d) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), 3000)));
        const done = await Promise.race([d.close().then(() => "closed" as const, () => "closed" as const), late]);
        clearTimeout(timer);
        if (done === "late") await d.destroy().catch(() => undefined);
      }),
    );
  }
}

function readCa(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new AirgapError("FILE_NOT_FOUND", `cannot read CA file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
