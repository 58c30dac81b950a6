/**
 * `bundle serve`: a read-only registry answering straight from the bundle (no extraction, no copy), until Ctrl-C.
 */
import { createSecureContext } from "node:tls";
import { readSmallFile } from "../../util/small-file.js";
import { AirgapError } from "../../errors.js";
import { parseRegistry } from "../../reference/target.js";
import { plural } from "../../util/plural.js";
import { formatBytes } from "../../util/size.js";
import type { CommandSpec } from "../command.js";
import { KEY_OPTION } from "../keys.js";
import { openBases, openVerifiedBundle } from "../open-bundle.js";
import { EXIT } from "../output.js";
import { targetLayoutOf, targetLayoutOption } from "../shared-options.js";

/** The `serve` command. */
export const serveCommand: CommandSpec = {
  command: "serve <bundle>",
  summary: "Serve a bundle as a read-only registry (pull with docker, crane, skopeo…) until Ctrl-C",
  description:
    "Answer the Registry v2 / OCI distribution pull API straight from the bundle, read in place (split parts too):\n" +
    "manifests by tag and digest, blobs (with Range), tag and catalog listings, the Referrers API. Repositories are\n" +
    "named as `bundle load` names them (--target-layout, --prefix), so the bundle's manifests rendered for the served\n" +
    "address (`bundle install --registry ADDR`) work unchanged. Writes are refused (405). The bundle (and every\n" +
    "--base) is verified first, as before a load; with --skip-verify each whole blob is hashed as it is sent instead,\n" +
    "and one whose bytes do not match is cut short, never delivered whole.\n" +
    "For other nodes, listen on their network (--listen 0.0.0.0:5000) and configure their engines to trust it\n" +
    "(--tls-cert/--tls-key, or the address as an insecure registry).",
  examples: [
    ["bundle serve bundles/ai-devops-5.1.0.tar", "Serve on 127.0.0.1:5000"],
    ["bundle serve bundles/ai-devops-5.1.0.tar.001 --listen 0.0.0.0:5000 --tls-cert node.crt --tls-key node.key", "A split bundle over HTTPS, to other nodes"],
  ],
  runsUntilStopped: true,
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: {
    listen: { type: "string", describe: "Address to listen on: HOST:PORT, [IPV6]:PORT, or :PORT for every interface", default: "127.0.0.1:5000", requiresArg: true },
    "tls-cert": { type: "string", describe: "Serve HTTPS with this certificate chain (PEM); needs --tls-key", requiresArg: true },
    "tls-key": { type: "string", describe: "The certificate's private key (PEM)", requiresArg: true },
    ...targetLayoutOption("Repository names: host: <host>/<path>; strip-host: <path> (as bundle load)"),
    prefix: { type: "string", describe: "Serve every repository under this path prefix (as bundle load --registry HOST/PREFIX)", requiresArg: true },
    base: { type: "string", array: true, describe: "A delta: an older bundle holding what the delta left out; repeatable", requiresArg: true },
    deep: { type: "boolean", describe: "Re-hash every blob before serving (the default checks the .sha256)" },
    "skip-verify": { type: "boolean", describe: "Do not check the bundle first: hash each whole blob as it is sent instead" },
    ...KEY_OPTION,
    verbose: { type: "boolean", alias: "v", describe: "Print an access line per request" },
  },
  async run(args, out, context) {
    const { parseListen, startServer } = await import("../../serve/server.js");
    const { servedContent } = await import("../../serve/content.js");
    const { verifyBundle } = await import("../../ops/verify.js");
    const listen = parseListen(String(args.listen));
    const layout = targetLayoutOf(args);
    const prefix = args.prefix === undefined ? undefined : parseRegistry(`serve.local/${String(args.prefix)}`).prefix;
    if ((args["tls-cert"] === undefined) !== (args["tls-key"] === undefined)) throw new AirgapError("INVALID_ARGUMENT", "--tls-cert and --tls-key go together");
    if (args.deep && args["skip-verify"]) throw new AirgapError("INVALID_ARGUMENT", "--deep and --skip-verify contradict each other");
    const tls = args["tls-cert"] === undefined ? undefined : { cert: await readPem(String(args["tls-cert"])), key: await readPem(String(args["tls-key"])) };
    if (tls) checkTls(tls, String(args["tls-cert"]), String(args["tls-key"]));
    const reader = await openVerifiedBundle(args, out);
    try {
      const bases = await openBases(args);
      try {
        const proved = args["skip-verify"] !== true;
        if (proved) for (const b of bases) await verifyBundle(b, { deep: false, trustStamps: true });
        const content = await servedContent(reader, { bases, layout, ...(prefix && { prefix }), proved, signal: context.signal });
        const server = await startServer(content, {
          listen,
          ...(tls && { tls }),
          onRequest: (line) => {
            if (line.cutShort) out.warn(`${line.method} ${line.path}: ${line.cutShort}`);
            if (args.verbose) out.info(`${line.remote} ${line.method} ${line.path} ${line.status} ${line.bytes} ${line.ms.toFixed(1)}ms${line.gone ? " (the client went away)" : ""}`);
          },
        });
        out.info(`serving ${reader.path} (${plural(content.images.length, "image")} in ${plural(content.repositories.size, "repository", "repositories")}) read-only at ${server.url}`);
        for (const image of content.images) out.info(`  ${server.address}/${image.repository}${image.reference.includes(":") ? "@" : ":"}${image.reference}`);
        if (listen.host === "127.0.0.1" || listen.host === "::1" || listen.host === "localhost") out.info("only this machine can reach it; for other nodes: --listen 0.0.0.0:5000");
        else if (!tls) out.info(`plain HTTP: other nodes' engines must be told to trust it (Docker: "insecure-registries" in daemon.json; containerd: a hosts.toml for the address), or serve HTTPS with --tls-cert/--tls-key`);
        out.info("press Ctrl-C to stop");
        await new Promise<void>((resolve) => {
          if (context.signal.aborted) resolve();
          context.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        await server.stop();
        const { requests, bytes, cutShort } = server.totals;
        out.result(`stopped: ${plural(requests, "request")} answered, ${formatBytes(bytes)} sent${cutShort > 0 ? `, ${plural(cutShort, "response")} cut short` : ""}`, { address: server.address, requests, bytes, cutShort });
        return EXIT.OK;
      } finally {
        for (const b of bases) await b.close();
      }
    } finally {
      await reader.close();
    }
  },
};

/** Largest certificate chain or key file read: a chain of a few certificates is a few KB. */
const MAX_PEM_BYTES = 1024 * 1024;

async function readPem(path: string): Promise<Buffer> {
  return readSmallFile(path, MAX_PEM_BYTES, "the TLS file");
}

/** Checks that the certificate and key make a TLS context (they are PEM and belong together), in words. */
function checkTls(tls: { cert: Buffer; key: Buffer }, certFile: string, keyFile: string): void {
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (err) {
    const reason = (err as Error).message.replace(/^error:[0-9A-F]+:/, "").replace(/:/g, ": ");
    throw new AirgapError("INVALID_ARGUMENT", `--tls-cert ${certFile} and --tls-key ${keyFile} do not make a TLS certificate and key (${reason})`, {
      hint: "give the PEM certificate chain and its PEM private key",
    });
  }
}
