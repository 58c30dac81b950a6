/**
 * Deterministic random OCI (or Docker schema 2) images for tests: layers are tars of pseudo-random
 * bytes from a seed, gzip-compressed, with correct digests, sizes, diff_ids and media types.
 * `seedRegistry` pushes them with skopeo — an independent client — so tests never prepare what they
 * check with our own push code.
 */
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { run } from "./processes.js";
import { ustarHeader } from "./tar.js";
import type { TestRegistry } from "./registry.js";

/** Media types used by the generator (OCI image-spec and Docker image manifest v2, schema 2). */
export const MEDIA = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** Content and descriptor of one blob. */
export interface TestBlob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

/** A single-platform image. */
export interface TestImage {
  kind: "image";
  platform: string;
  manifest: TestBlob;
  config: TestBlob;
  layers: TestBlob[];
}

/** A multi-platform index and its images. */
export interface TestIndex {
  kind: "index";
  index: TestBlob;
  images: TestImage[];
}

/** An image or an index. */
export type TestArtifact = TestImage | TestIndex;

/** A layer: its size in bytes of random content, and optionally its own seed (same seed + size ⇒ same layer, to share it). */
export type LayerSpec = number | { seed: string; size: number };

/** Options for {@link makeImage}. */
export interface MakeImageOptions {
  seed: string;
  /** Layer contents (default one 1 KiB layer). */
  layers?: LayerSpec[];
  /** `os/arch[/variant]`, default linux/amd64. */
  platform?: string;
  /** OCI (default) or Docker schema 2 media types. */
  format?: "oci" | "docker";
}

/** Deterministic pseudo-random bytes: AES-256-CTR of zeros under a key derived from the seed. */
export function randomBytesFromSeed(seed: string, size: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** sha256 digest string of a buffer. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function blob(mediaType: string, data: Buffer): TestBlob {
  return { mediaType, digest: sha256(data), size: data.length, data };
}

/** A one-file ustar archive (header + content + padding + two zero blocks), with fixed metadata. */
function tarOneFile(name: string, content: Buffer): Buffer {
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([ustarHeader(name, content.length), content, pad, Buffer.alloc(1024)]);
}

function layerBlob(spec: LayerSpec, imageSeed: string, index: number, mediaType: string): { blob: TestBlob; diffId: string } {
  const { seed, size } = typeof spec === "number" ? { seed: `${imageSeed}/layer-${index}`, size: spec } : spec;
  const tar = tarOneFile(`data/${createHash("sha256").update(seed).digest("hex").slice(0, 16)}.bin`, randomBytesFromSeed(seed, size));
  return { blob: blob(mediaType, gzipSync(tar, { level: 1 })), diffId: sha256(tar) };
}

function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  const [os = "linux", architecture = "amd64", variant] = platform.split("/");
  return { os, architecture, ...(variant && { variant }) };
}

/** Makes a deterministic single-platform image. */
export function makeImage(options: MakeImageOptions): TestImage {
  const docker = options.format === "docker";
  const platform = options.platform ?? "linux/amd64";
  const layers = (options.layers ?? [1024]).map((spec, i) => layerBlob(spec, options.seed, i, docker ? MEDIA.dockerLayer : MEDIA.ociLayer));
  const config = blob(
    docker ? MEDIA.dockerConfig : MEDIA.ociConfig,
    Buffer.from(
      JSON.stringify({
        created: "2026-01-01T00:00:00Z",
        ...parsePlatform(platform),
        config: { Env: ["PATH=/usr/bin:/bin"], Labels: { "test.seed": options.seed } },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
        history: layers.map(() => ({ created: "2026-01-01T00:00:00Z", created_by: "airgap-bundle test" })),
      }),
    ),
  );
  const descriptor = (b: TestBlob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = blob(
    docker ? MEDIA.dockerManifest : MEDIA.ociManifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: docker ? MEDIA.dockerManifest : MEDIA.ociManifest,
        config: descriptor(config),
        layers: layers.map((l) => descriptor(l.blob)),
      }),
    ),
  );
  return { kind: "image", platform, manifest, config, layers: layers.map((l) => l.blob) };
}

/** Makes an index (OCI) or manifest list (Docker) over images. */
export function makeIndex(images: TestImage[], format: "oci" | "docker" = "oci"): TestIndex {
  const mediaType = format === "docker" ? MEDIA.dockerList : MEDIA.ociIndex;
  const data = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((img) => ({
        mediaType: img.manifest.mediaType,
        digest: img.manifest.digest,
        size: img.manifest.size,
        platform: parsePlatform(img.platform),
      })),
    }),
  );
  return { kind: "index", index: blob(mediaType, data), images };
}

/** The top manifest (index or image manifest) of an artifact. */
export function topManifest(artifact: TestArtifact): TestBlob {
  return artifact.kind === "index" ? artifact.index : artifact.manifest;
}

/** Every distinct blob of an artifact (manifests, configs, layers). */
export function allBlobs(artifact: TestArtifact): TestBlob[] {
  const images = artifact.kind === "index" ? artifact.images : [artifact];
  const list = [...(artifact.kind === "index" ? [artifact.index] : []), ...images.flatMap((i) => [i.manifest, i.config, ...i.layers])];
  return [...new Map(list.map((b) => [b.digest, b])).values()];
}

/** What a runnable test image runs: its entrypoint and command, as in an image config. */
export interface RunnableSpec {
  entrypoint?: string[];
  cmd?: string[];
}

/**
 * A server that answers a readiness probe on :8080 and stops at once on SIGTERM (Debian's busybox httpd); `name`,
 * when given, makes its config (and so its digest) its own.
 */
export function webServer(name?: string): RunnableSpec {
  return { entrypoint: ["/bin/busybox", "sh", "-c"], cmd: [`trap 'exit 0' TERM;${name ? ` : ${name};` : ""} mkdir -p /tmp/www && echo ok > /tmp/www/index.html && busybox httpd -f -p 8080 -h /tmp/www & wait`] };
}

/**
 * An image that really runs: one layer holding Debian's static busybox (`/bin/busybox`, which is a shell,
 * `sleep`, `httpd`, …) and an empty `/tmp`, with the entrypoint and command given. Its digest changes with them.
 */
export async function busyboxImage(spec: RunnableSpec): Promise<TestImage> {
  const busybox = await readFile("/bin/busybox");
  const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
  const tar = Buffer.concat([
    ustarHeader("bin/", 0, "5", 0, 0o755), ustarHeader("tmp/", 0, "5", 0, 0o1777),
    ustarHeader("bin/busybox", busybox.length, "0", 0, 0o755), busybox, pad(busybox.length), Buffer.alloc(1024),
  ]);
  const layer = blob(MEDIA.ociLayer, gzipSync(tar, { level: 1 }));
  const config = blob(MEDIA.ociConfig, Buffer.from(JSON.stringify({
    created: "2026-01-01T00:00:00Z", os: "linux", architecture: "amd64",
    config: { Env: ["PATH=/bin"], ...(spec.entrypoint && { Entrypoint: spec.entrypoint }), ...(spec.cmd && { Cmd: spec.cmd }) },
    rootfs: { type: "layers", diff_ids: [sha256(tar)] },
    history: [{ created: "2026-01-01T00:00:00Z", created_by: "airgap-bundle test: Debian busybox-static" }],
  })));
  const descriptor = (b: TestBlob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = blob(MEDIA.ociManifest, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: descriptor(config), layers: [descriptor(layer)] })));
  return { kind: "image", platform: "linux/amd64", manifest, config, layers: [layer] };
}

/** Writes a {@link busyboxImage} as an OCI archive (a tar of an OCI layout) that `ctr images import` names `name`. */
export async function busyboxImageLayout(tarPath: string, spec: RunnableSpec & { name: string }): Promise<void> {
  const image = await busyboxImage(spec);
  const files: Array<[string, Buffer]> = [
    ["oci-layout", Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" }))],
    ["index.json", Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociIndex,
      manifests: [{ mediaType: MEDIA.ociManifest, digest: image.manifest.digest, size: image.manifest.size, annotations: { "io.containerd.image.name": spec.name, "org.opencontainers.image.ref.name": spec.name.slice(spec.name.lastIndexOf(":") + 1) } }],
    }))],
    ...allBlobs(image).map((b): [string, Buffer] => [`blobs/sha256/${b.digest.slice("sha256:".length)}`, b.data]),
  ];
  const parts = [ustarHeader("blobs/", 0, "5", 0, 0o755), ustarHeader("blobs/sha256/", 0, "5", 0, 0o755)];
  for (const [name, data] of files) parts.push(ustarHeader(name, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  await writeFile(tarPath, Buffer.concat([...parts, Buffer.alloc(1024)]));
}

/** Writes an artifact as an OCI image layout whose index.json names it `refName`. */
export async function writeLayout(dir: string, artifact: TestArtifact, refName: string): Promise<void> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  for (const b of allBlobs(artifact)) await writeFile(join(dir, "blobs", "sha256", b.digest.slice("sha256:".length)), b.data);
  const top = topManifest(artifact);
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [{ mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { "org.opencontainers.image.ref.name": refName } }],
    }),
  );
}

/**
 * Writes an artifact in skopeo's `dir:` transport shape (`manifest.json`, instance manifests as
 * `<hex>.manifest.json`, blobs as `<hex>`): unlike an OCI layout it may hold Docker media types.
 */
export async function writeDirTransport(dir: string, artifact: TestArtifact): Promise<void> {
  await mkdir(dir, { recursive: true });
  const hex = (b: TestBlob) => b.digest.slice("sha256:".length);
  await writeFile(join(dir, "version"), "Directory Transport Version: 1.1\n");
  await writeFile(join(dir, "manifest.json"), topManifest(artifact).data);
  const images = artifact.kind === "index" ? artifact.images : [artifact];
  for (const image of images) {
    if (artifact.kind === "index") await writeFile(join(dir, `${hex(image.manifest)}.manifest.json`), image.manifest.data);
    for (const b of [image.config, ...image.layers]) await writeFile(join(dir, hex(b)), b.data);
  }
}

/** skopeo flags to reach a test registry as a destination (or source with prefix "src"). */
export function skopeoRegistryFlags(registry: TestRegistry, side: "dest" | "src", creds?: { username: string; password: string }): string[] {
  const flags: string[] = [];
  if (registry.pki) flags.push(`--${side}-cert-dir`, registry.pki.certDir);
  else flags.push(`--${side}-tls-verify=false`);
  const c = creds ?? (registry.username && registry.password ? { username: registry.username, password: registry.password } : undefined);
  if (c) flags.push(`--${side}-creds`, `${c.username}:${c.password}`);
  return flags;
}

/**
 * Pushes an artifact into a registry as `repoAndTag` (e.g. `team/app:1`) with `skopeo copy --all
 * --preserve-digests`, so the registry holds exactly these bytes. Returns the pushed top digest.
 */
export async function seedRegistry(
  registry: TestRegistry,
  artifact: TestArtifact,
  repoAndTag: string,
  creds?: { username: string; password: string },
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "airgap-seed-"));
  try {
    // skopeo's OCI layout reader skips Docker media types; its dir: transport takes both.
    const docker = topManifest(artifact).mediaType.includes("docker");
    if (docker) await writeDirTransport(join(dir, "image"), artifact);
    else await writeLayout(dir, artifact, "seed");
    await run("skopeo", [
      "copy", "--all", "--preserve-digests", "--retry-times", "2",
      ...skopeoRegistryFlags(registry, "dest", creds),
      docker ? `dir:${join(dir, "image")}` : `oci:${dir}:seed`, `docker://${registry.host}/${repoAndTag}`,
    ], { env: { ...process.env, REGISTRY_AUTH_FILE: join(dir, "auth.json") } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return topManifest(artifact).digest;
}
