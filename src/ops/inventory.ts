/**
 * `bundle inventory`: what a closed site holds, read from its registry (every repository and tag, each manifest
 * and the configs and layers it references — read from the manifests, not from storage listings) or from the
 * bundle it was last filled from. `bundle save --since` builds a delta from it.
 */
import pLimit from "p-limit";
import { readGraph, walkGraph, type ResolvedImage } from "../content/graph.js";
import { BUNDLE_GRAPH, REGISTRY_GRAPH } from "../content/policy.js";
import type { ManifestData, SourceJob } from "../content/target.js";
import { pushedDescriptor } from "../content/kept-platforms.js";
import { AirgapError, type Problem } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { parseReference } from "../reference/reference.js";
import { targetPath, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import type { RegistryHost } from "../registry/client.js";
import { RegistryRepository } from "../registry/repository.js";
import { open, readFile } from "node:fs/promises";
import { basename } from "node:path";
import { readSmallFile } from "../util/small-file.js";
import { writeWholeFile } from "../util/whole-file.js";
import { INVENTORY_FORMAT, inventoryDigest, inventoryText, parseInventory, type Inventory } from "../bundle/inventory.js";
import { BundleReader } from "../bundle/reader.js";

/** Repositories read at once. */
const REPOSITORIES_AT_ONCE = 8;

/** An inventory, with what could not be read into it. */
export interface InventoryResult {
  inventory: Inventory;
  /** Tags whose manifest this tool does not read (schema 1, an artifact), each with why. */
  skipped: Problem[];
}

/** Options of {@link inventoryOfRegistry}. */
export interface RegistryInventoryOptions {
  registry: RegistryLocation;
  host: RegistryHost;
  /** The repositories to read, relative to the /PREFIX (default: every one `/v2/_catalog` lists under it). */
  repositories?: string[];
  /** Repositories to read besides the catalog's (a bundle's), or instead of it where the registry refuses it. */
  also?: string[];
  /**
   * Manifests to read by digest as well (relative repository, digest): images pulled by digest are pushed without
   * a tag, and no registry API lists untagged manifests — a bundle's digest references name them.
   */
  digests?: Array<{ repository: string; digest: string }>;
  signal?: AbortSignal;
  onRepository?: (name: string, tags: number) => void;
}

function emptyInventory(source: string): Inventory {
  return { format: INVENTORY_FORMAT, created: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), source, repositories: {}, manifests: {}, blobs: {} };
}

/** Notes configs and layers as held in `repository`. */
function addBlobs(inventory: Inventory, contents: ResolvedImage<SourceJob>["contents"], repository: string): void {
  for (const { descriptor: b } of contents) inventory.blobs[b.digest] ??= { size: b.size, repository };
}

/** Reads every repository and tag of a registry (under its /PREFIX). */
export async function inventoryOfRegistry(options: RegistryInventoryOptions): Promise<InventoryResult> {
  const { registry, host, signal } = options;
  const prefix = registry.prefix ? `${registry.prefix}/` : "";
  let names = options.repositories && [...options.repositories, ...(options.also ?? [])];
  if (!names) {
    const catalog = await host.catalog(signal);
    if (catalog === undefined && !options.also) {
      throw new AirgapError("DENIED", `${registry.host} does not list /v2/_catalog to us`, {
        hint: "name the repositories to read with --repos FILE (one per line), or --from-bundle B to read those of a bundle",
      });
    }
    names = [...(catalog ?? []).filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)), ...(options.also ?? [])];
  }
  const inventory = emptyInventory(`registry ${registry.host}${registry.prefix ? `/${registry.prefix}` : ""}`);
  const skipped: Problem[] = [];
  const read = new Map<string, Promise<void>>();
  const limit = pLimit(REPOSITORIES_AT_ONCE);
  await Promise.all([...new Set(names)].map((name) => limit(async () => {
    const repo = new RegistryRepository(host, `${prefix}${name}`);
    const tags = await repo.tags(signal);
    options.onRepository?.(name, tags.length);
    if (tags.length === 0) return;
    const entry: Record<string, string> = {};
    for (const tag of tags) {
      let top: ManifestData;
      try {
        top = await repo.resolve({ domain: registry.host, path: repo.path, tag }, signal);
      } catch (err) {
        if (err instanceof AirgapError && (err.code === "UNSUPPORTED" || err.code === "INVALID_MANIFEST")) {
          skipped.push({ text: `${name}:${tag}`, reason: err.message });
          continue;
        }
        throw err;
      }
      entry[tag] = top.descriptor.digest;
      let graph = read.get(top.descriptor.digest);
      if (!graph) read.set(top.descriptor.digest, (graph = readGraphInto(inventory, repo, name, top, skipped, signal)));
      await graph;
    }
    inventory.repositories[name] = { tags: entry };
  })));
  await Promise.all((options.digests ?? []).map(({ repository, digest }) => limit(async () => {
    if (read.has(digest)) return;
    const repo = new RegistryRepository(host, `${prefix}${repository}`);
    const top = await repo.resolve({ domain: registry.host, path: repo.path, digest }, signal).catch((err: unknown) => {
      if (err instanceof AirgapError && err.code === "NOT_FOUND") return undefined;
      throw err;
    });
    if (!top) return;
    const graph = readGraphInto(inventory, repo, repository, top, skipped, signal);
    read.set(digest, graph);
    await graph;
  })));
  return { inventory, skipped };
}

/** Notes a top manifest, the children the registry holds and their blobs (a manifest this tool does not read is skipped). */
async function readGraphInto(inventory: Inventory, repo: RegistryRepository, name: string, top: ManifestData, skipped: Problem[], signal?: AbortSignal): Promise<void> {
  const { descriptor } = top;
  inventory.manifests[descriptor.digest] ??= { mediaType: descriptor.mediaType, size: descriptor.size, repository: name };
  const label = `${name}@${descriptor.digest}`;
  const ref = { domain: repo.mountDomain, path: repo.path, digest: descriptor.digest };
  let image;
  try {
    image = await readGraph({ label, ref, source: repo }, top, REGISTRY_GRAPH, { ...(signal && { signal }) });
  } catch (err) {
    if (!(err instanceof AirgapError && (err.code === "UNSUPPORTED" || err.code === "INVALID_MANIFEST"))) throw err;
    skipped.push({ text: label, reason: err.message });
    return;
  }
  for (const c of image.children) inventory.manifests[c.descriptor.digest] ??= { mediaType: c.descriptor.mediaType, size: c.descriptor.size, repository: name };
  addBlobs(inventory, image.contents, name);
}

/**
 * What a site holds after loading this bundle (with the default layout, no /PREFIX): every image at the digest the
 * load pushes (an index of which platforms were left out becomes what `kept-platforms.ts` says), the manifests and
 * blobs it carries, and — for a delta — what it relied on the site to hold already.
 */
export async function inventoryOfBundle(reader: BundleReader, layout: TargetLayout = "host"): Promise<Inventory> {
  const inventory = emptyInventory(`bundle ${reader.bundle.name}-${reader.bundle.version}.tar`);
  for (const image of reader.bundle.images) {
    const ref = parseReference(image.source);
    const name = targetPath(ref, undefined, layout);
    const { top, children, contents } = await keptGraph(reader, image.source);
    const pushed = pushedDescriptor(top, children);
    const tags = (inventory.repositories[name] ??= { tags: {} }).tags;
    if (ref.tag !== undefined) tags[ref.tag] = pushed.digest;
    for (const m of [pushed, ...children]) inventory.manifests[m.digest] ??= { mediaType: m.mediaType, size: m.size, repository: name };
    addBlobs(inventory, contents, name);
  }
  for (const b of reader.bundle.base?.blobs ?? []) inventory.blobs[b.digest] ??= { size: b.size, repository: b.repository };
  return inventory;
}

/**
 * What a load of the bundle put in a registry, to read back there (`inventory --registry R --from-bundle B`): its
 * target repositories, and the digest of each image pulled by digest alone (it has no tag there, so only its
 * digest finds it).
 */
export function bundleTargets(reader: BundleReader, layout: TargetLayout): { repositories: string[]; digests: Array<{ repository: string; digest: string }> } {
  const refs = reader.bundle.images.map((image) => ({ ref: parseReference(image.source), image }));
  return {
    repositories: refs.map(({ ref }) => targetPath(ref, undefined, layout)),
    digests: refs.filter(({ ref }) => ref.digest !== undefined).map(({ ref, image }) => ({ repository: targetPath(ref, undefined, layout), digest: image.targetDigest ?? image.digest })),
  };
}

/** Writes an inventory to `path` and its `.sha256` beside it, each whole or not at all; returns the sha256. */
export async function writeInventory(path: string, inventory: Inventory): Promise<string> {
  const text = inventoryText(inventory);
  const sha256 = inventoryDigest(text);
  await writeWholeFile(path, text);
  await writeWholeFile(`${path}.sha256`, `${sha256}  ${basename(path)}\n`);
  return sha256;
}

/** An inventory a delta is made against, with the sha256 of the file it came from. */
export interface BaseInventory {
  inventory: Inventory;
  sha256: string;
  /** For an inventory file: whether a `.sha256` beside it was there to check it against (it matched). */
  sidecarChecked?: boolean;
}

/**
 * Largest inventory read: 256 MiB. An inventory lists a site's manifests and blobs (some 200 bytes each): a
 * million of them fit. It is parsed whole, so a larger file is refused before it is read.
 */
export const MAX_INVENTORY_BYTES = 256 * 1024 * 1024;

/**
 * Reads `--since FILE` (and diff's inputs): an inventory file, checked against the `.sha256` beside it when there
 * is one, or a bundle (what the site holds after loading it).
 */
export async function readBase(path: string): Promise<BaseInventory> {
  const head = await readHead(path);
  // JSON after any whitespace or byte-order mark is an inventory; anything else is read as a bundle (which says
  // what it is when it is neither).
  if (/^(\uFEFF)?\s*\{/.test(head.toString("utf8"))) {
    const bytes = await readSmallFile(path, MAX_INVENTORY_BYTES, "the inventory");
    const sidecar = await readFile(`${path}.sha256`, "utf8").catch(() => undefined);
    if (sidecar !== undefined) {
      const want = /^([0-9a-f]{64})\s/.exec(sidecar)?.[1];
      const got = inventoryDigest(bytes);
      if (want !== got) {
        throw new AirgapError("VERIFY_FAILED", `${path} does not match ${basename(path)}.sha256 (got ${got.slice(0, 12)}…, want ${want?.slice(0, 12) ?? "no checksum"}…): changed or damaged after it was made`, {
          hint: "carry the inventory and its .sha256 out again as bundle inventory wrote them",
        });
      }
    }
    const text = bytes.toString("utf8").replace(/^\uFEFF/, "");
    return { inventory: parseInventory(text, path), sha256: inventoryDigest(bytes), sidecarChecked: sidecar !== undefined };
  }
  const reader = await BundleReader.open(path);
  try {
    const inventory = await inventoryOfBundle(reader);
    return { inventory, sha256: inventoryDigest(inventoryText(inventory)) };
  } finally {
    await reader.close();
  }
}

/** An image of a bundle as the bundle holds it: its top manifest, the index entries kept, their configs and layers. */
export async function keptGraph(reader: BundleReader, source: string): Promise<{ top: ManifestData; children: Descriptor[]; contents: ResolvedImage<SourceJob>["contents"] }> {
  const image = await walkGraph({ label: source, ref: parseReference(source), source: reader }, BUNDLE_GRAPH);
  return { top: image.top, children: image.children.map((c) => c.descriptor), contents: image.contents };
}

/** The first bytes of a file (at most a tar block); FILE_NOT_FOUND when it cannot be read. */
async function readHead(path: string): Promise<Buffer> {
  const file = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
    throw new AirgapError("FILE_NOT_FOUND", `cannot read ${path}: ${err.code ?? err.message}`);
  });
  try {
    const { bytesRead, buffer } = await file.read(Buffer.alloc(512), 0, 512, 0).catch(() => ({ bytesRead: 0, buffer: Buffer.alloc(0) }));
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
