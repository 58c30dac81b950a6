/**
 * Copy policies: what a use case asks of a graph walk (which index entries, which configs) and of a copy (in which
 * order blobs move, what is skipped, how bytes are proved). Each use case names its policy here, so the differences
 * between a save, a load and an export read as one table instead of booleans combined at each call.
 */
import type { Platform } from "../oci/platform.js";

/** Which entries of an index an image is taken with. */
export type PlatformChoice =
  /** Every image entry. */
  | { take: "all" }
  /** One entry per platform (each must be there); with `configMustMatch`, a single-platform image of another platform is refused. */
  | { take: "these"; platforms: Platform[]; configMustMatch: boolean }
  /**
   * The index becomes one image manifest (what a Docker engine or a single-image archive takes): its only entry,
   * else the one for `platform` (always that one when `exact`).
   */
  | { take: "one"; platform: Platform; exact: boolean };

/** How an image's graph is read (content/graph.ts): needs only a source. */
export interface GraphPolicy {
  platforms: PlatformChoice;
  /** Index entries the source lacks are left out (listed as absent) instead of failing: a bundle holds the platforms chosen at save. */
  presentEntriesOnly: boolean;
  /** Single-platform images' configs are read while walking, to learn (and check) their platform. */
  readConfigs: boolean;
}

/** How a copy moves what a walk found (content/copy.ts). */
export interface CopyPolicy extends GraphPolicy {
  /**
   * The order blobs start in: the largest waiting first (a bundle lays its blobs out in the same order, so they
   * finish close to the order its checksum reads them in), or as their images are resolved.
   */
  order: "largest-first" | "as-resolved";
  /** An image the sink holds already (its top manifest, and its tag) is reported present, not copied again. */
  skipPresentImages: boolean;
  /**
   * How a blob's bytes are proved on the way: hashed, or — the source's bytes just proved by a checksum over all
   * of them (a bundle's .sha256), and the sink checking digests itself (a registry) — by their size only.
   */
  proof: "hash" | "size";
}

/** Every image entry of an index, platforms as they come. */
const ALL: PlatformChoice = { take: "all" };

/** A bundle's graphs as it holds them: every entry it kept, configs unread (serve, inventory of a bundle, deltas). */
export const BUNDLE_GRAPH: GraphPolicy = { platforms: ALL, presentEntriesOnly: true, readConfigs: false };

/** A registry's graphs as it holds them (an index may be pushed with some platforms only): `bundle inventory`. */
export const REGISTRY_GRAPH: GraphPolicy = BUNDLE_GRAPH;

/** `bundle save`: the platforms asked for (each single-platform image checked against them), largest blobs first. */
export function savePolicy(platforms: Platform[] | "all"): CopyPolicy {
  return {
    platforms: platforms === "all" ? ALL : { take: "these", platforms, configMustMatch: true },
    presentEntriesOnly: false,
    readConfigs: true,
    order: "largest-first",
    skipPresentImages: false,
    proof: "hash",
  };
}

/** A save's signatures, attestations and SBOMs: taken whole, as they are. */
export const REFERRERS_POLICY: CopyPolicy = { platforms: ALL, presentEntriesOnly: false, readConfigs: true, order: "as-resolved", skipPresentImages: false, proof: "hash" };

/** `bundle load`: what the bundle holds, images the registry has already skipped; `proved` when the .sha256 was checked. */
export function loadPolicy(proved: boolean): CopyPolicy {
  return { platforms: ALL, presentEntriesOnly: true, readConfigs: true, order: "as-resolved", skipPresentImages: true, proof: proved ? "size" : "hash" };
}

/** `bundle verify --deep`: every blob the bundle's graphs reach, hashed. */
export const DEEP_CHECK_POLICY: CopyPolicy = { ...BUNDLE_GRAPH, order: "as-resolved", skipPresentImages: false, proof: "hash" };

/** `bundle export` and `load --docker`: one platform's image out of the bundle (`exact`: that platform, or refuse). */
export function onePlatformPolicy(platform: Platform, exact: boolean): CopyPolicy {
  return { platforms: { take: "one", platform, exact }, presentEntriesOnly: true, readConfigs: true, order: "as-resolved", skipPresentImages: false, proof: "hash" };
}
