/**
 * The shapes of bundle.json and index.json, checked before anything trusts them: a bundle is input from
 * outside, and a field of the wrong type must be named (`bundle.json: images[2].digest is not a digest`),
 * not surface later as a crash. Then the two files must agree with each other and name images whose
 * targets do not collide.
 */
import { AirgapError, type Problem } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { digestProblem, parseReference, repositoryOf } from "../reference/reference.js";
import { BUNDLE_FORMAT, ENTRY, REF_NAME_ANNOTATION, type BundleJson } from "./format.js";

type Check = (value: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const string: Check = (v) => (typeof v === "string" ? undefined : "is not a string");
const count: Check = (v) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? undefined : "is not a whole number ≥ 0");
const digest: Check = (v) => (typeof v !== "string" ? "is not a string" : digestProblem(v) === undefined ? undefined : "is not a digest (sha256:<64 hex digits>)");
const reference: Check = (v) => {
  if (typeof v !== "string") return "is not a string";
  try {
    parseReference(v);
    return undefined;
  } catch {
    return "is not an image reference";
  }
};
const stringArray: Check = (v) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "is not a list of strings");
const digestMap: Check = (v) => (isObject(v) && Object.values(v).every((x) => digest(x) === undefined) ? undefined : "is not a map of platforms to digests");

/** Checks `value[key]` for each field; a missing optional field passes. */
function fields(value: unknown, where: string, file: string, spec: Record<string, Check | [Check, "optional"]>, problems: Problem[]): boolean {
  if (!isObject(value)) {
    problems.push({ file, reason: `${where || "the document"} is not an object` });
    return false;
  }
  for (const [key, rule] of Object.entries(spec)) {
    const [check, optional] = Array.isArray(rule) ? rule : [rule, undefined];
    if (value[key] === undefined && optional) continue;
    const why = value[key] === undefined ? "is missing" : check(value[key]);
    if (why) problems.push({ file, reason: `${where ? `${where}.` : ""}${key} ${why}` });
  }
  return true;
}

function list(value: unknown, where: string, file: string, each: (item: unknown, where: string) => void, problems: Problem[]): void {
  if (!Array.isArray(value)) {
    problems.push({ file, reason: `${where} is not a list` });
    return;
  }
  value.forEach((item, i) => each(item, `${where}[${i}]`));
}

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
        fields(image, where, file, { source: reference, digest, mediaType: string, platformDigests: [digestMap, "optional"], size: count, target: string, targetDigest: [digest, "optional"] }, problems);
      }, problems);
    }
    if (Array.isArray(json.manifests)) list(json.manifests, "manifests", file, (m, where) => void fields(m, where, file, { path: string, images: stringArray }, problems), problems);
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
export function checkAgreement(bundle: BundleJson, index: ReadonlyMap<string, Descriptor>, manifestEntries: readonly string[], path: string): void {
  const problems = agreementProblems(bundle, index, manifestEntries);
  if (problems.length > 0) throw invalid(path, "bundle.json and index.json", problems, "disagree");
}

/** Every way bundle.json and index.json disagree (see {@link checkAgreement}), for `verify --deep` to list. */
export function agreementProblems(bundle: BundleJson, index: ReadonlyMap<string, Descriptor>, manifestEntries: readonly string[]): Problem[] {
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
  for (const source of index.keys()) if (!bundle.images.some((i) => i.source === source)) problems.push({ file: ENTRY.indexJson, reason: `${source} is in index.json but not in bundle.json` });
  return problems;
}

function invalid(path: string, what: string, problems: Problem[], verb = "is malformed"): AirgapError {
  return new AirgapError("INVALID_BUNDLE", `${path}: ${what} ${verb}; nothing was done`, {
    problems,
    hint: "the bundle was altered or damaged after it was saved: copy it again from the source medium and check it with bundle verify",
  });
}
