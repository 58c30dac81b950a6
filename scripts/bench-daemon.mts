#!/usr/bin/env -S node --import tsx
// npm run bench:daemon — why engine images are stored with plain (uncompressed) layers, measured:
//   1. a private dockerd (test/helpers; needs root) gets an image imported from a generated root file system
//      of SIZE_MB (default 256): half random bytes (like binaries), half repetitive text (like configs, scripts);
//   2. `docker save` to /dev/null: the engine's own export speed, the ceiling for reading from an engine;
//   3. `bundle save --from-daemon` (fresh cache): MB/s, and the bundle size;
//   4. gzip of the same layer at levels 1 and 6 with Node's zlib on one core: MB/s and the size it saves.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import { startDockerd } from "../test/helpers/dockerd.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "bin", "main.js");
const SIZE = Number(process.env.SIZE_MB ?? 256) * 1e6;

if (process.getuid?.() !== 0) {
  process.stderr.write("bench:daemon: dockerd needs root\n");
  process.exit(2);
}
execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" });
const work = await mkdtemp(join(tmpdir(), "airgap-bench-daemon-"));
const engine = await startDockerd();

async function timed(what: string, fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`  ${what.padEnd(44)} ${s.toFixed(2)} s  ${(SIZE / 1e6 / s).toFixed(0).padStart(5)} MB/s\n`);
  return s;
}

async function run(cmd: string, args: string[], out: "ignore" | "inherit" = "ignore"): Promise<void> {
  const child = spawn(cmd, args, { stdio: ["ignore", out, "inherit"] });
  const [code] = (await once(child, "exit")) as [number];
  if (code !== 0) throw new Error(`${cmd} ${args[0]} exited ${code}`);
}

try {
  const rootfs = join(work, "rootfs.tar");
  const pack = tar.pack();
  const written = pipeline(pack as unknown as NodeJS.ReadableStream, createWriteStream(rootfs));
  const file = 8e6;
  let line = 0;
  for (let i = 0; i < SIZE / file; i++) {
    let body: Buffer;
    if (i % 2 === 0) body = randomBytes(file);
    else {
      const parts: string[] = [];
      let n = 0;
      while (n < file) {
        const s = `${line++}: level=info component=controller msg="reconciled object" namespace=kubeflow name=job-${line % 977}\n`;
        parts.push(s);
        n += s.length;
      }
      body = Buffer.from(parts.join("")).subarray(0, file);
    }
    await new Promise<void>((resolve, reject) => pack.entry({ name: `data/f${i}`, size: body.length }, body, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await written;
  await engine.docker(["import", rootfs, "bench/app:1"]);
  process.stdout.write(`image: ${(SIZE / 1e6).toFixed(0)} MB, half random, half text\n`);

  await timed("docker save > /dev/null (the engine's export)", () => run("docker", ["--host", engine.host, "save", "bench/app:1"]));
  const out = join(work, "out");
  await writeFile(join(work, "list"), "bench/app:1\n");
  await timed("bundle save --from-daemon (plain layers)", () =>
    run("node", [CLI, "save", "--quiet", "--from-daemon", "--name", "b", "--version", "1", "--imagelist", join(work, "list"), "--out", out, "--cache-dir", join(work, "cache"), "--docker-host", engine.host]),
  );
  const bundleSize = (await stat(join(out, "b-1.tar"))).size;
  process.stdout.write(`  bundle: ${(bundleSize / 1e6).toFixed(1)} MB\n`);
  for (const level of [1, 6]) {
    let compressed = 0;
    const sink = new Writable({ write(chunk: Buffer, _e, done) { compressed += chunk.length; done(); } });
    await timed(`gzip -${level} of the layer (node zlib, one core)`, () => pipeline(createReadStream(rootfs), createGzip({ level }), sink));
    process.stdout.write(`    → ${(compressed / 1e6).toFixed(1)} MB (${((1 - compressed / SIZE) * 100).toFixed(0)}% smaller)\n`);
  }
} finally {
  await engine.stop();
  await rm(work, { recursive: true, force: true });
}
