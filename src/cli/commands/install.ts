/**
 * `bundle install`: render the bundle's manifests for this network and install them into the cluster.
 */
import { AirgapError } from "../../errors.js";
import { parseRegistry } from "../../reference/target.js";
import type { CommandSpec } from "../command.js";
import { boundedByTimeout, checkRenderedReferences, INSTALL_OPTIONS, performInstall, preflightInstall } from "../install-options.js";
import { REGISTRY_OPTIONS, registriesFrom } from "../registry-options.js";
import { runPreflightStep } from "../preflight-step.js";
import type { CommandContext } from "../command.js";
import type { Output } from "../output.js";
import type { ManifestText } from "../../kube/render.js";
import { formatRegistry, type RegistryLocation } from "../../reference/target.js";
import { openVerifiedBundle } from "../open-bundle.js";
import { KEY_OPTION } from "../keys.js";
import { DEFAULT_CLUSTER_TIMEOUT, targetLayoutOf, targetLayoutOption } from "../shared-options.js";

/** The `install` command. */
export const installCommand: CommandSpec = {
  command: "install <bundle>",
  summary: "Render the bundle's manifests and install them into the cluster, then wait until it is ready",
  description:
    "Render the bundle's manifests ({{REGISTRY}} becomes --registry; {KEY} placeholders take --config and --set values;\n" +
    "unresolved ones are refused with file:line), then apply them server-side in natural file order (1, 2, …, 10),\n" +
    "Namespaces and CRDs first in each file, waiting for each CRD to be Established before objects of its kind.\n" +
    "Then wait until Deployments, StatefulSets and DaemonSets are available and Jobs complete, reporting pods that\n" +
    "cannot pull their image (and whether the bundle has it). --dry-run writes the rendered files and prints the plan.\n" +
    "Charts are installed first, as Helm releases when helm is on the PATH (helm upgrade --install, image references\n" +
    "relocated by our post-renderer), else from their rendering at save like the manifests.",
  examples: [
    ["bundle install bundles/ai-devops-5.1.0.tar --registry 10.0.0.5:5000 --config ai-devops.config", "Install after `bundle load --no-install`"],
    ["bundle install bundles/ai-devops-5.1.0.tar --registry 10.0.0.5:5000 --dry-run --out rendered", "See what would be applied"],
    ["bundle install bundles/ai-devops-5.1.0.tar --registry 10.0.0.5:5000 --install-script ./install-ai-devops.sh", "Run your own installer on the rendered files"],
  ],
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: {
    registry: { type: "string", describe: "Private registry HOST[:PORT][/PREFIX] the images were loaded into", demandOption: true, requiresArg: true },
    ...targetLayoutOption("The layout the load used: host (REGISTRY/<host>/<path>) or strip-host (REGISTRY/<path>)"),
    "dry-run": { type: "boolean", describe: "Render into --out (default ./rendered) and print the plan; touch no cluster" },
    "skip-verify": { type: "boolean", describe: "Do not check the bundle's .sha256 first" },
    ...KEY_OPTION,
    ...INSTALL_OPTIONS,
    ...REGISTRY_OPTIONS,
  },
  async run(args, out, commandContext) {
    const registry = parseRegistry(String(args.registry));
    const layout = targetLayoutOf(args);
    if (args["dry-run"] && args["install-script"] !== undefined) throw new AirgapError("INVALID_ARGUMENT", "--dry-run and --install-script contradict each other");
    // --timeout bounds the whole install, every request and wait in it.
    const context = boundedByTimeout(commandContext, args, "the install", DEFAULT_CLUSTER_TIMEOUT);
    const reader = await openVerifiedBundle(args, out);
    try {
      if (!reader.installs()) throw new AirgapError("INVALID_ARGUMENT", `${reader.path} carries no manifests or charts to install`, { hint: "save it with --manifests DIR" });
      const pre = await preflightInstall(reader, args, out, registry, layout, "install", context.signal);
      if (pre.cluster && args["skip-preflight"] !== true) {
        const connection = await registriesFrom(args, context, [registry.host]);
        try {
          await runPreflightStep(pre, out, { registry, connection, signal: context.signal });
        } finally {
          await connection.registries.close();
        }
      }
      const code = await performInstall(pre, reader, args, out, context);
      if (args["dry-run"]) await checkIfReachable(pre.prepared.files, registry, args, out, context);
      return code;
    } finally {
      await reader.close();
    }
  },
};

/** `--dry-run`: every rendered image reference is asked of the registry, when it answers (one try, then a warning). */
async function checkIfReachable(files: ManifestText[], registry: RegistryLocation, args: Record<string, unknown>, out: Output, context: CommandContext): Promise<void> {
  const connection = await registriesFrom({ ...args, retries: Math.min(Number(args.retries ?? 1), 1) }, context, [registry.host]);
  try {
    const reached = await connection.registries.host(registry.host).base(context.signal).then(
      () => true,
      (err: Error) => {
        out.warn(`cannot reach ${formatRegistry(registry)} (${err.message}): the rendered image references were not checked`);
        return false;
      },
    );
    if (reached) await checkRenderedReferences(files, registry, connection, out, context);
  } finally {
    await connection.registries.close();
  }
}
