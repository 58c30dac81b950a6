/**
 * One repository of a registry as a {@link Target}: manifests by tag or digest, blobs streamed with
 * resume by `Range` after a broken connection, redirects to storage hosts followed without credentials.
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pull
 */
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { AirgapError } from "../errors.js";
import { MAX_MANIFEST_BYTES, type Descriptor } from "../oci/descriptor.js";
import { isIndex, isManifest, isSchema1, MANIFEST_ACCEPT, MediaType } from "../oci/media-types.js";
import { digestOf, verifyBytes } from "../oci/verify.js";
import { formatReference, manifestSelector, type Reference } from "../reference/reference.js";
import type { ManifestData, Mounter, Opener, Target } from "../content/target.js";
import type { RegistryHost } from "./client.js";
import { BlobStream } from "./blob-stream.js";
import { uploadInChunks } from "./chunked-upload.js";
import { isTemporary, readCapped, redactUrl, RegistryError, responseError } from "./errors.js";

const MAX_REDIRECTS = 5;

/** A repository (`library/mysql`) on a registry host. */
export class RegistryRepository implements Target, Mounter {
  readonly name: string;
  /** Repositories of one registry host mount from one another. */
  readonly mountDomain: string;

  constructor(
    private readonly registry: RegistryHost,
    /** Repository path inside the registry, e.g. `library/mysql`. */
    readonly path: string,
  ) {
    this.name = `${registry.host}/${path}`;
    this.mountDomain = registry.host;
  }

  /** A mount names the repository by its path. */
  get mountName(): string {
    return this.path;
  }

  private scope(actions = "pull"): string {
    return `repository:${this.path}:${actions}`;
  }

  /** GET a manifest by tag or digest, keeping its exact bytes; the digest is computed and checked. */
  async resolve(ref: Reference, signal?: AbortSignal): Promise<ManifestData> {
    const selector = manifestSelector(ref);
    return this.getManifest(selector, formatReference(ref), signal);
  }

  private async getManifest(selector: string, label: string, signal?: AbortSignal, expected?: Descriptor): Promise<ManifestData> {
    const what = `fetching manifest ${label}`;
    const res = await this.registry.request(`/v2/${this.path}/manifests/${selector}`, {
      what, signal, scope: this.scope(), headers: { accept: MANIFEST_ACCEPT }, passStatuses: [404],
    });
    if (res.statusCode === 404) {
      res.body.resume();
      throw new AirgapError("NOT_FOUND", `${what}: not found in ${this.registry.host} (manifest unknown)`, { hint: "check the repository name and tag in the imagelist" });
    }
    if (res.statusCode !== 200) throw await responseError(what, res);
    const bytes = await readCapped(res.body, Math.min(MAX_MANIFEST_BYTES, expected?.size ?? MAX_MANIFEST_BYTES), what);
    const mediaType = manifestMediaType(res.headers["content-type"], bytes, label);
    const digest = digestOf(bytes, selector.includes(":") ? selector : "sha256:");
    if (selector.includes(":") && digest !== selector) {
      throw new AirgapError("DIGEST_MISMATCH", `${what}: the registry sent a manifest whose digest is ${digest}, not the requested ${selector}`);
    }
    const claimed = res.headers["docker-content-digest"];
    if (typeof claimed === "string" && claimed.startsWith("sha256:") && digest.startsWith("sha256:") && claimed !== digest) {
      throw new AirgapError("DIGEST_MISMATCH", `${what}: the manifest's bytes hash to ${digest} but the registry says ${claimed}`);
    }
    if (expected) verifyBytes(bytes, expected, what);
    return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
  }

  async fetchBytes(d: Descriptor, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    if (d.size > maxBytes) throw new RegistryError(`${this.name}: ${d.digest} is ${d.size} bytes, more than the ${maxBytes}-byte limit for its kind`);
    if (isIndex(d.mediaType) || isManifest(d.mediaType)) {
      return (await this.getManifest(d.digest, `${this.name}@${d.digest}`, signal, d)).bytes;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await this.fetch(d, signal)) chunks.push(chunk as Buffer);
    const data = Buffer.concat(chunks);
    verifyBytes(data, d, `fetching ${this.name} blob ${d.digest}`);
    return data;
  }

  /**
   * Streams a blob. A connection that breaks mid-way is resumed from where it stopped with `Range`
   * (or, when the server ignores Range, by skipping what was already delivered).
   */
  async fetch(d: Descriptor, signal?: AbortSignal): Promise<Readable> {
    return this.fetchFrom(d, 0, signal);
  }

  /** Streams a blob from byte `offset` on (`Range`; a server that ignores it is read past what is not wanted). */
  async fetchFrom(d: Descriptor, offset: number, signal?: AbortSignal): Promise<Readable> {
    const what = `fetching ${this.name} blob ${d.digest}`;
    const first = await this.openBlob(d, offset, what, signal);
    return new BlobStream(first, d, what, (at) => this.openBlob(d, at, what, signal), this.registry.retryOptions, signal, offset);
  }

  private async openBlob(d: Descriptor, offset: number, what: string, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await this.registry.request(`/v2/${this.path}/blobs/${d.digest}`, { what, signal, scope: this.scope(), headers, passStatuses: [404, 301, 302, 303, 307, 308] });
    let url = `${await this.registry.base(signal)}/v2/${this.path}/blobs/${d.digest}`;
    for (let hops = 0; [301, 302, 303, 307, 308].includes(res.statusCode); hops++) {
      res.body.resume();
      const location = res.headers.location;
      if (typeof location !== "string" || hops >= MAX_REDIRECTS) throw new RegistryError(`${what}: bad redirect from ${redactUrl(url)}`);
      url = new URL(location, url).toString();
      // Registry credentials go only to the registry itself, never to a storage host it redirects to (transport.ts).
      res = await this.registry.send(url, { what, signal, headers, scope: this.scope(), passStatuses: [404, 301, 302, 303, 307, 308] });
    }
    if (res.statusCode === 404) {
      res.body.resume();
      throw new AirgapError("NOT_FOUND", `${what}: blob not found (${redactUrl(url)})`);
    }
    if (offset > 0 && res.statusCode === 206) {
      const range = String(res.headers["content-range"] ?? "");
      if (!range.startsWith(`bytes ${offset}-`)) {
        res.body.destroy();
        throw new RegistryError(`${what}: asked for bytes from ${offset}, the server sent "${range}"`);
      }
    } else if (res.statusCode !== 200) {
      throw await responseError(what, res);
    }
    return res;
  }

  /** HEAD a blob or manifest. */
  async exists(d: Descriptor, signal?: AbortSignal): Promise<boolean> {
    const kind = isIndex(d.mediaType) || isManifest(d.mediaType) ? "manifests" : "blobs";
    const what = `checking ${this.name} for ${d.digest}`;
    const res = await this.registry.request(`/v2/${this.path}/${kind}/${d.digest}`, {
      method: "HEAD", what, signal, scope: this.scope(), passStatuses: [404], ...(kind === "manifests" && { headers: { accept: MANIFEST_ACCEPT } }),
    });
    res.body.resume();
    if (res.statusCode === 404) return false;
    if (res.statusCode !== 200) throw await responseError(what, res);
    return true;
  }

  /**
   * Pushes a manifest (PUT by digest, its bytes and media type as they are) or uploads a blob (POST, then a
   * monolithic PUT ?digest= streaming the opener's bytes). A failed upload is retried whole, with a fresh stream.
   * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#push
   */
  async push(d: Descriptor, open: Opener, signal?: AbortSignal): Promise<void> {
    if (isIndex(d.mediaType) || isManifest(d.mediaType)) {
      const chunks: Buffer[] = [];
      for await (const c of await open()) chunks.push(c as Buffer);
      await this.putManifest(d.digest, d.mediaType, Buffer.concat(chunks), signal);
      return;
    }
    await this.uploadRetried(d, open, signal);
  }

  /** Mounts a blob from another repository of this registry; one that will not mount gets it uploaded (202: into the session it opened). */
  async mount(d: Descriptor, from: string, open: Opener, signal?: AbortSignal): Promise<void | "mounted"> {
    const what = `mounting ${d.digest} into ${this.name} from ${from}`;
    const res = await this.registry.request(`/v2/${this.path}/blobs/uploads/?mount=${d.digest}&from=${from}`, {
      method: "POST", what, signal, scope: `repository:${this.path}:pull,push repository:${from}:pull`,
    });
    res.body.resume();
    if (res.statusCode === 201) return "mounted";
    await this.uploadRetried(d, open, signal, res.statusCode === 202 && typeof res.headers.location === "string" ? res.headers.location : undefined);
  }

  private async uploadRetried(d: Descriptor, open: Opener, signal?: AbortSignal, session?: string): Promise<void> {
    const retry = this.registry.retryOptions;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.upload(d, open, signal, attempt === 0 ? session : undefined);
      } catch (err) {
        // Bytes that fail verification will fail again, and so will a registry's permanent refusal (400
        // DIGEST_INVALID, 403…): only the network and the registry's temporary failures are retried.
        if (!isTemporary(err) || attempt >= retry.retries || signal?.aborted) throw err;
        await this.registry.retryWait(`uploading ${d.digest} to ${this.name}`, attempt, err instanceof Error ? err.message : String(err), signal);
      }
    }
  }

  private async upload(d: Descriptor, open: Opener, signal?: AbortSignal, session?: string): Promise<void> {
    const what = `uploading ${d.digest} to ${this.name}`;
    let location = session;
    if (location === undefined) {
      const start = await this.registry.request(`/v2/${this.path}/blobs/uploads/`, { method: "POST", what, signal, scope: this.scope("pull,push"), headers: { "content-length": "0" } });
      start.body.resume();
      if (start.statusCode !== 202) throw await responseError(what, start);
      const given = start.headers.location;
      if (typeof given !== "string") throw new RegistryError(`${what}: the registry gave no upload location`);
      location = given;
    }
    const base = await this.registry.base(signal);
    const chunkSize = this.registry.chunkSize;
    let url = new URL(location, `${base}/`);
    const putOptions = { method: "PUT" as const, what, signal, scope: this.scope("pull,push"), noRetry: true };
    if (chunkSize === undefined || d.size <= chunkSize) {
      url.searchParams.set("digest", d.digest);
      const res = await this.registry.send(url.toString(), {
        ...putOptions,
        headers: { "content-type": "application/octet-stream", "content-length": String(d.size) },
        body: () => open(),
      });
      if (res.statusCode !== 201) throw await responseError(what, res);
      res.body.resume();
      return;
    }
    // Chunked (for proxies that cap request bodies): PATCH pieces, then PUT ?digest=.
    url = await uploadInChunks({ registry: this.registry, scope: this.scope("pull,push"), base, what, ...(signal && { signal }) }, d, open, url, chunkSize);
    url.searchParams.set("digest", d.digest);
    const res = await this.registry.send(url.toString(), { ...putOptions, headers: { "content-length": "0" } });
    if (res.statusCode !== 201) throw await responseError(what, res);
    res.body.resume();
  }

  private readonly manifestBytes = new Map<string, { mediaType: string; bytes: Buffer }>();

  private async putManifest(reference: string, mediaType: string, bytes: Buffer, signal?: AbortSignal): Promise<void> {
    const what = `pushing manifest ${this.name}:${reference}`;
    const res = await this.registry.request(`/v2/${this.path}/manifests/${reference}`, {
      method: "PUT", what, signal, scope: this.scope("pull,push"),
      headers: { "content-type": mediaType, "content-length": String(bytes.length) },
      body: () => bytes,
    });
    if (res.statusCode !== 201) throw await responseError(what, res);
    res.body.resume();
    this.manifestBytes.set(digestOf(bytes), { mediaType, bytes });
  }

  /** Points a tag at a manifest already pushed (a no-op when the tag already names that digest). */
  async tag(d: Descriptor, ref: Reference, signal?: AbortSignal): Promise<void> {
    const tag = ref.tag;
    if (tag === undefined) return;
    const head = await this.registry.request(`/v2/${this.path}/manifests/${tag}`, {
      method: "HEAD", what: `checking ${this.name}:${tag}`, signal, scope: this.scope("pull,push"), headers: { accept: MANIFEST_ACCEPT }, passStatuses: [404],
    });
    head.body.resume();
    if (head.statusCode === 200 && head.headers["docker-content-digest"] === d.digest) return;
    const known = this.manifestBytes.get(d.digest) ?? { mediaType: d.mediaType, bytes: (await this.getManifest(d.digest, `${this.name}@${d.digest}`, signal, d)).bytes };
    await this.putManifest(tag, known.mediaType, known.bytes, signal);
  }

  /**
   * The manifests whose `subject` is `digest`, by the Referrers API (`GET /v2/<name>/referrers/<digest>`);
   * undefined when the registry does not have the API (distribution 2.8 answers 404).
   * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
   */
  async referrers(digest: string, signal?: AbortSignal): Promise<Descriptor[] | undefined> {
    const what = `listing the referrers of ${this.name}@${digest}`;
    const res = await this.registry.request(`/v2/${this.path}/referrers/${digest}`, { what, signal, scope: this.scope(), headers: { accept: MediaType.OciIndex }, passStatuses: [404, 400, 405] });
    if (res.statusCode !== 200) {
      res.body.resume();
      return undefined;
    }
    const body = await readCapped(res.body, MAX_MANIFEST_BYTES, what);
    try {
      const manifests = (JSON.parse(body.toString("utf8")) as { manifests?: unknown }).manifests;
      return Array.isArray(manifests) ? (manifests as Descriptor[]) : undefined;
    } catch {
      throw new RegistryError(`${what}: the answer is not an index`);
    }
  }

  /** Every tag of the repository (all pages); empty when the registry does not know the repository. */
  async tags(signal?: AbortSignal): Promise<string[]> {
    return (await this.registry.listAll(`/v2/${this.path}/tags/list?n=1000`, "tags", `listing the tags of ${this.name}`, this.scope(), signal)) ?? [];
  }

  /** Whether the repository holds any tag (`GET /v2/<name>/tags/list?n=1`); false when it is unknown. */
  async hasTags(signal?: AbortSignal): Promise<boolean> {
    const what = `listing the tags of ${this.name}`;
    const res = await this.registry.request(`/v2/${this.path}/tags/list?n=1`, { what, signal, scope: this.scope(), passStatuses: [404] });
    if (res.statusCode === 404) {
      res.body.resume();
      return false;
    }
    if (res.statusCode !== 200) throw await responseError(what, res);
    // The registry decides the body's size: one page of one tag needs little.
    const body = await readCapped(res.body, 1024 * 1024, what);
    try {
      const tags = (JSON.parse(body.toString("utf8")) as { tags?: unknown }).tags;
      return Array.isArray(tags) && tags.length > 0;
    } catch {
      throw new RegistryError(`${what}: the registry answered with something that is not JSON`);
    }
  }

  /** The digest a tag (or digest) resolves to, by HEAD; undefined when it is not there. */
  async headManifest(reference: string, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.registry.request(`/v2/${this.path}/manifests/${reference}`, {
      method: "HEAD", what: `checking ${this.name}:${reference}`, signal, scope: this.scope(), headers: { accept: MANIFEST_ACCEPT }, passStatuses: [404],
    });
    res.body.resume();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw await responseError(`checking ${this.name}:${reference}`, res);
    const digest = res.headers["docker-content-digest"];
    return typeof digest === "string" ? digest : reference.includes(":") ? reference : undefined;
  }
}

/** The media type of a manifest response: Content-Type, or the manifest's own field when the server is vague. */
function manifestMediaType(contentType: string | string[] | undefined, bytes: Buffer, label: string): string {
  const header = (Array.isArray(contentType) ? contentType[0] : contentType)?.split(";")[0]?.trim() ?? "";
  let inner: string | undefined;
  let schemaVersion: unknown;
  try {
    const json = JSON.parse(bytes.toString("utf8")) as { mediaType?: string; schemaVersion?: unknown };
    inner = typeof json.mediaType === "string" ? json.mediaType : undefined;
    schemaVersion = json.schemaVersion;
  } catch {
    throw new AirgapError("INVALID_MANIFEST", `fetching manifest ${label}: the registry sent something that is not JSON`);
  }
  if (schemaVersion === 1 || isSchema1(header) && !inner) {
    throw new AirgapError("UNSUPPORTED", `${label}: Docker schema 1 manifests are not supported (re-push the image with a current Docker or skopeo)`);
  }
  if (isIndex(header) || isManifest(header)) return header;
  if (inner) return inner;
  throw new AirgapError("UNSUPPORTED", `${label}: unsupported manifest media type "${header || "(none)"}"`);
}
