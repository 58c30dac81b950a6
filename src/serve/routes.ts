/**
 * The read-only registry API of `bundle serve` (OCI distribution spec, pull side): `/v2/`, manifests by tag and
 * digest, blobs with Range, tag and catalog listings with `n`/`last` and `Link`, the Referrers API; every write is
 * answered 405 with an OCI error body. Blobs are read from the tar by range and checked for size as they are sent
 * (a short read cuts the response short). When the bundle was not proved before serving (--skip-verify), a whole
 * blob is also hashed as it is sent and its last bytes are held back until its digest is proved, so no client ever
 * receives a complete wrong blob.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIndex, isManifest, MediaType } from "../oci/media-types.js";
import { hashFor } from "../oci/verify.js";
import { digestProblem } from "../reference/reference.js";
import type { Descriptor } from "../oci/descriptor.js";
import type { BlobPlace, ServedContent, ServedManifest, ServedRepository } from "./content.js";

/** What one request came to, for the access line and the totals. */
export interface Served {
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Why a response was cut short by us (a blob whose bytes no longer match its digest, a short or unreadable tar). */
  cutShort?: string;
  /** The client went away before the response was complete (its business, not a fault here). */
  gone?: boolean;
}

/** The client closed the connection while its response was being sent. */
class ClientGone extends Error {}

/** An OCI error answer. */
class Answer {
  constructor(readonly status: number, readonly code: string, readonly message: string, readonly headers: Record<string, string> = {}) {}
}

const JSON_TYPE = "application/json";
const ROUTE = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/;
const TAGS = /^\/v2\/(.+)\/tags\/list$/;

/** Answers one request from `content`; resolves when the response is complete (or cut short). */
export async function answer(content: ServedContent, req: IncomingMessage, res: ServerResponse): Promise<Served> {
  res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
  try {
    return await route(content, req, res);
  } catch (err) {
    if (!(err instanceof Answer)) throw err;
    const body = Buffer.from(JSON.stringify({ errors: [{ code: err.code, message: err.message }] }));
    res.writeHead(err.status, { ...err.headers, "Content-Type": JSON_TYPE, "Content-Length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
    return { status: err.status, bytes: req.method === "HEAD" ? 0 : body.length };
  }
}

async function route(content: ServedContent, req: IncomingMessage, res: ServerResponse): Promise<Served> {
  const url = new URL(req.url ?? "/", "http://serve");
  if (url.pathname !== "/v2" && !url.pathname.startsWith("/v2/")) throw new Answer(404, "NOT_FOUND", "not a registry API path");
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new Answer(405, "UNSUPPORTED", "bundle serve is read-only: pushing, deleting and uploading are not supported", { Allow: "GET, HEAD" });
  }
  if (url.pathname === "/v2/" || url.pathname === "/v2") return sendJson(req, res, {});
  if (url.pathname === "/v2/_catalog") {
    const names = [...content.repositories.keys()].sort(byteOrder);
    const page = paginate(names, url, "/v2/_catalog");
    return sendJson(req, res, { repositories: page.items }, page.link);
  }
  const tags = TAGS.exec(url.pathname);
  if (tags) {
    const repo = repository(content, tags[1]!);
    const page = paginate([...repo.tags.keys()].sort(byteOrder), url, `/v2/${repo.name}/tags/list`);
    return sendJson(req, res, { name: repo.name, tags: page.items }, page.link);
  }
  const m = ROUTE.exec(url.pathname);
  if (!m) throw new Answer(404, "NOT_FOUND", "no such registry API path");
  const repo = repository(content, m[1]!);
  const reference = decoded(m[3]!);
  if (m[2] === "manifests") return sendManifest(req, res, manifestOf(repo, reference));
  const digest = checkedDigest(reference);
  if (m[2] === "referrers") return sendReferrers(req, res, repo, digest, url.searchParams.get("artifactType"));
  const manifest = repo.manifests.get(digest);
  if (manifest) return sendBytes(req, res, manifest.bytes, digest);
  const d = repo.blobs.get(digest);
  const place = d && content.place(d);
  if (!d || !place) throw new Answer(404, "BLOB_UNKNOWN", `blob ${digest} is not in ${repo.name}`);
  return sendBlob(content, req, res, d, place);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Answer(400, "NAME_INVALID", `malformed escape in "${part}"`);
  }
}

function repository(content: ServedContent, raw: string): ServedRepository {
  const name = decoded(raw);
  const repo = content.repositories.get(name);
  if (!repo) throw new Answer(404, "NAME_UNKNOWN", `repository ${name} is not in this bundle`);
  return repo;
}

function checkedDigest(reference: string): string {
  const problem = digestProblem(reference);
  if (problem) throw new Answer(400, "DIGEST_INVALID", problem);
  return reference;
}

function manifestOf(repo: ServedRepository, reference: string): ServedManifest {
  const digest = reference.includes(":") ? checkedDigest(reference) : repo.tags.get(reference);
  const manifest = digest === undefined ? undefined : repo.manifests.get(digest);
  if (!manifest) throw new Answer(404, "MANIFEST_UNKNOWN", `manifest ${reference} is not in ${repo.name}`);
  return manifest;
}

/** A page of a sorted list after `last`, at most `n` long, with the `Link` to the next page when more remain. */
function paginate(sorted: string[], url: URL, path: string): { items: string[]; link?: string } {
  const last = url.searchParams.get("last");
  const after = last === null ? sorted : sorted.filter((s) => s > last);
  const nText = url.searchParams.get("n");
  if (nText === null) return { items: after };
  if (!/^\d{1,9}$/.test(nText)) throw new Answer(400, "PAGINATION_NUMBER_INVALID", `n must be a whole number, got "${nText}"`);
  const items = after.slice(0, Number(nText));
  if (items.length === 0 || items.length === after.length) return { items };
  return { items, link: `<${path}?n=${nText}&last=${encodeURIComponent(items[items.length - 1]!)}>; rel="next"` };
}

/** The media types an `Accept` header names (parameters dropped). */
function acceptedTypes(req: IncomingMessage): string[] {
  const header = req.headers.accept;
  if (!header) return [];
  return header.split(",").map((t) => t.split(";")[0]!.trim().toLowerCase()).filter((t) => t !== "");
}

/**
 * Whether a client may be sent a manifest of this type. A client that names no manifest type (none, `*∕*`, plain
 * JSON) gets what is stored; one that names manifest types gets an index or an OCI manifest only if it names that
 * type, as distribution answers. Docker's image manifest goes to every client.
 */
function accepts(req: IncomingMessage, mediaType: string): boolean {
  const types = acceptedTypes(req);
  if (types.includes("*/*") || types.includes(mediaType)) return true;
  if (!types.some((t) => isIndex(t) || isManifest(t))) return true;
  return mediaType === MediaType.DockerManifest;
}

function sendManifest(req: IncomingMessage, res: ServerResponse, manifest: ServedManifest): Served {
  if (!accepts(req, manifest.mediaType)) {
    throw new Answer(404, "MANIFEST_UNKNOWN", `the manifest is a ${manifest.mediaType}, which the Accept header does not name`);
  }
  res.writeHead(200, { "Content-Type": manifest.mediaType, "Content-Length": manifest.bytes.length, "Docker-Content-Digest": manifest.digest, ETag: `"${manifest.digest}"` });
  res.end(req.method === "HEAD" ? undefined : manifest.bytes);
  return { status: 200, bytes: req.method === "HEAD" ? 0 : manifest.bytes.length };
}

function sendJson(req: IncomingMessage, res: ServerResponse, value: unknown, link?: string, type = JSON_TYPE, extra: Record<string, string> = {}): Served {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(200, { "Content-Type": type, "Content-Length": body.length, ...(link && { Link: link }), ...extra });
  res.end(req.method === "HEAD" ? undefined : body);
  return { status: 200, bytes: req.method === "HEAD" ? 0 : body.length };
}

function sendReferrers(req: IncomingMessage, res: ServerResponse, repo: ServedRepository, subject: string, artifactType: string | null): Served {
  const all = repo.referrers.get(subject) ?? [];
  const manifests = artifactType === null ? all : all.filter((d) => d.artifactType === artifactType);
  const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  return sendJson(req, res, index, undefined, MediaType.OciIndex, artifactType === null ? {} : { "OCI-Filters-Applied": "artifactType" });
}

/** A single `bytes=` range of a blob of `size` bytes; undefined: serve it whole (no range, or one we do not take). */
function rangeOf(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    return suffix === 0 || size === 0 ? "unsatisfiable" : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? "unsatisfiable" : { start, end };
}

function blobHeaders(digest: string, length: number): Record<string, string | number> {
  return { "Content-Type": "application/octet-stream", "Content-Length": length, "Docker-Content-Digest": digest, "Accept-Ranges": "bytes", ETag: `"${digest}"` };
}

/** Answers the head of a blob's response (whole, or the range asked for: 206); 416 for a range it does not hold. */
function writeBlobHead(req: IncomingMessage, res: ServerResponse, digest: string, size: number): { start: number; length: number; status: number; range: boolean } {
  const range = rangeOf(req.headers.range, size);
  if (range === "unsatisfiable") throw new Answer(416, "BLOB_UNKNOWN", "the requested range is not satisfiable", { "Content-Range": `bytes */${size}` });
  const start = range?.start ?? 0;
  const length = range ? range.end - range.start + 1 : size;
  const status = range ? 206 : 200;
  res.writeHead(status, { ...blobHeaders(digest, length), ...(range && { "Content-Range": `bytes ${range.start}-${range.end}/${size}` }) });
  return { start, length, status, range: range !== undefined };
}

function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, digest: string): Served {
  const { start, length, status } = writeBlobHead(req, res, digest, bytes.length);
  res.end(req.method === "HEAD" ? undefined : bytes.subarray(start, start + length));
  return { status, bytes: req.method === "HEAD" ? 0 : length };
}

async function sendBlob(content: ServedContent, req: IncomingMessage, res: ServerResponse, d: Descriptor, place: BlobPlace): Promise<Served> {
  const { start, length, status } = writeBlobHead(req, res, d.digest, d.size);
  if (req.method === "HEAD") {
    res.end();
    return { status, bytes: 0 };
  }
  const sent = { bytes: 0 };
  try {
    // A response that ends with the blob's last byte (the whole blob, or a range to its end: `bytes=0-` too) is
    // proved before that byte goes, when nothing proved the bundle first.
    await sendRange(res, place, { start, length, ...(start + length === d.size && !content.proved && { whole: d }) }, sent);
    return { status, bytes: sent.bytes };
  } catch (err) {
    res.destroy();
    return { status, bytes: sent.bytes, ...(err instanceof ClientGone ? { gone: true } : { cutShort: (err as Error).message }) };
  }
}

const CHUNK = 1 << 20;

/**
 * Sends `length` bytes of a blob from the tar through two buffers used in turn: one is read into while the other is
 * on its way to the client, and is filled again only once the socket has taken it (no garbage per megabyte: half
 * the server's CPU at SCALE=1, `ONLY=serve npm run bench`). With `whole` (the part ends with the blob's last byte),
 * the blob is hashed from its start as it goes and the last chunk is sent only after the digest is proved.
 */
async function sendRange(res: ServerResponse, place: BlobPlace, part: { start: number; length: number; whole?: Descriptor }, sent: { bytes: number }): Promise<void> {
  const { start, length, whole } = part;
  const closed = new Promise<never>((_, reject) => res.once("close", () => reject(new ClientGone("the client went away"))));
  closed.catch(() => undefined);
  const buffers = [Buffer.allocUnsafe(Math.min(CHUNK, length)), Buffer.allocUnsafe(Math.min(CHUNK, length))];
  const taken: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  const hash = whole && hashFor(whole.digest);
  // A range that starts later is hashed from the blob's start: the bytes before it are read, not sent.
  for (let at = 0; hash && at < start; ) {
    const n = await place.reader.tar.readInto(buffers[0]!.subarray(0, Math.min(buffers[0]!.length, start - at)), place.offset + at);
    if (n === 0) throw new Error(`the bundle ends ${start - at} bytes before the range of ${whole.digest}: the response was cut short`);
    hash.update(buffers[0]!.subarray(0, n));
    at += n;
  }
  for (let done = 0, i = 0; done < length; i ^= 1) {
    await Promise.race([taken[i], closed]);
    const buffer = buffers[i]!;
    const n = await place.reader.tar.readInto(buffer.subarray(0, Math.min(buffer.length, length - done)), place.offset + start + done);
    if (n === 0) throw new Error(`the bundle ends ${length - done} bytes into ${whole?.digest ?? "a blob"}: the response was cut short`);
    const chunk = buffer.subarray(0, n);
    done += n;
    hash?.update(chunk);
    if (hash && done === length) {
      const got = `${whole.digest.slice(0, whole.digest.indexOf(":"))}:${hash.digest("hex")}`;
      if (got !== whole.digest) throw new Error(`${whole.digest} in the bundle no longer matches its digest (got ${got}): the response was cut short`);
    }
    taken[i] = new Promise<void>((resolve, reject) => res.write(chunk, (err) => (err ? reject(new ClientGone(err.message)) : resolve())));
    // Awaited later, or never when the client leaves first: its failure then must not go unhandled (a crash).
    taken[i]!.catch(() => undefined);
    sent.bytes += n;
  }
  await Promise.race([Promise.all(taken), closed]);
  await Promise.race([new Promise<void>((resolve) => res.end(resolve)), closed]);
}
