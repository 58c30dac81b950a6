/**
 * `bundle uninstall`: delete what the bundle's manifests define, in reverse order.
 */
import { plural } from "../../util/plural.js";
import { DEFAULT_TARGET_LAYOUT, parseRegistry } from "../../reference/target.js";
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
    "namespaces are gone and the kubelets have stopped the deleted workloads' pods. Give the same --config/--set\n" +
    "as the install when names or namespaces are placeholders. A chart installed as a Helm release is removed with\n" +
    "helm uninstall (its namespace stays).",
  examples: [["bundle uninstall bundles/ai-devops-5.1.0.tar --config ai-devops.config", "Remove an install"]],
  positionals: { bundle: { type: "string", describe: "The bundle: NAME-VERSION.tar, its first part, or the base name of its parts" } },
  options: {
    registry: { type: "string", describe: "Private registry (only needed if a name holds {{REGISTRY}})", default: "registry.invalid", requiresArg: true },
    config: INSTALL_OPTIONS.config!,
    set: INSTALL_OPTIONS.set!,
    kubeconfig: INSTALL_OPTIONS.kubeconfig!,
    context: INSTALL_OPTIONS.context!,
    "request-timeout": INSTALL_OPTIONS["request-timeout"]!,
    wait: { type: "boolean", describe: "Wait until the bundle's namespaces, and the deleted workloads' pods, are gone (--no-wait to skip)", default: true },
    timeout: { type: "string", describe: "The whole uninstall's bound, waiting included (e.g. 5m)", default: DEFAULT_CLUSTER_TIMEOUT, requiresArg: true },
    helm: { type: "boolean", describe: "Charts installed as Helm releases are uninstalled with the helm on the PATH (--no-helm: delete their objects as rendered at save)", default: true },
  },
  async run(args, out, commandContext) {
    parseDuration(String(args["request-timeout"]), "--request-timeout");
    // --timeout bounds the whole uninstall, every request and wait in it.
    const context = boundedByTimeout(commandContext, args, "the uninstall", DEFAULT_CLUSTER_TIMEOUT);
    const { BundleReader } = await import("../../bundle/reader.js");
    const { prepareUninstall, uninstallPrepared, uninstallReleases } = await import("../../ops/uninstall.js");
    const reader = await BundleReader.open(String(args.bundle));
    try {
      // Identities (kind, namespace, name) are what matter here: placeholders elsewhere may stay unresolved.
      let prepared = await prepareUninstall(reader, await renderSettingsFrom(args, parseRegistry(String(args.registry)), DEFAULT_TARGET_LAYOUT));
      out.setRedactor((t) => prepared.redactor.redact(t));
      const cluster = await clusterFrom(args, context.signal);
      const helm = args.helm === false || (reader.bundle.charts ?? []).length === 0 ? undefined : await (await import("../../charts/render.js")).findHelm();
      let releases: string[] = [];
      if (helm !== undefined) {
        ({ prepared, removed: releases } = await uninstallReleases(reader, prepared, helm, {
          ...(args.kubeconfig !== undefined && { kubeconfig: String(args.kubeconfig) }),
          ...(args.context !== undefined && { context: String(args.context) }),
          wait: args.wait !== false, deadline: context.deadline - REPORT_MARGIN_MS, signal: context.signal,
          onRelease: (name, namespace) => out.result(`release ${name} in ${namespace} uninstalled`, { type: "release-uninstalled", name, namespace }),
        }));
      }
      const result = await uninstallPrepared(prepared, cluster, {
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
      out.info(`${result.deleted} deleted, ${result.absent} already gone${releases.length > 0 ? `; ${plural(releases.length, "Helm release")} uninstalled (${releases.join(", ")})` : ""}`);
      return EXIT.OK;
    } finally {
      await reader.close();
    }
  },
};
