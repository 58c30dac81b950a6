/**
 * `bundle diff A B`: what changes from A to B (bundles or inventories, either order): images added, removed and
 * changed (a tag that names another digest), and the bytes B has that A lacks, and those they share.
 */
import type { Inventory } from "../bundle/inventory.js";
import { readBase } from "./inventory.js";

/** One tag that differs. */
export interface TagChange {
  /** `repository:tag`, as a load names it below the registry. */
  image: string;
  from?: string;
  to?: string;
}

/** What changes from A to B. */
export interface BundleDiff {
  a: string;
  b: string;
  added: TagChange[];
  removed: TagChange[];
  changed: TagChange[];
  unchanged: number;
  /** Configs and layers of B that A lacks: what a delta from A to B carries. */
  newBlobs: { count: number; bytes: number };
  sharedBlobs: { count: number; bytes: number };
}

function tags(inventory: Inventory): Map<string, string> {
  const out = new Map<string, string>();
  for (const [repo, r] of Object.entries(inventory.repositories)) for (const [tag, digest] of Object.entries(r.tags)) out.set(`${repo}:${tag}`, digest);
  return out;
}

/** Compares two inventories. */
export function diffInventories(a: Inventory, b: Inventory): BundleDiff {
  const ta = tags(a);
  const tb = tags(b);
  const added: TagChange[] = [];
  const changed: TagChange[] = [];
  let unchanged = 0;
  for (const [image, to] of tb) {
    const from = ta.get(image);
    if (from === undefined) added.push({ image, to });
    else if (from !== to) changed.push({ image, from, to });
    else unchanged++;
  }
  const removed = [...ta].filter(([image]) => !tb.has(image)).map(([image, from]) => ({ image, from }));
  const newBlobs = { count: 0, bytes: 0 };
  const sharedBlobs = { count: 0, bytes: 0 };
  for (const [digest, blob] of Object.entries(b.blobs)) {
    const into = a.blobs[digest] ? sharedBlobs : newBlobs;
    into.count++;
    into.bytes += blob.size;
  }
  const byName = (x: TagChange, y: TagChange) => (x.image < y.image ? -1 : 1);
  return { a: a.source, b: b.source, added: added.sort(byName), removed: removed.sort(byName), changed: changed.sort(byName), unchanged, newBlobs, sharedBlobs };
}

/** Compares two files, each a bundle or an inventory. */
export async function diffFiles(a: string, b: string): Promise<BundleDiff> {
  const [x, y] = await Promise.all([readBase(a), readBase(b)]);
  return diffInventories(x.inventory, y.inventory);
}
