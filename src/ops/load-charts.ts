/**
 * Helm charts at load: each chart the bundle carries pushed to the private registry as Helm pushes it
 * (`REGISTRY[/PREFIX]/charts/NAME:TAG`), so that `helm pull oci://REGISTRY/charts/NAME --version V` works in the
 * closed network; then its tag is asked back and must name the bundle's digest.
 */
import { Readable } from "node:stream";
import type { BundleChart } from "../bundle/format.js";
import type { BundleReader } from "../bundle/reader.js";
import { chartParts } from "../charts/artifact.js";
import { MAX_CHART_BYTES } from "../charts/archive.js";
import type { RegistryHost } from "../registry/client.js";
import { RegistryRepository } from "../registry/repository.js";
import type { RegistryLocation } from "../reference/target.js";

/** One chart after the load. */
export interface LoadedChart {
  name: string;
  version: string;
  /** `REGISTRY/charts/NAME:TAG`, what `helm pull oci://…` names. */
  target: string;
  digest: string;
  verified: boolean;
  problem?: string;
}

/** Where a chart of the bundle goes: its repository below the registry's prefix, and its tag. */
export function chartRepository(chart: BundleChart, registry: RegistryLocation): { path: string; tag: string } {
  const [path, tag] = chart.target.split(":") as [string, string];
  return { path: registry.prefix ? `${registry.prefix}/${path}` : path, tag };
}

/** Pushes every chart (its blobs, then its manifest under its tag) and checks the tag; a failure is that chart's problem. */
export async function pushCharts(reader: BundleReader, registry: RegistryLocation, host: RegistryHost, signal?: AbortSignal): Promise<LoadedChart[]> {
  const out: LoadedChart[] = [];
  for (const chart of reader.bundle.charts ?? []) {
    const { path, tag } = chartRepository(chart, registry);
    const base = { name: chart.name, version: chart.version, target: `${registry.host}/${path}:${tag}`, digest: chart.digest };
    try {
      const top = reader.index.get(chart.target);
      if (!top) throw new Error(`${chart.target} is not in index.json`);
      const manifest = await reader.fetchBytes(top, MAX_CHART_BYTES);
      const parts = chartParts(manifest, `chart ${chart.name} ${chart.version}`);
      const repository = new RegistryRepository(host, path);
      for (const d of [parts.config, parts.chart, ...parts.others]) {
        if (await repository.exists(d, signal)) continue;
        const bytes = await reader.fetchBytes(d, MAX_CHART_BYTES);
        await repository.push(d, async () => Readable.from([bytes]), signal);
      }
      await repository.push(top, async () => Readable.from([manifest]), signal);
      await repository.tag(top, { domain: registry.host, path, tag }, signal);
      const got = await repository.headManifest(tag, signal);
      out.push(got === chart.digest ? { ...base, verified: true } : { ...base, verified: false, problem: `${base.target} resolves to ${got ?? "nothing"}, not ${chart.digest}` });
    } catch (err) {
      out.push({ ...base, verified: false, problem: (err as Error).message });
    }
  }
  return out;
}
