/**
 * A chart as an OCI artifact, in Helm's own media types (what `helm push` writes and `helm pull oci://…` reads):
 * an image manifest whose config is Chart.yaml as JSON and whose one layer is the chart's archive.
 */
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { MediaType } from "../oci/media-types.js";
import { digestOf } from "../oci/verify.js";
import type { ChartMetadata } from "./chart.js";

export const HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json";
export const HELM_CHART_CONTENT = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
export const HELM_PROVENANCE = "application/vnd.cncf.helm.chart.provenance.v1.prov";

/** A chart's artifact: its manifest and blobs, each with its bytes. */
export interface ChartArtifact {
  manifest: { descriptor: Descriptor; bytes: Buffer };
  config: { descriptor: Descriptor; bytes: Buffer };
  /** The chart's archive (and a provenance file, when the registry had one). */
  layers: Array<{ descriptor: Descriptor; bytes: Buffer }>;
}

/** The descriptor of some bytes. */
function described(mediaType: string, bytes: Buffer): { descriptor: Descriptor; bytes: Buffer } {
  return { descriptor: { mediaType, digest: digestOf(bytes), size: bytes.length }, bytes };
}

/** Builds the artifact of a chart archive (from a chart repository or a local chart), as `helm push` would. */
export function chartArtifact(metadata: ChartMetadata, tgz: Buffer): ChartArtifact {
  const config = described(HELM_CONFIG, Buffer.from(JSON.stringify(metadata)));
  const chart = described(HELM_CHART_CONTENT, tgz);
  const annotations: Record<string, string> = {
    "org.opencontainers.image.title": metadata.name,
    "org.opencontainers.image.version": metadata.version,
    ...(typeof metadata.description === "string" && metadata.description !== "" && { "org.opencontainers.image.description": metadata.description }),
  };
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: config.descriptor, layers: [chart.descriptor], annotations };
  return { manifest: described(MediaType.OciManifest, Buffer.from(JSON.stringify(manifest))), config, layers: [chart] };
}

/** The config and layer descriptors of a chart's manifest; INVALID_CHART when it is not a Helm chart. */
export function chartParts(manifestBytes: Buffer, label: string): { config: Descriptor; chart: Descriptor; others: Descriptor[] } {
  let m: { config?: Descriptor; layers?: Descriptor[] };
  try {
    m = JSON.parse(manifestBytes.toString("utf8")) as typeof m;
  } catch {
    throw new AirgapError("INVALID_CHART", `${label}: its manifest is not JSON`);
  }
  if (m.config?.mediaType !== HELM_CONFIG) throw new AirgapError("INVALID_CHART", `${label} is not a Helm chart (its config is ${String(m.config?.mediaType)}, not ${HELM_CONFIG})`);
  const layers = Array.isArray(m.layers) ? m.layers : [];
  const chart = layers.find((l) => l.mediaType === HELM_CHART_CONTENT);
  if (!chart) throw new AirgapError("INVALID_CHART", `${label}: its manifest has no ${HELM_CHART_CONTENT} layer`);
  return { config: m.config, chart, others: layers.filter((l) => l !== chart) };
}

/** The tag a chart version goes by in a registry: Helm writes `+` (not allowed in a tag) as `_`. */
export function chartTag(version: string): string {
  return version.replace(/\+/g, "_");
}
