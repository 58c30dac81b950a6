/**
 * The preflight as a step of `bundle preflight`, `bundle install` and `bundle load` (before the push): runs the
 * checks, prints one line per check (pass / warn / FAIL, then what it found), a summary with the time taken,
 * and stops the command on a failure.
 */
import { AirgapError } from "../errors.js";
import type { PreflightCheck } from "../ops/preflight.js";
import { formatRegistry, type RegistryLocation } from "../reference/target.js";
import type { Registries } from "../registry/registries.js";
import { plural } from "../util/plural.js";
import type { InstallPreflight } from "./install-options.js";
import type { Output } from "./output.js";

/** How the preflight reaches the registry for the images check (omitted: images are checked after the push). */
export interface PreflightImages {
  registry: RegistryLocation;
  connection: { registries: Registries };
  signal: AbortSignal;
}

/** Runs the preflight on a prepared install whose cluster answers; throws PREFLIGHT_FAILED when a check fails. */
export async function runPreflightStep(pre: InstallPreflight, out: Output, images?: PreflightImages, hint = "fix what is listed and run it again, or pass --skip-preflight to go on regardless"): Promise<PreflightCheck[]> {
  if (!pre.cluster) throw new AirgapError("KUBE_UNREACHABLE", "the preflight needs a cluster");
  const started = Date.now();
  const { runPreflight, imagesCheck } = await import("../ops/preflight.js");
  const checks = await runPreflight(pre.cluster, pre.prepared.plan, {
    ...(images && {
      images: async () => {
        const { checkReferences } = await import("../ops/check-references.js");
        const host = images.connection.registries.host(images.registry.host);
        const origin = await host.base(images.signal);
        const result = await checkReferences(pre.prepared.files, images.registry, host, { signal: images.signal });
        return imagesCheck(formatRegistry(images.registry), result, origin.startsWith("http://"));
      },
    }),
  });
  const seconds = (Date.now() - started) / 1000;
  const count = (s: PreflightCheck["status"]) => checks.filter((c) => c.status === s).length;
  if (out.json) out.jsonLine({ type: "preflight", checks, seconds: Number(seconds.toFixed(2)) });
  else {
    for (const c of checks) {
      out.info(`${c.status === "fail" ? "FAIL" : c.status} ${c.check}: ${c.message}`);
      for (const d of c.details) out.info(`    ${d}`);
    }
  }
  out.info(`preflight: ${count("pass")} passed, ${plural(count("warn"), "warning")}, ${count("fail")} failed (${seconds.toFixed(1)}s)`);
  const failed = checks.filter((c) => c.status === "fail");
  if (failed.length > 0) {
    throw new AirgapError("PREFLIGHT_FAILED", `the cluster is not ready for this bundle: ${failed.map((c) => c.check).join(", ")} failed`, { hint });
  }
  return checks;
}
