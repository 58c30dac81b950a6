/**
 * Opening the bundle a command works on, checked first: its `.sha256` (a bundle verified before and unchanged
 * since is trusted), every blob with `--deep`, nothing with `--skip-verify` (said aloud).
 */
import type { BundleReader } from "../bundle/reader.js";
import { publicKeyOption } from "./keys.js";
import type { Output } from "./output.js";

/** Opens and verifies `args.bundle`; the caller closes the reader (and, with `announceSkip: false`, says `--skip-verify` itself). */
export async function openVerifiedBundle(args: Record<string, unknown>, out: Output, options: { announceSkip?: boolean } = {}): Promise<BundleReader> {
  const { BundleReader } = await import("../bundle/reader.js");
  const { verifyBundle } = await import("../ops/verify.js");
  const { checkAgreement } = await import("../bundle/format-check.js");
  const key = await publicKeyOption(args);
  const reader = await BundleReader.open(String(args.bundle));
  try {
    if (args["skip-verify"]) {
      if (options.announceSkip !== false) out.warn("--skip-verify: the bundle's checksums were not checked (every blob is still verified as it is read)");
    } else {
      await verifyBundle(reader, { deep: args.deep === true, trustStamps: args.deep !== true, ...(key && { key }) });
    }
    // What bundle.json and index.json say must agree before anything is pushed, installed or exported.
    checkAgreement(reader.bundle, reader.index, reader.manifestFiles(), reader.path, reader.chartFiles());
    return reader;
  } catch (err) {
    await reader.close();
    throw err;
  }
}

/**
 * The bundles given with --base, open (a delta's missing content is read from them). With `--deep`, each is
 * re-hashed blob by blob like the bundle itself (the load checks their `.sha256` in any case).
 */
export async function openBases(args: Record<string, unknown>): Promise<BundleReader[]> {
  const paths = (args.base as string[] | undefined) ?? [];
  if (paths.length === 0) return [];
  const { BundleReader } = await import("../bundle/reader.js");
  const { verifyBundle } = await import("../ops/verify.js");
  const readers: BundleReader[] = [];
  try {
    for (const p of paths) {
      readers.push(await BundleReader.open(String(p)));
      if (args.deep === true) await verifyBundle(readers.at(-1)!, { deep: true });
    }
  } catch (err) {
    for (const r of readers) await r.close();
    throw err;
  }
  return readers;
}
