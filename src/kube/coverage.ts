/**
 * Does the imagelist carry every image the manifests use? The air gap's classic failure is an image
 * nobody carried; this finds it before anything is downloaded, with the nearest entry as a hint.
 */
import type { ImagelistEntry } from "../reference/imagelist.js";
import { isPauseImage, repositoryOf } from "../reference/reference.js";
import { findingName, type ImageFinding } from "./finding.js";

/** A reference the manifests use that the imagelist lacks. */
export interface MissingImage {
  finding: ImageFinding;
  /** The normalised reference. */
  name: string;
  /** The closest imagelist entry: same repository with another tag or digest, or the same image name elsewhere. */
  nearest?: ImagelistEntry;
}

/** How manifests and imagelist relate. */
export interface Coverage {
  missing: MissingImage[];
  /** Imagelist entries no manifest uses (pause images aside). */
  unused: ImagelistEntry[];
  /** Pause images (`…/pause:TAG`): no manifest names them, the nodes' container runtime runs one in every pod. */
  sandbox: ImagelistEntry[];
  /** For each finding, the entries it uses (one, or all tags of a repository reference). */
  uses: Map<ImageFinding, ImagelistEntry[]>;
}

/** True when `entry` is the image `finding` pulls (or, for a repository reference, an image of it). */
export function entryMatches(finding: ImageFinding, entry: ImagelistEntry): boolean {
  if (repositoryOf(finding.ref) !== repositoryOf(entry.ref)) return false;
  if (finding.kind === "repository") return true;
  if (finding.ref.digest !== undefined) return entry.ref.digest === finding.ref.digest;
  return entry.ref.tag === finding.ref.tag;
}

function lastComponent(repository: string): string {
  return repository.slice(repository.lastIndexOf("/") + 1);
}

/** The closest entry: same repository first, then the same last path component on another registry or path. */
function nearestEntry(finding: ImageFinding, entries: readonly ImagelistEntry[]): ImagelistEntry | undefined {
  const repo = repositoryOf(finding.ref);
  return (
    entries.find((e) => repositoryOf(e.ref) === repo) ??
    entries.find((e) => lastComponent(repositoryOf(e.ref)) === lastComponent(repo))
  );
}

/** Matches every finding to the imagelist. */
export function checkCoverage(findings: readonly ImageFinding[], entries: readonly ImagelistEntry[]): Coverage {
  const uses = new Map<ImageFinding, ImagelistEntry[]>();
  const used = new Set<ImagelistEntry>();
  const missing: MissingImage[] = [];
  for (const finding of findings) {
    const matches = entries.filter((e) => entryMatches(finding, e));
    uses.set(finding, matches);
    for (const m of matches) used.add(m);
    if (matches.length === 0) {
      const nearest = nearestEntry(finding, entries);
      missing.push({ finding, name: findingName(finding), ...(nearest && { nearest }) });
    }
  }
  const left = entries.filter((e) => !used.has(e));
  return { missing, unused: left.filter((e) => !isPauseImage(e.ref)), sandbox: left.filter((e) => isPauseImage(e.ref)), uses };
}
