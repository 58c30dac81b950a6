/**
 * Bundle format v1 (DESIGN.md, "Bundle format v1"): what bundle.json holds and where entries live.
 * The format is a contract between `save` and `load` and between versions of the tool.
 */

/** The `format` value of bundles this version writes and reads. */
export const BUNDLE_FORMAT = "airgap-bundle/v1";

/** Entry names of the bundle's own files. */
export const ENTRY = {
  bundleJson: "bundle.json",
  ociLayout: "oci-layout",
  indexJson: "index.json",
  imagelist: "imagelist",
  sums: "SHA256SUMS",
  blobsDir: "blobs/sha256/",
  manifestsDir: "manifests/",
  /** Values files of the charts, `charts/NAME-VERSION/N-FILE`. */
  chartsDir: "charts/",
} as const;

/** The annotation that names an image in index.json (the normalised source reference). */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

/** One image in bundle.json. */
export interface BundleImage {
  /** Normalised source reference. */
  source: string;
  /** Line of the imagelist it came from. */
  line: number;
  /** Digest of the top manifest (index or image manifest), as pulled. */
  digest: string;
  mediaType: string;
  /** Selected platform → image manifest digest. */
  platformDigests: Record<string, string>;
  /**
   * The digest the private registry holds after a load, when it is not `digest`: an index of which only some
   * platforms were kept is pushed as the kept manifest, or as a new index of the kept ones. Manifests that
   * pinned the index digest are pinned to this one.
   */
  targetDigest?: string;
  /** Bytes of every blob of the image in the bundle (manifests, configs, layers). */
  size: number;
  /** Where it goes under the private registry: `<source host>/<path>[:tag][@digest]`. */
  target: string;
  /** `docker-daemon` when the image was read from a local Docker engine (absent: from its registry). */
  transport?: "docker-daemon";
  /** The repository that served it (`host/path`) when it was read through a mirror; the image keeps its own name. */
  mirror?: string;
}

/** A manifest file carried in the bundle and the images it uses. */
export interface BundleManifestFile {
  path: string;
  images: string[];
}

/** The contents of bundle.json. */
/** What a delta was made against and relies on without carrying (docs/bundle-format.md, "Deltas"). */
export interface BundleBase {
  /** The inventories it was made against: each file's sha256 (hex), where it was read, when. */
  inventories: Array<{ sha256: string; source: string; created: string }>;
  /** Configs and layers the images need that the delta does not carry, each with a repository that holds it. */
  blobs: Array<{ digest: string; size: number; repository: string }>;
  /** Their count and bytes: what the delta saved. */
  external: { count: number; bytes: number };
}

/** A signature, attestation, SBOM or other artifact attached to an image, carried with it. */
export interface BundleReferrer {
  /** The image it is attached to (`images[].source`), and that image's digest (its manifest's `subject`). */
  subject: string;
  subjectDigest: string;
  /** Its name in index.json: the subject's repository at the referrer's digest (`host/path@sha256:…`). */
  name: string;
  digest: string;
  mediaType: string;
  size: number;
  /** cosign's objects by their tag suffix, or an OCI 1.1 referrer (found through the API or its fallback tag). */
  kind: "cosign-signature" | "cosign-attestation" | "cosign-sbom" | "referrer";
  artifactType?: string;
  /** cosign's tag (`sha256-<subject hex>.sig`), under which a load pushes it. */
  tag?: string;
}

/** A Helm chart carried as an OCI artifact (docs/charts.md). */
export interface BundleChart {
  name: string;
  version: string;
  /** Where it came from, as given (`oci://…`, `https://REPO NAME VERSION`, a path). */
  source: string;
  /** Its manifest's digest; index.json names it `charts/NAME:TAG`. */
  digest: string;
  /** The chart archive's digest (its content layer). */
  chartDigest: string;
  /** Where a load pushes it, below the registry's prefix: `charts/NAME:TAG`. */
  target: string;
  /** What `install` installs it as. */
  release: string;
  namespace: string;
  /** Its values files in the bundle, in the order Helm merges them. */
  values: string[];
  /** The images it deploys (normalised), and how they were found. */
  images: string[];
  found: "rendered" | "values";
  /**
   * Its templates as helm rendered them at save with its values, references rewritten to `{{REGISTRY}}/…` like
   * manifests: what an install applies where the closed side has no helm (absent: helm was not on the PATH at save).
   */
  rendered?: string;
}

export interface BundleJson {
  format: typeof BUNDLE_FORMAT;
  name: string;
  version: string;
  created: string;
  tool: { name: string; version: string };
  platforms: string[];
  images: BundleImage[];
  manifests: BundleManifestFile[];
  blobs: { count: number; bytes: number };
  /** What is attached to the images (absent: none, or a bundle saved before referrers travelled). */
  referrers?: BundleReferrer[];
  /** A delta's base (what it relies on the site to hold), null for a whole bundle. */
  base: BundleBase | null;
  /** Helm charts (absent: none, or a bundle saved before charts travelled). */
  charts?: BundleChart[];
}

/** Bundle file name: `NAME-VERSION.tar`. */
export function bundleFileName(name: string, version: string): string {
  return `${name}-${version}.tar`;
}

/** Name of the n-th part (1-based) of a split bundle: `NAME-VERSION.tar.001`. */
export function partFileName(tarName: string, n: number): string {
  return `${tarName}.${String(n).padStart(3, "0")}`;
}

/** True for the name of a part of a split bundle (`….tar.001`). */
export function isPartName(path: string): boolean {
  return /\.\d{3}$/.test(path);
}

/** The bundle a path names: `NAME.tar` for `NAME.tar.001`, the path itself otherwise. */
export function wholeTarName(path: string): string {
  return isPartName(path) ? path.slice(0, -4) : path;
}

/** True when `name` is a part of the bundle `tarName` (`tarName.001`, `tarName.002`, …). */
export function isPartOf(name: string, tarName: string): boolean {
  return name.startsWith(`${tarName}.`) && /^\d{3}$/.test(name.slice(tarName.length + 1));
}
