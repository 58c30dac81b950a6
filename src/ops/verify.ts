/**
 * `bundle verify`: the fast check (the `.sha256` sidecar, as `sha256sum -c` does it) and the deep one
 * (every blob against its name, every manifest's references present, bundle.json, index.json and
 * SHA256SUMS agreeing). Every problem is reported, each with the entry it concerns.
 */
import { chartParts } from "../charts/artifact.js";
import { MAX_CHART_BYTES } from "../charts/archive.js";
import { createHash, type KeyObject } from "node:crypto";
import { fingerprint } from "../oci/signing.js";
import { checkSidecarSignature } from "./sign.js";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { AirgapError, type Problem } from "../errors.js";
import { CheckSink, type CheckFailure } from "../content/check-sink.js";
import { holdingAlso } from "../content/held.js";
import { CopyEngine, type CopyEvent } from "../content/copy.js";
import { DEEP_CHECK_POLICY } from "../content/policy.js";
import { parseReference } from "../reference/reference.js";
import { digestHex } from "../oci/verify.js";
import { entriesDigest, parseChecksums } from "../bundle/checksums.js";
import { ENTRY, isPartName, isPartOf, wholeTarName } from "../bundle/format.js";
import { agreementProblems } from "../bundle/format-check.js";
import { isStamped, stamp } from "../bundle/verified-stamp.js";
import type { BundleReader } from "../bundle/reader.js";

/** What a verification looked at. */
export interface VerifyResult {
  /** Files checked against the sidecar. */
  files: string[];
  /** Blobs re-hashed (deep). */
  blobs: number;
  /** The fingerprint of the key whose signature verified, when one was given. */
  signedBy?: string;
  deep: boolean;
}

/** The sidecar of a bundle given as `NAME.tar`, `NAME.tar.001` or the base name. */
export function sidecarPath(bundle: string): string {
  return `${wholeTarName(bundle)}.sha256`;
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
  const split = parts.length > 1 || isPartName(parts[0]!.path);
  const base = basename(wholeTarName(parts[0]!.path));
  for (const l of lines) {
    if (l.path !== base && !isPartOf(l.path, base)) problems.push({ file: sidecar, text: l.path, reason: "names a file that is not part of this bundle; refusing the sidecar" });
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
  for (const l of lines) if (isPartOf(l.path, base) && !parts.some((p) => basename(p.path) === l.path)) problems.push({ file: l.path, reason: "missing" });
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

/** The entry name of a blob. */
const blobFile = (digest: string) => `${ENTRY.blobsDir}${digestHex(digest)}`;

/** Why a blob failed its check, in words. */
function blobProblem(f: CheckFailure): Problem {
  const e = f.error as Partial<AirgapError>;
  const got = /got (sha\d+:[0-9a-f]+)/.exec(f.error.message)?.[1];
  const reason = e.code === "DIGEST_MISMATCH" ? `content does not match its digest${got ? `: got ${got}` : ""}` : e.code === "NOT_FOUND" ? "blob missing" : f.error.message;
  return { file: blobFile(f.descriptor.digest), reason };
}

/**
 * Every image's graph copied by the engine into a sink that only reads (each blob hashed once, each reference
 * followed, every failure kept), then the blobs no image reaches, then SHA256SUMS against every other entry.
 */
export async function checkDeep(reader: BundleReader, problems: Problem[], onEvent?: (e: CopyEvent) => void): Promise<number> {
  problems.push(...agreementProblems(reader.bundle, reader.index, reader.manifestFiles(), reader.chartFiles()));
  const check = new CheckSink();
  // A delta's left-out configs and layers are the site's: listed as such (verify's summary), not as missing.
  const sink = holdingAlso(check, new Set((reader.bundle.base?.blobs ?? []).map((b) => b.digest)));
  const engine = new CopyEngine({ policy: DEEP_CHECK_POLICY, ...(onEvent && { onEvent }) });
  const filtered = !reader.bundle.platforms.includes("all");
  await Promise.all(reader.bundle.images.map(async (image) => {
    if (!reader.index.has(image.source)) return; // the agreement check names it
    const resolved = await engine.resolve({ label: image.source, ref: parseReference(image.source), source: reader, sink });
    if ("error" in resolved) return problems.push({ text: image.source, reason: resolved.error.message });
    // An index entry the bundle lacks is missing, unless its platform was left out at save.
    const wanted = new Set(Object.values(image.platformDigests ?? {}));
    for (const child of resolved.absentChildren) {
      if (!filtered || wanted.has(child.digest)) problems.push({ file: blobFile(child.digest), reason: `${image.source}: manifest missing` });
    }
    const copied = await engine.transfer(resolved);
    if ("error" in copied) problems.push({ text: image.source, reason: copied.error.message });
  }));
  problems.push(...check.failures.map(blobProblem));
  // Each chart's manifest names a Helm config and archive the bundle holds (their bytes are hashed below).
  for (const chart of reader.bundle.charts ?? []) {
    const top = reader.index.get(chart.target);
    if (!top) continue; // the agreement check names it
    try {
      const parts = chartParts(await reader.fetchBytes(top, MAX_CHART_BYTES), `chart ${chart.name} ${chart.version}`);
      if (parts.chart.digest !== chart.chartDigest) problems.push({ text: `chart ${chart.name} ${chart.version}`, reason: `its manifest names the archive ${parts.chart.digest}, bundle.json ${chart.chartDigest}` });
      for (const d of [parts.config, parts.chart, ...parts.others]) if (!reader.entries.has(blobFile(d.digest))) problems.push({ file: blobFile(d.digest), reason: `chart ${chart.name} ${chart.version}: blob missing` });
    } catch (err) {
      problems.push({ text: `chart ${chart.name} ${chart.version}`, reason: (err as Error).message });
    }
  }

  // What the graphs did not reach is hashed here: every blob is checked against its name, every other file listed.
  const computed = new Map<string, string>();
  const failed = new Set(check.failures.map((f) => blobFile(f.descriptor.digest)));
  for (const e of reader.entries.values()) {
    if (e.type !== "file" || e.name === ENTRY.sums) continue;
    const isBlob = e.name.startsWith(ENTRY.blobsDir);
    const hex = e.name.slice(ENTRY.blobsDir.length);
    if (isBlob && check.checked.has(`sha256:${hex}`)) {
      if (!failed.has(e.name)) computed.set(e.name, hex);
      continue;
    }
    const hash = createHash("sha256");
    for await (const chunk of reader.tar.range(e.offset, e.size)) hash.update(chunk);
    const got = hash.digest("hex");
    computed.set(e.name, got);
    if (isBlob && got !== hex) problems.push({ file: e.name, reason: `content does not match its digest: got sha256:${got}` });
  }
  checkSums(await reader.readEntry(ENTRY.sums).catch(() => undefined), computed, failed, problems);
  // The blobs, as save and inspect count them (not the folder entries of blobs/sha256/ itself).
  return [...reader.entries.values()].filter((e) => e.type === "file" && e.name.startsWith(ENTRY.blobsDir) && e.name.length > ENTRY.blobsDir.length).length;
}

/** SHA256SUMS lists every other file with its checksum (a blob that failed its check is reported already). */
function checkSums(sums: Buffer | undefined, computed: Map<string, string>, failed: Set<string>, problems: Problem[]): void {
  if (!sums) return void problems.push({ file: ENTRY.sums, reason: "missing" });
  const listed = new Map(parseChecksums(sums.toString("utf8")).lines.map((l) => [l.path, l.sha256]));
  for (const [name, hex] of computed) {
    const want = listed.get(name);
    if (want === undefined) problems.push({ file: name, reason: "not listed in SHA256SUMS" });
    else if (want !== hex) problems.push({ file: name, reason: `SHA256SUMS says ${want}, the content is ${hex}` });
  }
  for (const name of listed.keys()) if (!computed.has(name) && !failed.has(name)) problems.push({ file: name, reason: "listed in SHA256SUMS but not in the bundle" });
}

/**
 * Verifies a bundle; throws VERIFY_FAILED listing every problem. `trustStamps` skips hashing files verified
 * before and unchanged since (what a re-load wants; `bundle verify` always hashes).
 */
export async function verifyBundle(reader: BundleReader, options: { deep: boolean; trustStamps?: boolean; key?: KeyObject; onEvent?: (e: CopyEvent) => void }): Promise<VerifyResult> {
  // Who made it first: a bundle whose signature does not verify is not read further.
  if (options.key) await checkSidecarSignature(sidecarPath(reader.path), options.key);
  const problems: Problem[] = [];
  const files = await checkSidecar(reader, problems, options.trustStamps ?? false);
  const blobs = options.deep ? await checkDeep(reader, problems, options.onEvent) : 0;
  if (problems.length > 0) {
    throw new AirgapError("VERIFY_FAILED", `${reader.path}: verification failed (${problems.length} problem${problems.length === 1 ? "" : "s"})`, {
      problems,
      hint: "copy the bundle again from the source medium (it was not used)",
    });
  }
  return { files, blobs, deep: options.deep, ...(options.key && { signedBy: fingerprint(options.key) }) };
}
