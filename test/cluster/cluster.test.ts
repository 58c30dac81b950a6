import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { adminApi, controlPlaneUnavailable, processAlive as alive } from "../helpers/control-plane.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const UNAVAILABLE = await controlPlaneUnavailable();

async function npm(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("npm", ["run", "-s", script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

describe("npm run cluster:up / cluster:down", { skip: UNAVAILABLE ?? false }, () => {
  test("up starts a real control plane and prints its kubeconfig last; a second up only says so; down stops it by PID", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "airgap-cluster-")), "state");
    const env = { CLUSTER_DIR: dir };
    let pids: number[] = [];
    try {
      const up = await npm("cluster:up", env);
      assert.equal(up.code, 0, up.stderr);
      const kubeconfig = up.stdout.trim().split("\n").at(-1)!;
      assert.equal(kubeconfig, join(dir, "admin.kubeconfig"));
      assert.match(up.stderr, /cluster: Kubernetes v1\.\d+\.\d+ at https:\/\/127\.0\.0\.1:\d+, one simulated node/);
      pids = (JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as { pids: number[] }).pids;
      assert.equal(pids.length, 5, "etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the node agent");
      const again = await npm("cluster:up", env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /already running/);
      assert.equal(again.stdout.trim().split("\n").at(-1), kubeconfig);
      const state = JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as { url: string };
      const api = await adminApi(state.url, join(dir, "pki"));
      assert.equal((await api("GET", "/readyz")).status, 200, "the API server answers");
      assert.equal(((await api("GET", "/api/v1/nodes")).body.items as unknown[]).length, 1, "its simulated node is registered");
      const down = await npm("cluster:down", env);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, /stopped 5 processes/);
      assert.ok(pids.every((p) => !alive(p)), "every process it started is gone");
      await assert.rejects(stat(dir), "its state is removed");
    } finally {
      for (const p of pids) if (alive(p)) process.kill(p, "SIGKILL");
      await rm(join(dir, ".."), { recursive: true, force: true });
    }
  });
});
