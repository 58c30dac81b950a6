#!/usr/bin/env -S node --import tsx
/** npm run cluster:down — stops what cluster:up started, by process id, and removes its state. */
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processAlive as alive } from "../../test/helpers/control-plane.js";

const dir = process.env.CLUSTER_DIR ?? join(tmpdir(), "airgap-bundle-cluster");
const state = await readFile(join(dir, "state.json"), "utf8").then((t) => JSON.parse(t) as { pids: number[] }, () => undefined);
if (!state) {
  process.stderr.write(`cluster: nothing to stop (no ${join(dir, "state.json")})\n`);
  process.exit(0);
}
for (const pid of [...state.pids].reverse()) if (alive(pid)) process.kill(pid, "SIGTERM");
for (let i = 0; i < 50 && state.pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
for (const pid of state.pids) if (alive(pid)) process.kill(pid, "SIGKILL");
await rm(dir, { recursive: true, force: true });
process.stderr.write(`cluster: stopped ${state.pids.length} processes and removed ${dir}\n`);
