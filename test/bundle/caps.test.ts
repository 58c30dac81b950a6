/**
 * Resource caps, each at the cap and one past it: the extended (pax) header size, YAML alias expansion.
 * (Manifest file size: test/kube/caps via the CLI below; catalog pages: test/registry/hostile-registry.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AirgapError } from "../../src/errors.js";
import { indexTar, TarFile } from "../../src/bundle/tar-index.js";
import { loadDocuments, MAX_ALIAS_EXPANSION } from "../../src/kube/yaml.js";
import { runCli } from "../helpers/cli.js";
import { ustarHeader } from "../helpers/tar.js";
import { aliasBomb } from "../helpers/yaml-bomb.js";

/** The largest pax header the reader takes (tar-index.ts). */
const MAX_EXTENDED_HEADER = 1024 * 1024;

describe("resource caps", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "airgap-caps-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A tar of one pax header of `size` bytes (one padded record) and one empty file. */
  async function paxTar(size: number): Promise<TarFile> {
    const digits = String(size).length;
    const record = `${size} comment=${"x".repeat(size - digits - " comment=".length - 1)}\n`;
    assert.equal(Buffer.byteLength(record), size);
    const data = Buffer.from(record);
    const bytes = Buffer.concat([ustarHeader("PaxHeader", size, "x"), data, Buffer.alloc((512 - (size % 512)) % 512), ustarHeader("bundle.json", 0), Buffer.alloc(1024)]);
    const file = join(dir, `pax-${size}.tar`);
    await writeFile(file, bytes);
    return TarFile.open([{ path: file, start: 0, size: bytes.length }]);
  }

  test("a pax header of exactly 1 MiB is read; one byte more is refused", async () => {
    const ok = await paxTar(MAX_EXTENDED_HEADER);
    try {
      assert.ok((await indexTar(ok, "at-cap.tar")).has("bundle.json"));
    } finally {
      await ok.close();
    }
    const over = await paxTar(MAX_EXTENDED_HEADER + 1);
    try {
      await assert.rejects(indexTar(over, "over.tar"), (err: unknown) => err instanceof AirgapError && /an extended header of 1048577 bytes/.test(err.message));
    } finally {
      await over.close();
    }
  });

  test(`YAML aliases: a document that expands to ${MAX_ALIAS_EXPANSION} alias nodes loads; an alias bomb is refused at once`, () => {
    const few = `a: &a {x: 1}\nlist: [${Array.from({ length: MAX_ALIAS_EXPANSION }, () => "*a").join(", ")}]\n`;
    assert.equal((loadDocuments(few, "few.yaml")[0] as { list: unknown[] }).list.length, MAX_ALIAS_EXPANSION);
    const more = `a: &a {x: 1}\nlist: [${Array.from({ length: MAX_ALIAS_EXPANSION + 1 }, () => "*a").join(", ")}]\n`;
    assert.throws(() => loadDocuments(more, "more.yaml"), /aliases expand too far/);
    const started = Date.now();
    assert.throws(() => loadDocuments(aliasBomb(), "bomb.yaml"), (err: unknown) => err instanceof AirgapError && err.code === "INVALID_YAML");
    assert.ok(Date.now() - started < 1000);
  });

  test("a manifest file at the size cap is read; one byte more is refused before it is parsed (exit 2)", async () => {
    const m = join(dir, "m");
    await mkdir(m);
    const doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: \"";
    const sized = (n: number) => `${doc}${"x".repeat(n - doc.length - 2)}"\n`;
    await writeFile(join(m, "1.yaml"), sized(4096));
    const il = join(dir, "imagelist");
    await writeFile(il, "docker.io/library/nginx:1\n");
    const ok = await runCli(["scan", "--manifests", m, "--imagelist", il, "--max-manifest-size", "4Ki"]);
    assert.equal(ok.code, 0, ok.stderr);
    await writeFile(join(m, "1.yaml"), sized(4097));
    const over = await runCli(["scan", "--manifests", m, "--imagelist", il, "--max-manifest-size", "4Ki"]);
    assert.equal(over.code, 2);
    assert.match(over.stderr, /^error: a manifest file is larger than 4\.1 kB$/m);
    assert.match(over.stderr, /1\.yaml: 4\.1 kB/);
  });

  test("an alias bomb in a manifest: scan and rewrite end at once", async () => {
    const m = join(dir, "bomb");
    await mkdir(m);
    await writeFile(join(m, "1.yaml"), aliasBomb());
    const il = join(dir, "bomb-imagelist");
    await writeFile(il, "docker.io/library/nginx:1.25\n");
    const started = Date.now();
    const scan = await runCli(["scan", "--manifests", m, "--imagelist", il], { timeoutMs: 20_000 });
    assert.equal(scan.code, 0, scan.stderr);
    const rewrite = await runCli(["rewrite", "--manifests", m, "--registry", "10.0.0.5:5000", "--out", join(dir, "bomb-out")], { timeoutMs: 20_000 });
    assert.equal(rewrite.code, 0, rewrite.stderr);
    assert.ok(Date.now() - started < 15_000, "both ended at once");
  });
});

