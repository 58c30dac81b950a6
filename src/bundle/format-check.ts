/**
 * The shapes of bundle.json and index.json, checked before anything trusts them: a bundle is input from
 * outside, and a field of the wrong type must be named (`bundle.json: images[2].digest is not a digest`),
 * not surface later as a crash. Then the two files must agree with each other and name images whose
 * targets do not collide.
 */
import { AirgapError, type Problem } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { parseReference, repositoryOf } from "../reference/reference.js";
import { BUNDLE_FORMAT, ENTRY, REF_NAME_ANNOTATION, type BundleJson } from "./format.js";
import { count, digest, digestMap, fields, isObject, list, reference, string, stringArray } from "./shape.js";

/** Checks the shape of bundle.json; throws INVALID_BUNDLE naming every bad field. */
export function checkBundleJson(value: unknown, path: string): BundleJson {
  const file = ENTRY.bundleJson;
  if (isObject(value) && value.format !== BUNDLE_FORMAT) {
    throw new AirgapError("INVALID_BUNDLE", `${path}: unknown bundle format "${String(value.format)}" (this tool reads ${BUNDLE_FORMAT})`, {
      hint: "use the airgap-bundle version that wrote it, or a newer one",
    });
  }
  const problems: Problem[] = [];
  if (fields(value, "", file, { name: string, version: string, created: string, platforms: stringArray, images: (v) => (Array.isArray(v) ? undefined : "is not a list"), manifests: (v) => (Array.isArray(v) ? undefined : "is not a list") }, problems)) {
    const json = value as Record<string, unknown>;
    if (Array.isArray(json.images)) {
      list(json.images, "images", file, (image, where) => {
        fields(image, where, file, { source: reference, digest, mediaType: string, platformDigests: [digestMap, "optional"], size: count, target: string, targetDigest: [digest, "optional"], mirror: [string, "optional"] }, problems);
      }, problems);
    }
    if (Array.isArray(json.manifests)) list(json.manifests, "manifests", file, (m, where) => void fields(m, where, file, { path: string, images: stringArray }, problems), problems);
    if (json.referrers !== undefined) {
      list(json.referrers, "referrers", file, (r, where) => void fields(r, where, file, { subject: reference, subjectDigest: digest, name: reference, digest, mediaType: string, size: count, kind: string, artifactType: [string, "optional"], tag: [string, "optional"] }, problems), problems);
    }
    if (json.charts !== undefined) {
      list(json.charts, "charts", file, (c, where) => void fields(c, where, file, { name: string, version: string, source: string, digest, chartDigest: digest, target: string, release: string, namespace: string, values: stringArray, images: stringArray, found: string, rendered: [string, "optional"] }, problems), problems);
    }
    if (json.base !== null && json.base !== undefined && fields(json.base, "base", file, { inventories: (v) => (Array.isArray(v) ? undefined : "is not a list"), blobs: (v) => (Array.isArray(v) ? undefined : "is not a list"), external: (v) => (isObject(v) ? undefined : "is not an object") }, problems)) {
      const base = json.base as Record<string, unknown>;
      list(base.inventories, "base.inventories", file, (i, where) => void fields(i, where, file, { sha256: string, source: string, created: string }, problems), problems);
      list(base.blobs, "base.blobs", file, (b, where) => void fields(b, where, file, { digest, size: count, repository: string }, problems), problems);
      fields(base.external, "base.external", file, { count, bytes: count }, problems);
    }
  }
  if (problems.length > 0) throw invalid(path, file, problems);
  return value as BundleJson;
}

/** Checks the shape of index.json; returns its descriptors by image name. */
export function checkIndexJson(value: unknown, path: string): Map<string, Descriptor> {
  const file = ENTRY.indexJson;
  const problems: Problem[] = [];
  const index = new Map<string, Descriptor>();
  if (fields(value, "", file, { manifests: (v) => (Array.isArray(v) ? undefined : "is not a list") }, problems)) {
    list((value as Record<string, unknown>).manifests, "manifests", file, (d, where) => {
      if (!fields(d, where, file, { mediaType: string, digest, size: count, annotations: [(v) => (isObject(v) ? undefined : "is not an object"), "optional"] }, problems)) return;
      const { mediaType, digest: dg, size, annotations } = d as Descriptor & { annotations?: Record<string, unknown> };
      const name = annotations?.[REF_NAME_ANNOTATION];
      if (typeof name !== "string") return;
      if (index.has(name)) problems.push({ file, reason: `${where}: ${name} is listed twice` });
      index.set(name, { mediaType, digest: dg, size });
    }, problems);
  }
  if (problems.length > 0) throw invalid(path, file, problems);
  return index;
}

/**
 * bundle.json and index.json name the same images with the same digests, bundle.json lists the manifest files the
 * bundle carries, and no two images go to one target tag (each load would tag whichever it pushed last). Cheap:
 * nothing but the two files and the tar's index is read.
 */
export function checkAgreement(bundle: BundleJson, index: ReadonlyMap<string, Descriptor>, manifestEntries: readonly string[], path: string, chartFiles: readonly string[] = []): void {
  const problems = agreementProblems(bundle, index, manifestEntries, chartFiles);
  if (problems.length > 0) throw invalid(path, "bundle.json and index.json", problems, "disagree");
}

/** Every way bundle.json and index.json disagree (see {@link checkAgreement}), for `verify --deep` to list. */
export function agreementProblems(bundle: BundleJson, index: ReadonlyMap<string, Descriptor>, manifestEntries: readonly string[], chartFiles: readonly string[] = []): Problem[] {
  const problems: Problem[] = [];
  const carried = new Set(manifestEntries);
  for (const m of bundle.manifests) if (!carried.has(m.path)) problems.push({ file: ENTRY.bundleJson, reason: `lists ${m.path}, which is not in the bundle` });
  const listed = new Set(bundle.manifests.map((m) => m.path));
  for (const name of manifestEntries) if (!listed.has(name)) problems.push({ file: name, reason: "is in the bundle but not listed in bundle.json" });
  const tags = new Map<string, string>();
  for (const image of bundle.images) {
    const d = index.get(image.source);
    if (!d) problems.push({ file: ENTRY.indexJson, reason: `${image.source} is in bundle.json but not in index.json` });
    else if (d.digest !== image.digest) problems.push({ file: ENTRY.indexJson, reason: `${image.source}: index.json says ${d.digest}, bundle.json ${image.digest}` });
    const ref = parseReference(image.source);
    if (ref.tag === undefined) continue;
    const tag = `${repositoryOf(ref)}:${ref.tag}`;
    const first = tags.get(tag);
    if (first !== undefined && first !== image.source) problems.push({ file: ENTRY.bundleJson, reason: `${first} and ${image.source} would both be tagged ${tag}` });
    tags.set(tag, image.source);
  }
  const referrers = new Map((bundle.referrers ?? []).map((r) => [r.name, r]));
  for (const r of referrers.values()) {
    if (!bundle.images.some((i) => i.source === r.subject)) problems.push({ file: ENTRY.bundleJson, reason: `referrer ${r.digest} is attached to ${r.subject}, which the bundle does not carry` });
    if (index.get(r.name)?.digest !== r.digest) problems.push({ file: ENTRY.indexJson, reason: `referrer ${r.name} is not in index.json at ${r.digest}` });
  }
  const charts = new Map((bundle.charts ?? []).map((c) => [c.target, c]));
  const chartListed = new Set([...charts.values()].flatMap((c) => [...c.values, ...(c.rendered ? [c.rendered] : [])]));
  for (const name of chartFiles) if (!chartListed.has(name)) problems.push({ file: name, reason: "is in the bundle but not listed in bundle.json" });
  for (const c of charts.values()) {
    if (index.get(c.target)?.digest !== c.digest) problems.push({ file: ENTRY.indexJson, reason: `chart ${c.name} ${c.version} is not in index.json at ${c.digest}` });
    for (const v of [...c.values, ...(c.rendered ? [c.rendered] : [])]) if (!chartFiles.includes(v)) problems.push({ file: ENTRY.bundleJson, reason: `chart ${c.name} ${c.version}: its values file ${v} is not in the bundle` });
  }
  for (const source of index.keys()) if (!bundle.images.some((i) => i.source === source) && !referrers.has(source) && !charts.has(source)) problems.push({ file: ENTRY.indexJson, reason: `${source} is in index.json but not in bundle.json` });
  return problems;
}

function invalid(path: string, what: string, problems: Problem[], verb = "is malformed"): AirgapError {
  return new AirgapError("INVALID_BUNDLE", `${path}: ${what} ${verb}; nothing was done`, {
    problems,
    hint: "the bundle was altered or damaged after it was saved: copy it again from the source medium and check it with bundle verify",
  });
}
