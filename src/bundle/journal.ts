/**
 * The crash journal of a bundle being written, and what a rerun does with it. Beside the temporary tar, the
 * journal lists the blobs already written and verified: after a failure, Ctrl-C or kill -9 they are moved into
 * the download cache, so a rerun fetches nothing that was already verified. Its last line, `commit`, says the
 * bundle is complete under temporary names: a rerun then finishes the renames, so an older bundle is replaced,
 * never lost.
 */
import { readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline as streamPipeline, Readable } from "node:stream";
import { AirgapError } from "../errors.js";
import type { OciLayout } from "../layout/layout.js";
import type { Descriptor } from "../oci/descriptor.js";
import { VerifyingStream } from "../oci/verify.js";
import { bundleFileName, isPartOf } from "./format.js";
import { partLayout, temporaryName } from "./part-files.js";
import { TarFile } from "./tar-index.js";

/** First line of a journal. */
export const JOURNAL_MAGIC = "airgap-bundle-journal v1";
/** Journal line written once the bundle is complete under temporary names, before they are renamed. */
export const COMMIT_LINE = "commit";

/** Where the journal of the bundle at `tarPath` is kept. */
export function journalPath(tarPath: string): string {
  return join(dirname(tarPath), `.${basename(tarPath)}.journal`);
}

/**
 * Existing files of a bundle: its tar, parts, sidecar and signature. A save that replaces the bundle removes
 * every one its new bundle does not write again (an old `.sig` would otherwise be judged against a new sidecar
 * at the site, and read as tampering).
 */
export async function existingFiles(tarPath: string): Promise<string[]> {
  const name = basename(tarPath);
  const names = await readdir(dirname(tarPath)).catch(() => [] as string[]);
  return names
    .filter((n) => n === name || n === `${name}.sha256` || n === `${name}.sig` || isPartOf(n, name))
    .map((n) => join(dirname(tarPath), n));
}

/** A journal's lines and the part files its header describes (`parts SPLIT SIZE`); undefined when it is not one. */
function readJournal(tarPath: string, text: string): { lines: string[]; parts: ReturnType<typeof partLayout> } | undefined {
  const lines = text.split("\n");
  const header = /^parts (\d+) (\d+)$/.exec(lines[1] ?? "");
  if (lines[0] !== JOURNAL_MAGIC || !header) return undefined;
  const split = Number(header[1]);
  return { lines, parts: partLayout(tarPath, Number(header[2]), split > 0 ? split : undefined) };
}

/**
 * A save killed while renaming its complete bundle into place (its journal says "commit") is finished now:
 * the renames are completed, so the new bundle is whole and nothing of it is lost.
 */
async function completeCommit(tarPath: string): Promise<void> {
  const journal = readJournal(tarPath, await readFile(journalPath(tarPath), "utf8").catch(() => ""));
  if (!journal || !journal.lines.includes(COMMIT_LINE)) return;
  const { parts } = journal;
  for (const p of parts) await rename(p.temp, p.final).catch(() => undefined);
  await rename(temporaryName(`${tarPath}.sha256`), `${tarPath}.sha256`).catch(() => undefined);
  await removeStale(tarPath, parts.map((p) => p.final));
  await unlink(journalPath(tarPath)).catch(() => undefined);
}

/** Deletes files of an older bundle at `tarPath` that the new one (`keep`, and its sidecar) did not replace. */
export async function removeStale(tarPath: string, keep: string[]): Promise<void> {
  const kept = new Set([...keep, `${tarPath}.sha256`]);
  for (const old of await existingFiles(tarPath)) if (!kept.has(old)) await unlink(old).catch(() => undefined);
}

/** Refuses early (before any download) to overwrite an existing bundle without `force`. */
export async function assertCanWrite(outDir: string, name: string, version: string, force: boolean): Promise<void> {
  const tarPath = join(outDir, bundleFileName(name, version));
  await completeCommit(tarPath);
  await refuseExisting(tarPath, force);
}

/** Refuses a bundle (or any of its parts) already at `tarPath` unless `force` says to write over it. */
export async function refuseExisting(tarPath: string, force: boolean): Promise<void> {
  if (!force && (await existingFiles(tarPath)).length > 0) {
    throw new AirgapError("BUNDLE_EXISTS", `${tarPath} already exists`, { hint: "pass --force to overwrite it, or choose another --version" });
  }
}

/** The least of a blob cut off mid-way that is kept for the next run to resume from (less is fetched again). */
export const MIN_PARTIAL_BYTES = 1024 * 1024;

/** Copies the first `written` bytes of a blob cut off mid-way into the cache, for the next download to resume from. */
export async function salvagePartial(tar: TarFile, d: Descriptor, offset: number, written: number, cache: OciLayout): Promise<void> {
  if (written >= d.size || (await cache.partialSize(d)) >= written) return;
  await cache.keepPartial(d, Readable.from(tar.range(offset, written)));
}

/** Copies one blob out of an unfinished tar into the cache, verifying it on the way. */
export async function salvageBlob(tar: TarFile, d: Descriptor, offset: number, cache: OciLayout): Promise<void> {
  if (await cache.exists(d)) return;
  await cache.push(d, async () => streamPipeline(Readable.from(tar.range(offset, d.size)), new VerifyingStream(d, `salvaging ${d.digest}`), () => undefined) as VerifyingStream);
}

/**
 * Moves the verified blobs of a bundle that a killed run left unfinished (its journal names them)
 * into the cache, then deletes the unfinished files. Returns how many blobs were kept.
 */
export async function recoverUnfinished(outDir: string, name: string, version: string, cache: OciLayout): Promise<number> {
  const tarPath = join(outDir, bundleFileName(name, version));
  let journal: string;
  try {
    journal = await readFile(journalPath(tarPath), "utf8");
  } catch {
    return 0;
  }
  const read = readJournal(tarPath, journal);
  let kept = 0;
  if (read) {
    const { lines, parts } = read;

    const tar = await TarFile.open(parts.map((p) => ({ path: p.temp, start: p.start, size: p.size }))).catch(() => undefined);
    if (tar) {
      for (const line of lines.slice(2)) {
        const partial = /^partial (\S+) (\S+) (\d+) (\d+) (\d+)$/.exec(line);
        if (partial) {
          const d: Descriptor = { digest: partial[1]!, mediaType: partial[2]!, size: Number(partial[4]) };
          await salvagePartial(tar, d, Number(partial[3]), Number(partial[5]), cache).catch(() => undefined);
          continue;
        }
        const m = /^blob (\S+) (\S+) (\d+) (\d+)$/.exec(line);
        if (!m) continue;
        const d: Descriptor = { digest: m[1]!, mediaType: m[2]!, size: Number(m[4]) };
        // A blob that does not verify (a power cut mid-write) is simply not kept.
        if (await salvageBlob(tar, d, Number(m[3]), cache).then(() => true, () => false)) kept++;
      }
      await tar.close();
    }
    await Promise.all(parts.map((p) => unlink(p.temp).catch(() => undefined)));
  }
  await unlink(temporaryName(`${tarPath}.sha256`)).catch(() => undefined);
  await unlink(journalPath(tarPath)).catch(() => undefined);
  return kept;
}
