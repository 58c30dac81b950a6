import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const BUILD = fileURLToPath(new URL("../../scripts/cluster/build.sh", import.meta.url));

test("the control-plane build refuses a Go too old to build it (Debian's golang-go 1.19), in one line, exit 2", async () => {
  const dir = await mkdtemp(join(tmpdir(), "airgap-old-go-"));
  try {
    await writeFile(join(dir, "go"), '#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.19.8 && exit 0\necho "go: should not be asked to build" >&2\nexit 3\n');
    await chmod(join(dir, "go"), 0o755);
    const r = spawnSync("bash", [BUILD], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, AIRGAP_BUILD_CACHE: join(dir, "cache") }, encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, "cluster build: Go 1.19.8 cannot build Kubernetes v1.34.4: it needs Go 1.24 (Go 1.21 or newer fetches it by itself); install a newer Go than Debian's golang-go\n");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
