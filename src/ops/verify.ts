/**
 * `bundle verify`: the fast check (the `.sha256` sidecar, as `sha256sum -c` does it) and the deep one
 * (every blob against its name, every manifest's references present, bundle.json, index.json and
 * SHA256SUMS agreeing). Every problem is reported, each with the entry it concerns.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { AirgapError, type Problem } from "../errors.js";
import { isParsedIndex, parseManifest, MAX_MANIFEST_BYTES } from "../oci/descriptor.js";
import { isIndex, isManifest } from "../oci/media-types.js";
import { digestHex } from "../oci/verify.js";
import { entriesDigest, parseChecksums } from "../bundle/checksums.js";
import { ENTRY } from "../bundle/format.js";
import { agreementProblems } from "../bundle/format-check.js";
import { isStamped, stamp } from "../bundle/verified-stamp.js";
import type { BundleReader } from "../bundle/reader.js";

/** What a verification looked at. */
export interface VerifyResult {
  /** Files checked against the sidecar. */
  files: string[];
  /** Blobs re-hashed (deep). */
  blobs: number;
  deep: boolean;
}

/** The sidecar of a bundle given as `NAME.tar`, `NAME.tar.001` or the base name. */
export function sidecarPath(bundle: string): string {
  return `${/\.\d{3}$/.test(bundle) ? bundle.slice(0, -4) : bundle}.sha256`;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * What the sidecar must prove for the files the reader opened: each part of a split bundle by its own line; a
 * single tar by its line, or — the parts joined with `cat` — by the `# whole` line. A line naming anything
 * else (another file, a path) is refused: the file given is the file proved.
 */
function sidecarClaims(reader: BundleReader, text: string, sidecar: string, problems: Problem[]): Array<{ path: string; name: string; sha256: string }> {
  const { lines, whole, bad } = parseChecksums(text);
  for (const line of bad) problems.push({ file: sidecar, line, reason: "not a sha256sum line" });
  const parts = reader.tar.parts;
  const split = parts.length > 1 || /\.\d{3}$/.test(parts[0]!.path);
  const base = basename(split ? parts[0]!.path.slice(0, -4) : parts[0]!.path);
  const ownPart = (name: string) => name.startsWith(`${base}.`) && /^\d{3}$/.test(name.slice(base.length + 1));
  for (const l of lines) {
    if (l.path !== base && !ownPart(l.path)) problems.push({ file: sidecar, text: l.path, reason: "names a file that is not part of this bundle; refusing the sidecar" });
  }
  if (whole && whole.path !== base) problems.push({ file: sidecar, text: whole.path, reason: "names a file that is not this bundle; refusing the sidecar" });
  if (problems.length > 0) return [];
  if (!split) {
    const line = lines.find((l) => l.path === base) ?? (whole?.path === base ? whole : undefined);
    if (!line) {
      problems.push({ file: sidecar, reason: `has no checksum for ${base}` });
      return [];
    }
    return [{ path: parts[0]!.path, name: base, sha256: line.sha256 }];
  }
  const claims: Array<{ path: string; name: string; sha256: string }> = [];
  for (const p of parts) {
    const line = lines.find((l) => l.path === basename(p.path));
    if (line) claims.push({ path: p.path, name: line.path, sha256: line.sha256 });
    else problems.push({ file: basename(p.path), reason: `not listed in ${sidecar}` });
  }
  for (const l of lines) if (ownPart(l.path) && !parts.some((p) => basename(p.path) === l.path)) problems.push({ file: l.path, reason: "missing" });
  if (lines.length === 0) problems.push({ file: sidecar, reason: "lists no file" });
  return claims;
}

/**
 * Checks the files the reader opened against the sidecar, as `sha256sum -c` would. With `trustStamps`, a
 * file verified before and unchanged since (same inode, size and modification time) is not hashed again —
 * but the bundle's own small files (bundle.json, index.json, manifests/…), which decide what is pushed and
 * installed, are re-hashed every time and must be those the stamp recorded.
 */
export async function checkSidecar(reader: BundleReader, problems: Problem[], trustStamps = false): Promise<string[]> {
  const path = sidecarPath(reader.path);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    problems.push({ file: basename(path), reason: "checksum file missing (it belongs beside the bundle)" });
    return [];
  }
  const claims = sidecarClaims(reader, text, basename(path), problems);
  let decisive: Promise<string> | undefined;
  const small = () => (decisive ??= decisiveDigest(reader));
  for (const { path: file, name, sha256 } of claims) {
    try {
      if (trustStamps && (await isStamped(file, sha256, await small()))) continue;
      const got = await sha256File(file);
      if (got !== sha256) problems.push({ file: name, reason: `checksum mismatch: got ${got}, want ${sha256}` });
      else await stamp(file, sha256, await small());
    } catch {
      problems.push({ file: name, reason: "missing" });
    }
  }
  return claims.map((c) => c.name);
}

/** The digest of the bundle's small files (every entry but the blobs), as a stamp records it. */
async function decisiveDigest(reader: BundleReader): Promise<string> {
  const files = [...reader.entries.values()].filter((e) => e.type === "file" && !e.name.startsWith(ENTRY.blobsDir));
  return entriesDigest(await Promise.all(files.map(async (e) => ({ name: e.name, content: await reader.tar.read(e.offset, e.size) }))));
}

/** Re-hashes every blob and cross-checks the bundle's own files. */
export async function checkDeep(reader: BundleReader, problems: Problem[]): Promise<number> {
  let blobs = 0;
  const computed = new Map<string, string>();
  for (const e of reader.entries.values()) {
    if (e.type !== "file" || e.name === ENTRY.sums) continue;
    const hash = createHash("sha256");
    for await (const chunk of reader.tar.range(e.offset, e.size)) hash.update(chunk);
    const hex = hash.digest("hex");
    computed.set(e.name, hex);
    if (e.name.startsWith(ENTRY.blobsDir)) {
      blobs++;
      const want = e.name.slice(ENTRY.blobsDir.length);
      if (hex !== want) problems.push({ file: e.name, reason: `content does not match its digest: got sha256:${hex}` });
    }
  }

  // SHA256SUMS lists every other file with its checksum.
  let sums: Buffer | undefined;
  try {
    sums = await reader.readEntry(ENTRY.sums);
  } catch {
    problems.push({ file: ENTRY.sums, reason: "missing" });
  }
  if (sums) {
    const listed = new Map(parseChecksums(sums.toString("utf8")).lines.map((l) => [l.path, l.sha256]));
    for (const [name, hex] of computed) {
      const want = listed.get(name);
      if (want === undefined) problems.push({ file: name, reason: "not listed in SHA256SUMS" });
      else if (want !== hex) problems.push({ file: name, reason: `SHA256SUMS says ${want}, the content is ${hex}` });
    }
    for (const name of listed.keys()) if (!computed.has(name)) problems.push({ file: name, reason: "listed in SHA256SUMS but not in the bundle" });
  }

  // bundle.json and index.json agree (format-check.ts says how); every image's graph is there.
  problems.push(...agreementProblems(reader.bundle, reader.index, reader.manifestFiles()));
  const filtered = !reader.bundle.platforms.includes("all");
  for (const image of reader.bundle.images) {
    const d = reader.index.get(image.source);
    if (!d) continue;
    if (!(await reader.exists(d))) {
      problems.push({ file: `${ENTRY.blobsDir}${digestHex(d.digest)}`, reason: `manifest of ${image.source} missing` });
      continue;
    }
    const wanted = new Set(Object.values(image.platformDigests ?? {}));
    const checkManifest = async (digest: string, mediaType: string, size: number, label: string) => {
      let bytes: Buffer;
      try {
        bytes = await reader.fetchBytes({ digest, mediaType, size }, MAX_MANIFEST_BYTES);
      } catch (err) {
        problems.push({ file: `${ENTRY.blobsDir}${digestHex(digest)}`, reason: `${label}: ${(err as Error).message}` });
        return;
      }
      const m = parseManifest(bytes, mediaType, label);
      if (isParsedIndex(m)) {
        for (const child of m.manifests) {
          if (!isIndex(child.mediaType) && !isManifest(child.mediaType)) continue;
          if (await reader.exists(child)) await checkManifest(child.digest, child.mediaType, child.size, label);
          else if (!filtered || wanted.has(child.digest)) problems.push({ file: `${ENTRY.blobsDir}${digestHex(child.digest)}`, reason: `${label}: manifest missing` });
        }
      } else {
        for (const ref of [m.config, ...m.layers]) {
          if (!(await reader.exists(ref))) problems.push({ file: `${ENTRY.blobsDir}${digestHex(ref.digest)}`, reason: `${label}: blob missing` });
        }
      }
    };
    await checkManifest(d.digest, d.mediaType, d.size, image.source);
  }
  return blobs;
}

/**
 * Verifies a bundle; throws VERIFY_FAILED listing every problem. `trustStamps` skips hashing files verified
 * before and unchanged since (what a re-load wants; `bundle verify` always hashes).
 */
export async function verifyBundle(reader: BundleReader, options: { deep: boolean; trustStamps?: boolean }): Promise<VerifyResult> {
  const problems: Problem[] = [];
  const files = await checkSidecar(reader, problems, options.trustStamps ?? false);
  const blobs = options.deep ? await checkDeep(reader, problems) : 0;
  if (problems.length > 0) {
    throw new AirgapError("VERIFY_FAILED", `${reader.path}: verification failed (${problems.length} problem${problems.length === 1 ? "" : "s"})`, {
      problems,
      hint: "copy the bundle again from the source medium; nothing was loaded",
    });
  }
  return { files, blobs, deep: options.deep };
}
