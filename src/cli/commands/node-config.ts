/**
 * `bundle node-config`: the containerd registry configuration each node needs to pull what a load pushed.
 */
import { AirgapError } from "../../errors.js";
import { parseReference } from "../../reference/reference.js";
import { parseRegistry } from "../../reference/target.js";
import { plural } from "../../util/plural.js";
import { readSmallFile } from "../../util/small-file.js";
import { checkOutputFolderIsFolder } from "../../util/output-path.js";
import type { CommandSpec } from "../command.js";
import { openVerifiedBundle } from "../open-bundle.js";
import { EXIT } from "../output.js";
import { targetLayoutOf, targetLayoutOption } from "../shared-options.js";

/** Largest CA file read (a PEM bundle of a few certificates). */
const MAX_CA_BYTES = 1024 * 1024;

/** The `node-config` command. */
export const nodeConfigCommand: CommandSpec = {
  command: "node-config",
  summary: "Write the containerd registry configuration (hosts.toml) the nodes need to pull from the private registry",
  description:
    "Write containerd's registry host configuration (one HOST/hosts.toml per registry, the folder containerd reads as\n" +
    "its config_path, /etc/containerd/certs.d on most nodes; read at every pull, no restart) for the private registry:\n" +
    "plain HTTP (--plain-http) or a private CA (--ca-file, copied beside it). With --bundle, every host the bundle's\n" +
    "images came from (docker.io, gcr.io, …) is made a mirror served only by the private registry, so a manifest that\n" +
    "was not rewritten still pulls from it, and the pause image the bundle carries is printed as containerd's\n" +
    "sandbox_image (a closed network's nodes cannot pull registry.k8s.io/pause). Copy --out to each node.\n" +
    "A file already there with the same content is left as it is; a different one is replaced only with --force.",
  examples: [
    ["bundle node-config --bundle ai-devops-5.1.tar --registry 10.0.0.5:5000 --plain-http --out certs.d", "Plain HTTP, mirrors and the pause image from the bundle"],
    ["bundle node-config --registry harbor.local/ai-devops --ca-file site-ca.crt --mirror docker.io --out certs.d", "A Harbor project signed by the site's CA"],
  ],
  options: {
    registry: { type: "string", describe: "Private registry HOST[:PORT][/PREFIX], as given to bundle load", demandOption: true, requiresArg: true },
    out: { type: "string", describe: "Folder to write HOST/hosts.toml files into (copied to each node's config_path)", demandOption: true, requiresArg: true },
    bundle: { type: "string", describe: "The bundle loaded: its images' hosts become mirrors, its pause image the sandbox_image", requiresArg: true },
    "plain-http": { type: "boolean", describe: "The registry speaks plain HTTP" },
    "ca-file": { type: "string", describe: "The CA certificate (PEM) that signed the registry's certificate", requiresArg: true },
    mirror: { type: "string", array: true, describe: "Also serve images named after HOST from the private registry; repeatable", requiresArg: true },
    "sandbox-image": { type: "string", describe: "The pause image (its name as saved, e.g. registry.k8s.io/pause:3.10) for sandbox_image", requiresArg: true },
    ...targetLayoutOption("As given to bundle load: host (REGISTRY/<host>/<path>) or strip-host"),
    "config-path": { type: "string", describe: "Where --out goes on the nodes, for the config.toml lines printed", default: "/etc/containerd/certs.d", requiresArg: true },
    force: { type: "boolean", describe: "Replace hosts.toml files in --out that say something else" },
  },
  async run(args, out) {
    const { nodeConfig, pauseImageOf, sourceHostsOf, writeNodeConfig } = await import("../../ops/node-config.js");
    const registry = parseRegistry(String(args.registry));
    const outDir = String(args.out);
    await checkOutputFolderIsFolder(outDir, "--out");
    if (args["plain-http"] === true && args["ca-file"] !== undefined) {
      throw new AirgapError("INVALID_ARGUMENT", "--plain-http and --ca-file contradict each other", { hint: "a registry with a certificate speaks HTTPS: leave out --plain-http" });
    }
    const ca = args["ca-file"] === undefined ? undefined : await readSmallFile(String(args["ca-file"]), MAX_CA_BYTES, "--ca-file");
    if (ca && !ca.toString("utf8").includes("-----BEGIN CERTIFICATE-----")) {
      throw new AirgapError("INVALID_ARGUMENT", `--ca-file ${String(args["ca-file"])} holds no PEM certificate`, { hint: "give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)" });
    }
    const mirrors = ((args.mirror as string[] | undefined) ?? []).map((m) => parseRegistry(m).host);
    let sandboxImage = args["sandbox-image"] === undefined ? undefined : parseReference(String(args["sandbox-image"]));
    if (args.bundle !== undefined) {
      const reader = await openVerifiedBundle(args, out);
      try {
        const sources = reader.bundle.images.map((i) => i.source);
        mirrors.push(...sourceHostsOf(sources));
        sandboxImage ??= pauseImageOf(sources);
        if (!sandboxImage) out.warn(`${reader.path} carries no pause image: each node needs one it can pull or already has (containerd's sandbox_image); add registry.k8s.io/pause to the imagelist`);
      } finally {
        await reader.close();
      }
    }
    const config = nodeConfig({ registry, layout: targetLayoutOf(args), plainHttp: args["plain-http"] === true, ...(ca && { ca }), mirrors, ...(sandboxImage && { sandboxImage }) });
    const written = await writeNodeConfig(outDir, config, { force: args.force === true });
    const toml = config.containerdToml(String(args["config-path"]));
    out.result(toml.trimEnd(), { written: written.written, unchanged: written.unchanged, sandboxImage: config.sandboxImage ?? null, containerdConfig: toml });
    const hosts = config.files.filter((f) => f.path.endsWith("hosts.toml")).length;
    out.info(`${plural(hosts, "registry host")} configured in ${outDir} (${written.written.length} written, ${written.unchanged.length} unchanged)${config.sandboxImage ? `; sandbox_image ${config.sandboxImage}` : ""}`);
    return EXIT.OK;
  },
};
