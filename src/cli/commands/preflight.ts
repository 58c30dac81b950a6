/**
 * `bundle preflight`: what the cluster lacks for this bundle, known before anything is pushed or applied.
 */
import { parseRegistry } from "../../reference/target.js";
import type { CommandSpec } from "../command.js";
import { boundedByTimeout, INSTALL_OPTIONS, preflightInstall } from "../install-options.js";
import { openVerifiedBundle } from "../open-bundle.js";
import { EXIT } from "../output.js";
import { runPreflightStep } from "../preflight-step.js";
import { REGISTRY_OPTIONS, registriesFrom } from "../registry-options.js";
import { KEY_OPTION } from "../keys.js";
import { targetLayoutOf, targetLayoutOption } from "../shared-options.js";

const pick = (names: string[]) => Object.fromEntries(names.map((n) => [n, INSTALL_OPTIONS[n]!]));

/** The `preflight` command. */
export const preflightCommand: CommandSpec = {
  command: "preflight <bundle>",
  summary: "Check the cluster and the registry against the bundle's install plan, read-only",
  description:
    "Render the bundle's manifests and check, without changing anything: every kind is served by the cluster or\n" +
    "defined by a CRD of the bundle (naming what provides a missing API group), every namespace exists or is created,\n" +
    "volume claims have their storage class, this kubeconfig's user may apply every object (SelfSubjectAccessReview),\n" +
    "the workloads' requests fit the nodes (extended resources such as nvidia.com/gpu too), no admission webhook\n" +
    "lacks a ready endpoint, and every image reference resolves in --registry. One line per check; exit 1 on a failure.",
  examples: [
    ["bundle preflight bundles/ai-devops-5.1.0.tar --registry 10.0.0.5:5000 --config ai-devops.config", "Before bundle load: what would stop the install"],
    ["bundle preflight bundles/ai-devops-5.1.0.tar --registry 10.0.0.5:5000 --skip-kind ConsoleYAMLSample", "Leave out a kind this cluster does not have"],
  ],
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: {
    registry: { type: "string", describe: "Private registry HOST[:PORT][/PREFIX] the images are (or will be) in", demandOption: true, requiresArg: true },
    ...targetLayoutOption("The layout of the load: host (REGISTRY/<host>/<path>) or strip-host"),
    "skip-verify": { type: "boolean", describe: "Do not check the bundle's .sha256 first" },
    ...KEY_OPTION,
    ...pick(["config", "set", "secret-key", "allow-unresolved", "kubeconfig", "context", "request-timeout", "skip-kind", "max-manifest-size", "convert-apis", "webhook-side-effects"]),
    ...REGISTRY_OPTIONS,
    timeout: { type: "string", describe: "The whole preflight's bound, every request in it (e.g. 5m, 90s)", default: "5m", requiresArg: true },
  },
  async run(args, out, commandContext) {
    const registry = parseRegistry(String(args.registry));
    const context = boundedByTimeout(commandContext, args, "the preflight", "5m");
    const layout = targetLayoutOf(args);
    const reader = await openVerifiedBundle(args, out);
    try {
      const pre = await preflightInstall(reader, args, out, registry, layout, "install", context.signal);
      const connection = await registriesFrom(args, context, [registry.host]);
      try {
        await runPreflightStep(pre, out, { registry, connection, signal: context.signal }, "fix what is listed, then load or install the bundle");
      } finally {
        await connection.registries.close();
      }
      return EXIT.OK;
    } finally {
      await reader.close();
    }
  },
};
