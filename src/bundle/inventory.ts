/**
 * The inventory: what a closed site's registry holds (or what a bundle carried), small enough to carry back out —
 * every repository and tag, every manifest's digest, and every config and layer those manifests reference, with
 * sizes, and for each one repository that holds it (what a delta's load mounts from). No manifest bodies.
 * `bundle save --since` leaves out what an inventory lists. docs/inventory-format.md is the reference.
 */
import { createHash } from "node:crypto";
import { AirgapError, type Problem } from "../errors.js";
import { count, digest, fields, isObject, string, type Check } from "./shape.js";
import { pathProblem } from "../reference/reference.js";

/** The format's name and version: a reader refuses another. */
export const INVENTORY_FORMAT = "airgap-bundle-inventory/v1";

/** One manifest or blob the site holds. */
export interface InventoryItem {
  size: number;
  /** A repository that holds it, relative to the registry's /PREFIX (what a load mounts from). */
  repository: string;
}

/** A manifest the site holds. */
export interface InventoryManifest extends InventoryItem {
  mediaType: string;
}

/** What a site holds. */
export interface Inventory {
  format: typeof INVENTORY_FORMAT;
  created: string;
  /** Where it was read: `registry HOST[:PORT][/PREFIX]` or `bundle NAME-VERSION.tar`. */
  source: string;
  /** Repository (relative to the /PREFIX) → tag → manifest digest. */
  repositories: Record<string, { tags: Record<string, string> }>;
  /** Manifest and index digests (index children included). */
  manifests: Record<string, InventoryManifest>;
  /** Configs and layers those manifests reference. */
  blobs: Record<string, InventoryItem>;
}

/** The inventory as its file holds it: sorted keys, one line per entry, so two reads of one site give one file. */
export function inventoryText(inventory: Inventory): string {
  const sorted = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const repositories = Object.fromEntries(Object.entries(sorted(inventory.repositories)).map(([name, r]) => [name, { tags: sorted(r.tags) }]));
  return `${JSON.stringify({ ...inventory, repositories, manifests: sorted(inventory.manifests), blobs: sorted(inventory.blobs) }, null, 1)}\n`;
}

/** The sha256 (hex) of an inventory file's bytes: what a delta records as its base. */
export function inventoryDigest(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

const tagMap: Check = (v) => (isObject(v) && Object.values(v).every((x) => digest(x) === undefined) ? undefined : "is not a map of tags to digests");

/** Reads an inventory file's text; throws INVALID_ARGUMENT naming every bad field (it is input from outside). */
export function parseInventory(text: string, file: string): Inventory {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AirgapError("INVALID_ARGUMENT", `${file} is not an inventory (not JSON)`, { hint: "make one with bundle inventory --registry R -o FILE, or give a bundle" });
  }
  if (!isObject(value) || value.format !== INVENTORY_FORMAT) {
    throw new AirgapError("INVALID_ARGUMENT", `${file} is not an inventory of this tool (format ${JSON.stringify(isObject(value) ? value.format : undefined)}; this tool reads ${INVENTORY_FORMAT})`);
  }
  const problems: Problem[] = [];
  const objectOf = (what: string): Check => (v) => (isObject(v) ? undefined : `is not a map of ${what}`);
  fields(value, "", file, { created: string, source: string, repositories: objectOf("repositories"), manifests: objectOf("manifests"), blobs: objectOf("blobs") }, problems);
  if (problems.length === 0) {
    // Repository names go into registry URLs (a delta mounts from them): each must be a repository path.
    const repository: Check = (v) => {
      const why = typeof v === "string" ? pathProblem(v) : "not a string";
      return why === undefined ? undefined : `is not a repository path (${why})`;
    };
    for (const [name, r] of Object.entries(value.repositories as Record<string, unknown>)) {
      const why = repository(name);
      if (why) problems.push({ file, reason: `repositories: "${name.slice(0, 80)}" ${why}` });
      else fields(r, `repositories["${name}"]`, file, { tags: tagMap }, problems);
    }
    for (const [key, spec] of [["manifests", { mediaType: string, size: count, repository }], ["blobs", { size: count, repository }]] as const) {
      for (const [d, item] of Object.entries(value[key] as Record<string, unknown>)) {
        const why = digest(d);
        if (why) problems.push({ file, reason: `${key}: "${d.slice(0, 80)}" ${why}` });
        else fields(item, `${key}["${d}"]`, file, spec, problems);
      }
    }
  }
  if (problems.length > 0) throw new AirgapError("INVALID_ARGUMENT", `${file} is a malformed inventory`, { problems: problems.slice(0, 50) });
  return value as unknown as Inventory;
}

/** What several inventories hold together (a site's registry and the bundles it was filled from). */
export function mergeInventories(inventories: readonly Inventory[]): Pick<Inventory, "manifests" | "blobs"> {
  const manifests: Inventory["manifests"] = {};
  const blobs: Inventory["blobs"] = {};
  for (const inv of inventories) {
    for (const [d, m] of Object.entries(inv.manifests)) manifests[d] ??= m;
    for (const [d, b] of Object.entries(inv.blobs)) blobs[d] ??= b;
  }
  return { manifests, blobs };
}
