/**
 * The bench's workload: a platform's worth of images in the shape of a real one — Go operators, Python
 * notebooks and CUDA servers on three shared base stacks, one multi-platform index, two images referenced
 * by digest only — written as an OCI image layout, then pushed into the source registry with skopeo.
 * ~1.14 GB of unique blob bytes at SCALE=1; every layer size is multiplied by SCALE.
 *
 * Layers are gzip (level 1) tars of deterministic incompressible bytes (AES-256-CTR keyed by the seed and the
 * layer's name), generated as a stream and hashed as they are written: the same SEED and SCALE give the same
 * digests on every run, and a 3 GB layer never sits in memory.
 */
import { createCipheriv, createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { ustarHeader } from "../../test/helpers/tar.js";

const MB = 1e6;
const MT = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
};

/** Base stacks shared by images (MB per layer at SCALE=1). */
const STACKS: Record<string, number[]> = { python: [30, 5, 40, 10], cuda: [30, 60, 55], static: [3, 12], armbase: [28, 5], none: [] };

interface Platform { os: string; architecture: string; variant?: string; stack: string; stackLayers?: number; own: number[] }
interface ImageSpec { repo: string; tag: string; byDigest?: boolean; platforms: Platform[] }

const amd64 = (stack: string, own: number[], stackLayers?: number): Platform[] => [{ os: "linux", architecture: "amd64", stack, own, ...(stackLayers && { stackLayers }) }];

/** The images (host-less paths: the source registry's host goes in front). */
export const IMAGES: ImageSpec[] = [
  { repo: "kubeflow-images-public/tf_operator", tag: "v1.0.0", platforms: amd64("static", [25]) },
  { repo: "kubeflow-images-public/tf_operator", tag: "v1.1.0", platforms: amd64("static", [27]) },
  { repo: "kubeflow/training-operator", tag: "v1-855e096", platforms: amd64("static", [38, 4]) },
  { repo: "kubeflow/katib/katib-controller", tag: "v0.16.0", platforms: amd64("static", [30]) },
  { repo: "ml-pipeline/api-server", tag: "2.0.5", byDigest: true, platforms: amd64("static", [45, 3]) },
  { repo: "ml-pipeline/frontend", tag: "2.0.5", platforms: amd64("python", [42, 8, 2]) },
  { repo: "kubeflow/notebooks/jupyter", tag: "v1.8.0", platforms: amd64("python", [50, 14]) },
  { repo: "kubeflow/notebooks/jupyter-scipy", tag: "v1.8.0", platforms: amd64("python", [58, 20, 6]) },
  { repo: "kubeflow/notebooks/jupyter-pytorch-cuda", tag: "v1.8.0", platforms: amd64("cuda", [60, 35]) },
  { repo: "kubeflow/notebooks/jupyter-tensorflow-cuda", tag: "v1.8.0", platforms: amd64("cuda", [60, 48, 10]) },
  { repo: "kserve/sklearnserver", tag: "v0.11.2", platforms: amd64("python", [33, 5]) },
  { repo: "kserve/pytorchserver", tag: "v0.11.2", byDigest: true, platforms: amd64("cuda", [52, 6]) },
  { repo: "kserve/kserve-controller", tag: "v0.11.2", platforms: amd64("static", [22]) },
  { repo: "tensorflow/serving", tag: "2.14.1-gpu", platforms: amd64("cuda", [57, 12]) },
  { repo: "library/postgres", tag: "15.5", platforms: amd64("python", [40], 2) },
  {
    repo: "library/nginx", tag: "1.25.3",
    platforms: [
      { os: "linux", architecture: "amd64", stack: "python", stackLayers: 2, own: [20, 4] },
      { os: "linux", architecture: "arm64", variant: "v8", stack: "armbase", own: [19, 4] },
    ],
  },
];

/** `WORKLOAD=large`: one image whose one layer is 3 GB at SCALE=1 (a model server's weights, say). */
export const LARGE_IMAGES: ImageSpec[] = [{ repo: "models/llm-server", tag: "v1", platforms: amd64("none", [3000]) }];

/** One blob of the layout. */
interface Blob { digest: string; size: number; mediaType: string }

/** What was made: each image's reference below the registry and its digest, and the unique bytes. */
export interface Workload {
  layout: string;
  images: Array<{ name: string; ref: string; digest: string; mediaType: string }>;
  uniqueBytes: number;
  blobs: number;
}

/** Deterministic incompressible bytes of one layer file, as a stream. */
function randomStream(key: string, size: number): Readable {
  const cipher = createCipheriv("aes-256-ctr", createHash("sha256").update(key).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

/** The tar of one layer (one file), as a stream, with the sha256 of the uncompressed tar (its diff_id). */
function layerTar(key: string, size: number, diff: ReturnType<typeof createHash>): Readable {
  const body = randomStream(key, size);
  async function* tar(): AsyncGenerator<Buffer> {
    yield ustarHeader(`data/${key.replace(/[^a-z0-9]/gi, "_").slice(-90)}`, size, "0", 1704067200);
    for await (const chunk of body) yield chunk as Buffer;
    yield Buffer.alloc((512 - (size % 512)) % 512);
    yield Buffer.alloc(1024);
  }
  return Readable.from(tar()).pipe(new Transform({ transform(chunk: Buffer, _e, done) { diff.update(chunk); done(null, chunk); } }));
}

/** Writes `data` as a blob of the layout. */
async function putBytes(dir: string, mediaType: string, data: Buffer): Promise<Blob> {
  const hex = createHash("sha256").update(data).digest("hex");
  await writeFile(join(dir, "blobs", "sha256", hex), data);
  return { digest: `sha256:${hex}`, size: data.length, mediaType };
}

/**
 * A version of the workload, for the delta bench (both versions made by the same code, so what they share is
 * byte for byte the same): every image is tagged `<tag>-<name>`, and the first images (in list order) get new own
 * layers until `changed` of the unique bytes are new (0 for the base version).
 */
export interface Variant {
  name: string;
  changed: number;
}

/** The images whose own layers v2 changes: the first ones, until their own bytes reach `changed` of the whole. */
function changedImages(changed: number): Set<string> {
  const stackMb = Object.values(STACKS).flat().reduce((n, mb) => n + mb, 0);
  const ownMb = IMAGES.flatMap((i) => i.platforms.flatMap((p) => p.own)).reduce((n, mb) => n + mb, 0);
  const picked = new Set<string>();
  if (changed <= 0) return picked;
  let mb = 0;
  for (const i of IMAGES) {
    if (mb >= changed * (stackMb + ownMb)) break;
    picked.add(`${i.repo}:${i.tag}`);
    mb += i.platforms.flatMap((p) => p.own).reduce((n, x) => n + x, 0);
  }
  return picked;
}

/** Makes the workload's layout under `work` (kept, and reused when SCALE and SEED match). */
export async function makeWorkload(work: string, scale: number, seed: string, log: (line: string) => void, variant?: Variant, specs: { name: string; images: ImageSpec[] } = { name: "", images: IMAGES }): Promise<Workload> {
  const dir = join(work, `workload-${seed}${specs.name}-x${scale}${variant ? `-${variant.name}-${variant.changed}` : ""}`);
  const changed = variant ? changedImages(variant.changed) : new Set<string>();
  const summaryFile = join(dir, "summary.json");
  const done = await readFile(summaryFile, "utf8").then((t) => JSON.parse(t) as Workload, () => undefined);
  if (done) return done;
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const layers = new Map<string, { blob: Blob; diffId: string }>();
  const layer = async (key: string, mb: number) => {
    const known = layers.get(key);
    if (known) return known;
    const size = Math.round(mb * MB * scale);
    const diff = createHash("sha256");
    const hash = createHash("sha256");
    const temp = join(dir, "blobs", `${layers.size}.tmp`);
    await pipeline(layerTar(`${seed}/${key}`, size, diff), createGzip({ level: 1 }), new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } }), createWriteStream(temp));
    const hex = hash.digest("hex");
    await rename(temp, join(dir, "blobs", "sha256", hex));
    const made = { blob: { digest: `sha256:${hex}`, size: (await stat(join(dir, "blobs", "sha256", hex))).size, mediaType: MT.layer }, diffId: `sha256:${diff.digest("hex")}` };
    layers.set(key, made);
    return made;
  };
  const index: Array<Blob & { annotations: Record<string, string> }> = [];
  const images: Workload["images"] = [];
  for (const spec of specs.images) {
    const manifests: Array<Blob & { platform?: Record<string, string> }> = [];
    for (const p of spec.platforms) {
      const stack = STACKS[p.stack]!.slice(0, p.stackLayers ?? STACKS[p.stack]!.length);
      const own = `${spec.repo}:${spec.tag}${changed.has(`${spec.repo}:${spec.tag}`) ? `/${variant!.name}` : ""}`;
      const keys: Array<[string, number]> = [...stack.map((mb, i): [string, number] => [`${p.stack}/${i}`, mb]), ...p.own.map((mb, i): [string, number] => [`${own}/${p.architecture}/${i}`, mb])];
      const ls = [];
      for (const [key, mb] of keys) ls.push(await layer(key, mb));
      const config = await putBytes(dir, MT.config, Buffer.from(JSON.stringify({
        created: "2024-01-01T00:00:00Z", architecture: p.architecture, os: p.os, ...(p.variant && { variant: p.variant }),
        config: { Env: ["PATH=/usr/local/bin:/usr/bin:/bin"] }, rootfs: { type: "layers", diff_ids: ls.map((l) => l.diffId) },
      })));
      const manifest = await putBytes(dir, MT.manifest, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config, layers: ls.map((l) => l.blob) })));
      manifests.push({ ...manifest, ...(spec.platforms.length > 1 && { platform: { os: p.os, architecture: p.architecture, ...(p.variant && { variant: p.variant }) } }) });
    }
    const top = manifests.length === 1 ? manifests[0]! : await putBytes(dir, MT.index, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests })));
    const name = `${spec.repo}:${spec.tag}${variant ? `-${variant.name}` : ""}`;
    index.push({ digest: top.digest, size: top.size, mediaType: top.mediaType, annotations: { "org.opencontainers.image.ref.name": name } });
    images.push({ name, ref: spec.byDigest ? `${spec.repo}@${top.digest}` : name, digest: top.digest, mediaType: top.mediaType });
    log(`workload: ${name}`);
  }
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: index }));
  const workload: Workload = { layout: dir, images, uniqueBytes: 0, blobs: 0 };
  for (const hex of await readdir(join(dir, "blobs", "sha256"))) {
    workload.uniqueBytes += (await stat(join(dir, "blobs", "sha256", hex))).size;
    workload.blobs++;
  }
  await writeFile(summaryFile, JSON.stringify(workload, null, 2));
  return workload;
}
