/**
 * What a manifest scan finds (the types, and the name a finding goes by), apart from the scanner: those
 * who only read findings need not load a YAML parser.
 */
import { formatReference, type Reference } from "../reference/reference.js";

/** An image reference found in a manifest. */
export interface ImageFinding {
  /** File path relative to the manifests folder (`/`-separated). */
  file: string;
  /** 1-based line of the reference in the file. */
  line: number;
  /** Where it is inside its document: `spec.template.spec.containers[0].image`; `>` enters a string. */
  path: string;
  /** 0-based index of the YAML document in the file. */
  document: number;
  /** The reference as written. */
  raw: string;
  /** The parsed reference. */
  ref: Reference;
  /** `image`: pulls an image (a missing tag means latest); `repository`: names a repository, its version is kept elsewhere. */
  kind: "image" | "repository";
  /** Character offsets of `raw` in the file text. */
  start: number;
  end: number;
  /** What `file` is part of when it is not under the manifests folder: `chart NAME VERSION` (a chart's template, or where it names an image). */
  origin?: string;
}

/** Where a finding is, for messages: `manifests/app.yaml:12`, or `chart NAME VERSION: templates/x.yaml:12`. */
export function findingPlace(f: ImageFinding, manifestsDir: string): string {
  const at = f.line > 0 ? `${f.file}:${f.line}` : f.file;
  return f.origin ? `${f.origin}: ${at}` : `${manifestsDir.replace(/\/+$/, "")}/${at}`;
}

/** A value under an image key that is not a reference (a template expression, an empty string…). */
export interface IgnoredValue {
  file: string;
  line: number;
  path: string;
  value: string;
  reason: string;
}

/** The result of scanning one file. */
export interface FileScan {
  file: string;
  text: string;
  findings: ImageFinding[];
  ignored: IgnoredValue[];
}

/** The normalised form of a finding: `docker.io/library/nginx:1.25` or, for a repository, `docker.io/tensorflow/serving`. */
export function findingName(f: ImageFinding): string {
  return formatReference(f.ref);
}
