/**
 * Reading bundles back in tests: list a tar's entries (with small contents), run a bundle save.
 */
import { createReadStream } from "node:fs";
import tar from "tar-stream";

/** One tar entry: name, type, size and (for entries up to 1 MiB) the bytes. */
export interface TarEntry {
  name: string;
  type: string;
  size: number;
  data?: Buffer;
}

/** Lists the entries of a tar file (or of several files read as one, e.g. split parts). */
export async function listTar(...files: string[]): Promise<TarEntry[]> {
  const extract = tar.extract();
  const entries: TarEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => {
        if ((header.size ?? 0) <= 1 << 20) chunks.push(c as Buffer);
      });
      stream.on("end", () => {
        entries.push({ name: header.name, type: header.type ?? "file", size: header.size ?? 0, ...((header.size ?? 0) <= 1 << 20 && { data: Buffer.concat(chunks) }) });
        next();
      });
      stream.on("error", reject);
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  (async () => {
    for (const f of files) {
      for await (const chunk of createReadStream(f)) {
        if (!extract.write(chunk as Buffer)) await new Promise<void>((r) => extract.once("drain", () => r()));
      }
    }
    extract.end(undefined as unknown as Buffer);
  })().catch((err: Error) => extract.destroy(err));
  await done;
  return entries;
}

/** bundle.json of a listed tar. */
export function bundleJsonOf(entries: TarEntry[]): {
  images: Array<{ source: string; digest: string; line: number; mediaType: string; platformDigests: Record<string, string>; size: number; target: string; mirror?: string }>;
  blobs: { count: number; bytes: number };
  platforms: string[];
  format: string;
  manifests: Array<{ path: string }>;
} {
  const e = entries.find((x) => x.name === "bundle.json");
  if (!e?.data) throw new Error("no bundle.json in the tar");
  return JSON.parse(e.data.toString());
}

/** Each entry's name and the offset of its data in the tar (headers of 512 bytes, data padded to 512). */
export async function tarEntryOffsets(file: string): Promise<Array<{ name: string; offset: number }>> {
  const out: Array<{ name: string; offset: number }> = [];
  let offset = 0;
  for (const e of await listTar(file)) {
    out.push({ name: e.name, offset: offset + 512 });
    offset += 512 + Math.ceil(e.size / 512) * 512;
  }
  return out;
}
