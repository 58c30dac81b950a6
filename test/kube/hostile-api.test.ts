/**
 * The kube commands against an API server that misbehaves: every request completes, fails with a line that
 * says what happened, or times out; no command ends 0 without its summary line; Ctrl-C ends a hung one at once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, runCli } from "../helpers/cli.js";
import { startHostileApi, type HostileApi, type HostileMode } from "../helpers/hostile-api.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

describe("kube commands against a hostile API server", () => {
  let registry: TestRegistry;
  let work: string;
  let bundle: string;
  const servers: HostileApi[] = [];
  const hostile = async (mode: HostileMode, on?: RegExp) => {
    const s = await startHostileApi(work, mode, on);
    servers.push(s);
    return s;
  };

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "airgap-hostile-api-"));
    await seedRegistry(registry, makeImage({ seed: "hostile-api", layers: [1000] }), "team/app:1");
    const c = await saveCase(work, [`${registry.host}/team/app:1`]);
    await mkdir(join(c.dir, "manifests"));
    await writeFile(
      join(c.dir, "manifests", "app.yaml"),
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: hostile}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: hostile}\ndata: {image: "${registry.host}/team/app:1"}\n`,
    );
    const saved = await c.save(["--manifests", join(c.dir, "manifests")]);
    assert.equal(saved.code, 0, saved.stderr);
    bundle = c.tar;
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const commands = (kubeconfig: string): Record<string, string[]> => ({
    preflight: ["preflight", bundle, "--registry", registry.host, "--kubeconfig", kubeconfig],
    install: ["install", bundle, "--registry", registry.host, "--kubeconfig", kubeconfig],
    uninstall: ["uninstall", bundle, "--kubeconfig", kubeconfig],
    load: ["load", bundle, "--registry", registry.host, "--kubeconfig", kubeconfig],
  });

  /** The last line of an error and the lines before it: one error line, no stack. */
  const errorLine = (stderr: string) => stderr.split("\n").find((l) => l.startsWith("error: ")) ?? "";

  test("an answer cut short (Content-Length 100, 10 bytes, close) is an error naming it, for every kube command, at first contact and later", async () => {
    for (const on of [/^\/version$/, /^\/api(s)?\//]) {
      const api = await hostile("cut", on);
      for (const [name, args] of Object.entries(commands(api.kubeconfig))) {
        const r = await runCli(args, { timeoutMs: 30_000 });
        assert.notEqual(r.code, 0, `${name} (${on}) ended 0: ${r.stderr}`);
        assert.equal(r.code, 1, `${name}: ${r.stderr}`);
        assert.match(errorLine(r.stderr), /GET \/[^ ]*: the API server's answer was cut short after 10 bytes of the 100 it announced/, `${name} (${on}): ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n {4}at /, "no stack trace");
      }
    }
  });

  test("an API server that never answers, or drips, is bounded by each request's deadline (--request-timeout) and by --timeout", async () => {
    for (const mode of ["silent", "drip"] as const) {
      const api = await hostile(mode);
      const started = Date.now();
      const r = await runCli([...commands(api.kubeconfig).preflight!, "--request-timeout", "2s"], { timeoutMs: 30_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(errorLine(r.stderr), /GET \/version: no whole answer within 2s/, r.stderr);
      assert.ok(Date.now() - started < 10_000, `${mode}: took ${Date.now() - started} ms`);
    }
    const api = await hostile("silent", /^\/api(s)?\//);
    for (const name of ["install", "uninstall", "preflight"]) {
      const started = Date.now();
      const r = await runCli([...commands(api.kubeconfig)[name]!, "--timeout", "3s"], { timeoutMs: 30_000 });
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(errorLine(r.stderr), new RegExp(`error: the ${name} did not finish within --timeout 3s`), r.stderr);
      assert.ok(Date.now() - started < 8_000, `${name}: took ${Date.now() - started} ms`);
    }
  });

  test("an answer that is not HTTP is said to be so", async () => {
    const api = await hostile("garbage");
    const r = await runCli(commands(api.kubeconfig).preflight!);
    assert.equal(r.code, 1, r.stderr);
    assert.match(errorLine(r.stderr), /GET \/version: the answer is not HTTP \(HPE_/, r.stderr);
  });

  test("Ctrl-C (or SIGTERM) ends a command waiting on a silent API server within 2 s, exit 130", async () => {
    const api = await hostile("silent");
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const child = spawn(process.execPath, [CLI, ...commands(api.kubeconfig).install!], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const asked = api.requests.filter((q) => q === "GET /version").length;
      for (let i = 0; i < 400 && api.requests.filter((q) => q === "GET /version").length === asked; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(api.requests.filter((q) => q === "GET /version").length > asked, "it is waiting on the API server");
      const sent = Date.now();
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      assert.equal(code, 130, stderr);
      assert.ok(Date.now() - sent < 2_500, `${signal}: ended ${Date.now() - sent} ms after it`);
      assert.match(stderr, /interrupted/);
    }
  });

  test("an exec credential plugin that never returns: the command ends at --timeout and the plugin (and its children) are killed", async () => {
    const api = await hostile("silent");
    const pidFile = join(work, "plugin.pid");
    const plugin = join(work, "plugin.sh");
    await writeFile(plugin, `#!/bin/sh\nsleep 1000 &\necho $! > ${pidFile}\nwait\n`);
    await chmod(plugin, 0o755);
    const kubeconfig = join(work, "exec.kubeconfig");
    const text = await readFile(api.kubeconfig, "utf8");
    await writeFile(kubeconfig, text.replace("users: [{name: u, user: {token: not-a-secret}}]", `users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ${plugin}, interactiveMode: Never}}}]`));
    const started = Date.now();
    const r = await runCli([...commands(kubeconfig).install!, "--timeout", "3s"], { timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(errorLine(r.stderr), /the install did not finish within --timeout 3s/);
    assert.ok(Date.now() - started < 6_000, `took ${Date.now() - started} ms`);
    const pid = Number(await readFile(pidFile, "utf8"));
    await new Promise((r) => setTimeout(r, 200));
    // Gone, or a zombie left to a pid 1 that does not reap (as in some containers): not running either way.
    const state = await readFile(`/proc/${pid}/status`, "utf8").then((t) => /^State:\s+(\S)/m.exec(t)?.[1], () => "gone");
    assert.ok(state === "gone" || state === "Z", `the plugin's child is still running (state ${state})`);
  });

  test("the legacy auth-provider's cmd-path is refused, not run", async () => {
    const api = await hostile("silent");
    const marker = join(work, "ran");
    const kubeconfig = join(work, "gcp.kubeconfig");
    const text = await readFile(api.kubeconfig, "utf8");
    await writeFile(kubeconfig, text.replace("users: [{name: u, user: {token: not-a-secret}}]", `users: [{name: u, user: {auth-provider: {name: gcp, config: {cmd-path: /usr/bin/touch, cmd-args: ${marker}}}}}]`));
    const r = await runCli(commands(kubeconfig).preflight!);
    assert.equal(r.code, 2, r.stderr);
    assert.match(errorLine(r.stderr), /uses the removed auth-provider "gcp" with a cmd-path command; it is not run/);
    await assert.rejects(readFile(marker), "the command did not run");
  });

  test("a kubeconfig whose client certificate file is missing says so (exit 2), not that no API server answers", async () => {
    const api = await hostile("silent");
    const kubeconfig = join(work, "cert.kubeconfig");
    const text = await readFile(api.kubeconfig, "utf8");
    await writeFile(kubeconfig, text.replace("users: [{name: u, user: {token: not-a-secret}}]", `users: [{name: u, user: {client-certificate: ${join(work, "no-such.crt")}, client-key: ${join(work, "no-such.key")}}}]`));
    const r = await runCli(commands(kubeconfig).preflight!);
    assert.equal(r.code, 2, r.stderr);
    assert.match(errorLine(r.stderr), /^error: the kubeconfig's user u: cannot read .*no-such\.crt \(ENOENT\)$/);
    assert.doesNotMatch(r.stderr, /no Kubernetes API server answers/);
  });
});
