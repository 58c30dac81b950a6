/**
 * `bundle uninstall`: delete what the bundle's manifests define, in reverse order.
 */
import { plural } from "../../util/plural.js";
import { AirgapError } from "../../errors.js";
import { parseRegistry, type TargetLayout } from "../../reference/target.js";
import { formatDuration, parseDuration } from "../../util/duration.js";
import type { CommandSpec } from "../command.js";
import { boundedByTimeout, clusterFrom, INSTALL_OPTIONS, renderSettingsFrom } from "../install-options.js";
import { EXIT } from "../output.js";
import { REPORT_MARGIN_MS } from "../../util/deadline.js";
import { DEFAULT_CLUSTER_TIMEOUT } from "../shared-options.js";

/** The `uninstall` command. */
export const uninstallCommand: CommandSpec = {
  command: "uninstall <bundle>",
  summary: "Delete what the bundle's manifests define, last first, and wait for its namespaces to go",
  description:
    "Delete every object the bundle's manifests define, in the reverse of the install order (so Namespaces and CRDs\n" +
    "go after what they hold). Objects already gone count as deleted. With --wait (the default), wait until the\n" +
    "namespaces are gone. Give the same --config/--set as the install when names or namespaces are placeholders.",
  examples: [["bundle uninstall bundles/ai-devops-5.1.0.tar --config ai-devops.config", "Remove an install"]],
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: {
    registry: { type: "string", describe: "Private registry (only needed if a name holds {{REGISTRY}})", default: "registry.invalid", requiresArg: true },
    config: INSTALL_OPTIONS.config!,
    set: INSTALL_OPTIONS.set!,
    kubeconfig: INSTALL_OPTIONS.kubeconfig!,
    context: INSTALL_OPTIONS.context!,
    "request-timeout": INSTALL_OPTIONS["request-timeout"]!,
    wait: { type: "boolean", describe: "Wait until the bundle's namespaces are gone (--no-wait to skip)", default: true },
    timeout: { type: "string", describe: "The whole uninstall's bound, waiting included (e.g. 5m)", default: DEFAULT_CLUSTER_TIMEOUT, requiresArg: true },
  },
  async run(args, out, commandContext) {
    parseDuration(String(args["request-timeout"]), "--request-timeout");
    // --timeout bounds the whole uninstall, every request and wait in it.
    const context = boundedByTimeout(commandContext, args, "the uninstall", DEFAULT_CLUSTER_TIMEOUT);
    const { BundleReader } = await import("../../bundle/reader.js");
    const { prepareInstall } = await import("../../ops/install.js");
    const { uninstallPlan } = await import("../../kube/uninstall.js");
    const reader = await BundleReader.open(String(args.bundle));
    try {
      if (reader.manifestFiles().length === 0) throw new AirgapError("INVALID_ARGUMENT", `${reader.path} carries no manifests`);
      // Identities (kind, namespace, name) are what matter here: placeholders elsewhere may stay unresolved.
      const settings = await renderSettingsFrom({ ...args, "allow-unresolved": true }, parseRegistry(String(args.registry)), "host" as TargetLayout);
      const prepared = await prepareInstall(reader, settings);
      out.setRedactor((t) => prepared.redactor.redact(t));
      const unnamed = prepared.plan.filter((p) => /\{[A-Za-z_]/.test(`${p.object.metadata.name ?? ""}${p.object.metadata.namespace ?? ""}`));
      if (unnamed.length > 0) {
        throw new AirgapError("UNRESOLVED_PLACEHOLDERS", `${unnamed.length} object${unnamed.length === 1 ? "'s" : "s'"} name or namespace is a placeholder without a value`, {
          problems: unnamed.map((p) => ({ file: p.file, text: `${p.object.kind} ${p.object.metadata.name ?? ""}`, reason: "give its value with --config or --set" })),
        });
      }
      const cluster = await clusterFrom(args, context.signal);
      await cluster.ping();
      const result = await uninstallPlan(cluster, prepared.plan, {
        wait: args.wait !== false,
        deadline: context.deadline - REPORT_MARGIN_MS,
        signal: context.signal,
        onEvent: (e) => {
          if (out.json) out.jsonLine(e);
          else if (e.type === "deleted") out.result(`${e.key} ${e.outcome === "absent" ? "already gone" : e.outcome}${e.message ? `: ${e.message}` : ""}`, e);
          else if (e.type === "namespaces-wait") out.info(`waiting for namespace${e.namespaces.length === 1 ? "" : "s"} to go: ${e.namespaces.join(", ")} (up to ${formatDuration(context.deadline - Date.now())})`);
          else out.info(`waiting for the kubelets to stop ${plural(e.pods.length, "pod")}: ${e.pods.slice(0, 3).join(", ")}${e.pods.length > 3 ? ", …" : ""} (up to ${formatDuration(context.deadline - Date.now())})`);
        },
      });
      if (result.failed.length > 0) {
        throw new AirgapError("INSTALL_FAILED", `${plural(result.failed.length, "object")} could not be deleted`, { problems: result.failed.map((f) => ({ text: f.key, reason: f.message })) });
      }
      out.info(`${result.deleted} deleted, ${result.absent} already gone`);
      return EXIT.OK;
    } finally {
      await reader.close();
    }
  },
};
