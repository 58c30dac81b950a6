/**
 * The roles' contract (src/content/target.ts), run over every implementation: what the copy engine may rely on
 * from a place it reads (ReadOnlyTarget) and a place it writes (Sink). Each implementation is the real one —
 * the layout cache on disk, a registry repository on Debian's distribution, the bundle writer and reader, the
 * archive sink and source (the Docker engine's source is the archive source fed by the engine's export; a real
 * engine runs in test/daemon) — beside the in-memory target the engine's own tests use.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ArchiveSink } from "../../src/archive/sink.js";
import { ArchiveSource } from "../../src/archive/source.js";
import { BundleReader } from "../../src/bundle/reader.js";
import { BundleWriter } from "../../src/bundle/writer.js";
import { CopyEngine, type CopyEvent, type CopyJob } from "../../src/content/copy.js";
import { onePlatformPolicy, REFERRERS_POLICY } from "../../src/content/policy.js";
import type { ReadOnlyTarget, Sink } from "../../src/content/target.js";
import { AirgapError } from "../../src/errors.js";
import { OciLayout } from "../../src/layout/layout.js";
import type { Descriptor } from "../../src/oci/descriptor.js";
import { parsePlatform } from "../../src/oci/platform.js";
import { parseReference, type Reference } from "../../src/reference/reference.js";
import { Registries } from "../../src/registry/registries.js";
import { RegistryRepository } from "../../src/registry/repository.js";
import { allBlobs, makeImage, makeIndex, topManifest, type TestArtifact, type TestBlob } from "../helpers/images.js";
import { MemoryTarget } from "../helpers/memory-target.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const exec = promisify(execFile);
const amd = makeImage({ seed: "roles-amd", layers: [3000, 70_000] });
const arm = makeImage({ seed: "roles-arm", platform: "linux/arm64", layers: [5000] });
const index = makeIndex([amd, arm]);
const ref = parseReference("example.test/team/app:1");
/** An image whose layer the source will hold damaged. */
const bad = makeImage({ seed: "roles-bad", layers: [2000] });
const absent: Descriptor = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${"0".repeat(64)}`, size: 10 };
const d = (b: TestBlob): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Copies `artifact` from memory into `sink` with the engine; returns its events. */
async function copyInto(sink: Sink, artifact: TestArtifact, options: { platform?: string } = {}): Promise<CopyEvent[]> {
  const events: CopyEvent[] = [];
  const engine = new CopyEngine({
    policy: options.platform ? onePlatformPolicy(parsePlatform(options.platform), true) : REFERRERS_POLICY,
    onEvent: (e) => events.push(e),
  });
  const job: CopyJob = { label: "app", ref, source: MemoryTarget.with(artifact, ref), sink, tagAs: ref };
  const resolved = await engine.resolve(job);
  if ("error" in resolved) throw resolved.error;
  const copied = await engine.transfer(resolved);
  if ("error" in copied) throw copied.error;
  return events;
}

/** What a place images are read from must do. */
function readOnlyContract(name: string, open: () => Promise<{ target: ReadOnlyTarget; ref: Reference; artifact: TestArtifact }>): void {
  describe(`${name} as a ReadOnlyTarget`, () => {
    let target: ReadOnlyTarget;
    let here: Reference;
    let artifact: TestArtifact;
    before(async () => ({ target, ref: here, artifact } = await open()));

    test("resolve gives the top manifest with its exact bytes", async () => {
      const top = await target.resolve(here);
      assert.equal(top.descriptor.digest, topManifest(artifact).digest);
      assert.ok(top.bytes.equals(topManifest(artifact).data));
    });

    test("fetchBytes gives a small blob checked, and refuses one over the limit", async () => {
      const config = artifact.kind === "index" ? artifact.images[0]!.config : artifact.config;
      assert.ok((await target.fetchBytes(d(config), 1 << 20)).equals(config.data));
      await assert.rejects(target.fetchBytes(d(config), config.size - 1), AirgapError);
    });

    test("fetch streams a blob's exact bytes; exists says what is there", async () => {
      for (const b of allBlobs(artifact).filter((x) => x.mediaType.includes("layer"))) {
        assert.ok((await readAll(await target.fetch(d(b)))).equals(b.data), b.digest);
        assert.equal(await target.exists(d(b)), true);
      }
      assert.equal(await target.exists(absent), false);
    });

    test("an absent blob is an error, never an empty stream", async () => {
      await assert.rejects(async () => readAll(await target.fetch(absent)), (err: unknown) => err instanceof AirgapError && err.code === "NOT_FOUND");
    });
  });
}

/** What a place images are written to must do. `readBack` reads the copied image as its own reader would. */
function sinkContract(name: string, open: (receives: TestArtifact) => Promise<{ sink: Sink; platform?: string; readBack: () => Promise<string>; dispose?: () => Promise<void> }>): void {
  describe(`${name} as a Sink`, () => {
    test("the engine copies an image into it; read back, the digests are the source's", async () => {
      const { sink, platform, readBack } = await open(index);
      const artifact = platform ? amd : index;
      const events = await copyInto(sink, index, platform ? { platform } : {});
      assert.equal(await readBack(), topManifest(artifact).digest);
      assert.deepEqual(events.filter((e) => e.type === "image-failed"), []);
      // Each blob once, whatever the number of images sharing it.
      const started = events.filter((e) => e.type === "blob-start").map((e) => (e as { digest: string }).digest);
      assert.equal(new Set(started).size, started.length);
    });

    test("a blob whose bytes do not match is not stored", async (t) => {
      const { sink, dispose } = await open(bad);
      t.after(() => dispose?.());
      const source = MemoryTarget.with(bad, ref);
      source.blobs.get(bad.layers[0]!.digest)!.data = Buffer.from(bad.layers[0]!.data).fill(1, 100, 101);
      const engine = new CopyEngine({ policy: REFERRERS_POLICY });
      const resolved = await engine.resolve({ label: "bad", ref, source, sink });
      assert.ok(!("error" in resolved));
      const copied = await engine.transfer(resolved);
      assert.ok("error" in copied && copied.error.code === "DIGEST_MISMATCH", "the copy fails on the digest");
      assert.equal(await sink.exists(d(bad.layers[0]!)), false);
    });
  });
}

describe("the roles' contract", () => {
  let work: string;
  let registry: TestRegistry;
  let registries: Registries;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-roles-"));
    registry = await startRegistry();
    registries = new Registries({ credentials: { get: async () => undefined }, plainHttp: [registry.host] });
  });
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers) await close();
    await registries.close();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });
  let n = 0;
  const dir = () => join(work, `t${++n}`);

  // The in-memory target, the engine's own tests' stand-in, keeps the same contract.
  readOnlyContract("memory", async () => ({ target: MemoryTarget.with(index, ref), ref, artifact: index }));
  sinkContract("memory", async () => {
    const sink = new MemoryTarget();
    return { sink, readBack: async () => (await sink.resolve(ref)).descriptor.digest };
  });

  // The layout cache.
  readOnlyContract("the OCI layout cache", async () => {
    const layout = await OciLayout.open(dir());
    await copyInto(layout, index);
    return { target: layout, ref, artifact: index };
  });
  sinkContract("the OCI layout cache", async () => {
    const layout = await OciLayout.open(dir());
    return { sink: layout, readBack: async () => (await layout.resolve(ref)).descriptor.digest };
  });

  // A registry repository on a real registry.
  readOnlyContract("a registry repository", async () => {
    const repo = new RegistryRepository(registries.host(registry.host), "roles/read");
    await copyInto(repo, index);
    return { target: repo, ref: { ...ref, domain: registry.host, path: "roles/read" }, artifact: index };
  });
  sinkContract("a registry repository", async () => {
    const path = `roles/sink${++n}`;
    const repo = new RegistryRepository(registries.host(registry.host), path);
    return { sink: repo, readBack: async () => (await repo.headManifest("1")) ?? "none" };
  });

  // The bundle: written through its sink, read by its reader.
  async function writeBundle(out: string, artifact: TestArtifact): Promise<{ writer: BundleWriter; finish: () => Promise<string> }> {
    const blobs = allBlobs(artifact).map(d);
    const writer = await BundleWriter.open({
      outDir: out,
      contents: {
        bundle: {
          format: "airgap-bundle/v1", name: "roles", version: "1", created: "2026-01-01T00:00:00Z", tool: { name: "test", version: "0" }, platforms: ["all"],
          images: [{ source: "example.test/team/app:1", line: 1, digest: topManifest(artifact).digest, mediaType: topManifest(artifact).mediaType, platformDigests: {}, size: blobs.reduce((s, b) => s + b.size, 0), target: "example.test/team/app:1" }],
          manifests: [], blobs: { count: blobs.length, bytes: blobs.reduce((s, b) => s + b.size, 0) }, base: null,
        },
        index: [{ descriptor: d(topManifest(artifact)), ref: "example.test/team/app:1" }],
        blobs,
        manifests: [],
        imagelistText: "example.test/team/app:1\n",
      },
    });
    return { writer, finish: async () => (await writer.finish()).tarPath };
  }
  readOnlyContract("the bundle reader", async () => {
    const { writer, finish } = await writeBundle(dir(), index);
    await copyInto(writer.sink, index);
    const reader = await BundleReader.open(await finish());
    closers.push(() => reader.close());
    return { target: reader, ref, artifact: index };
  });
  // A writer takes only the blobs of its plan: the damaged image is planned under its true digests.
  sinkContract("the bundle writer", async (receives) => {
    const out = dir();
    const { writer, finish } = await writeBundle(out, receives);
    return {
      sink: writer.sink,
      // A writer whose copy failed is given up, as a save does (its files and hash worker closed).
      dispose: () => writer.abort(),
      readBack: async () => {
        const reader = await BundleReader.open(await finish());
        try {
          return (await reader.resolve(ref)).descriptor.digest;
        } finally {
          await reader.close();
        }
      },
    };
  });

  // Archives: the sink writes a stream, the source (what reads an engine's export) reads it back.
  async function archive(format: "docker-archive" | "oci-archive", file: string): Promise<{ sink: ArchiveSink; done: () => Promise<void> }> {
    const sink = new ArchiveSink(format);
    const written = pipeline(sink.stream, createWriteStream(file));
    written.catch(() => undefined);
    return { sink, done: async () => (await sink.finish(), await written) };
  }
  /** An archive file read back as the engine's export is: through the archive source, into a fresh cache. */
  const archiveSource = async (file: string) => new ArchiveSource("archive", () => ({ key: file, what: file, open: async () => createReadStream(file) }), await OciLayout.open(dir()));
  readOnlyContract("the archive source (an engine's export)", async () => {
    const file = join(work, `a${++n}.tar`);
    const { sink, done } = await archive("docker-archive", file);
    await copyInto(sink, index, { platform: "linux/amd64" });
    await done();
    return { target: await archiveSource(file), ref, artifact: amd };
  });
  sinkContract("the docker-archive sink", async () => {
    const file = join(work, `a${++n}.tar`);
    const { sink, done } = await archive("docker-archive", file);
    return {
      sink, platform: "linux/amd64",
      readBack: async () => {
        await done();
        return (await (await archiveSource(file)).resolve(ref)).descriptor.digest;
      },
    };
  });
  sinkContract("the oci-archive sink (read back by skopeo)", async () => {
    const file = join(work, `a${++n}.tar`);
    const { sink, done } = await archive("oci-archive", file);
    return {
      sink, platform: "linux/amd64",
      readBack: async () => {
        await done();
        const { stdout } = await exec("skopeo", ["inspect", `oci-archive:${file}:1`]);
        return (JSON.parse(stdout) as { Digest: string }).Digest;
      },
    };
  });
});
