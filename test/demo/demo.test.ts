import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { freePort } from "../helpers/ports.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Runs `npm run demo` with `env`; resolves to its exit code and output. */
async function demo(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn("npm", ["run", "-s", "demo"], { cwd: ROOT, env: { ...process.env, DEMO_BUILD: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, out };
}

/** Listens on 127.0.0.1:port until closed (something else already using the port). */
async function occupy(port: number): Promise<Server | undefined> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("npm run demo", () => {
  test("refuses a DEMO_WORK holding files it did not make, and leaves them there", async () => {
    const dir = await mkdtemp(join(tmpdir(), "airgap-demo-user-"));
    try {
      await writeFile(join(dir, "thesis.tex"), "three years of work\n");
      const r = await demo({ DEMO_WORK: dir });
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /demo: DEMO_WORK=.* holds files the demo did not make \(thesis\.tex\); it is left as it is \(choose a new or empty folder\)/);
      assert.deepEqual(await readdir(dir), ["thesis.tex"]);
      assert.equal(await readFile(join(dir, "thesis.tex"), "utf8"), "three years of work\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("refuses a DEMO_PORT that something else listens on, and runs on a free port when 5001 is taken", async () => {
    const port = await freePort();
    const other = await occupy(port);
    const by5001 = await occupy(5001); // undefined when 5001 is in use already: taken either way
    try {
      const refused = await demo({ DEMO_PORT: String(port) });
      assert.equal(refused.code, 2);
      assert.match(refused.out, new RegExp(`something already listens on localhost:${port}; the demo pushes only to a registry it starts itself`));
      const ran = await demo({});
      assert.equal(ran.code, 0, ran.out.slice(-3000));
      assert.doesNotMatch(ran.out, /localhost:5001/);
      assert.match(ran.out, /demo finished: every image arrived with its digest/);
      // On a machine where the real node runs (CI is one), the pods really ran, from the closed registry.
      if (!/node: simulated/.test(ran.out)) {
        assert.match(ran.out, /^ {2}node node-1: kubelet v[\d.]+, containerd:\/\/[\d.]+/m);
        assert.match(ran.out, /^ {2}pod web-\S+ Running, web ready: 127\.0\.0\.1:\d+\/localhost-\d+\/demo\/web@sha256:[0-9a-f]{64}$/m);
        assert.match(ran.out, /sandbox_image = "127\.0\.0\.1:\d+\/localhost-\d+\/k8s\/pause:3\.10"/);
        assert.match(ran.out, /its pods ran on a real node from the closed registry/);
      }
    } finally {
      other?.close();
      by5001?.close();
    }
  });
});
