import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { busyboxImage, seedRegistry } from "../helpers/images.js";
import { realNodeUnavailable, startContainerd, type Containerd } from "../helpers/node.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

const UNAVAILABLE = await realNodeUnavailable();
// In CI the node's parts are installed first (.ci/run): their absence there is a failure, not a reason to skip.
if (UNAVAILABLE && process.env.CI === "true") throw new Error(`the node-config tests need containerd: ${UNAVAILABLE}`);

describe("bundle node-config: the hosts.toml files a node's containerd pulls through", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-node-config-"));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test("what it writes: the registry (plain HTTP), a mirror per source host under the registry's path, the containerd lines", async () => {
    const out = join(work, "plain");
    const r = await runCli(["node-config", "--registry", "10.0.0.5:5000/proj", "--plain-http", "--mirror", "docker.io", "--mirror", "quay.io", "--sandbox-image", "registry.k8s.io/pause:3.10", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const registry = await readFile(join(out, "10.0.0.5:5000", "hosts.toml"), "utf8");
    assert.match(registry, /^server = "http:\/\/10\.0\.0\.5:5000"$/m);
    assert.match(registry, /^\[host\."http:\/\/10\.0\.0\.5:5000"\]\n {2}capabilities = \["pull", "resolve"\]$/m);
    const docker = await readFile(join(out, "docker.io", "hosts.toml"), "utf8");
    assert.match(docker, /^server = "http:\/\/10\.0\.0\.5:5000\/v2\/proj\/docker\.io"\noverride_path = true$/m);
    assert.match(docker, /^\[host\."http:\/\/10\.0\.0\.5:5000\/v2\/proj\/docker\.io"\]$/m);
    assert.match(await readFile(join(out, "quay.io", "hosts.toml"), "utf8"), /^server = "http:\/\/10\.0\.0\.5:5000\/v2\/proj\/quay\.io"$/m);
    assert.match(r.stdout, /^ {2}sandbox_image = "10\.0\.0\.5:5000\/proj\/registry\.k8s\.io\/pause:3\.10"$/m);
    assert.match(r.stdout, /^ {2}config_path = "\/etc\/containerd\/certs\.d"$/m);
    assert.match(r.stderr, /^3 registry hosts configured in .* \(3 written, 0 unchanged\); sandbox_image /m);
    // strip-host: every host's images sit side by side under the prefix.
    const strip = await runCli(["node-config", "--registry", "10.0.0.5:5000/proj", "--plain-http", "--mirror", "docker.io", "--target-layout", "strip-host", "--out", join(work, "strip")]);
    assert.equal(strip.code, 0, strip.stderr);
    assert.match(await readFile(join(work, "strip", "docker.io", "hosts.toml"), "utf8"), /^server = "http:\/\/10\.0\.0\.5:5000\/v2\/proj"$/m);
  });

  test("nothing that says something else is replaced without --force, a link never; contradictions and a CA that is no PEM are refused", async () => {
    const out = join(work, "refuse");
    const args = ["node-config", "--registry", "10.0.0.5:5000", "--plain-http", "--out", out];
    assert.equal((await runCli(args)).code, 0);
    const same = await runCli(args);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /\(0 written, 1 unchanged\)/);
    const file = join(out, "10.0.0.5:5000", "hosts.toml");
    await writeFile(file, "# the site's own\nserver = \"https://10.0.0.5:5000\"\n");
    const other = await runCli(["node-config", "--registry", "10.0.0.5:5000", "--plain-http", "--out", out]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /^error: .*10\.0\.0\.5:5000\/hosts\.toml is already there and says something else; it is left as it is$/m);
    assert.equal(await readFile(file, "utf8"), "# the site's own\nserver = \"https://10.0.0.5:5000\"\n");
    assert.equal((await runCli([...args, "--force"])).code, 0);
    assert.match(await readFile(file, "utf8"), /^server = "http:\/\/10\.0\.0\.5:5000"$/m);
    await rm(file);
    const target = join(work, "precious");
    await writeFile(target, "not a hosts.toml\n");
    await symlink(target, file);
    const linked = await runCli([...args, "--force"]);
    assert.equal(linked.code, 2);
    assert.match(linked.stderr, /is a symbolic link, not a file; it is never replaced/);
    assert.equal(await readFile(target, "utf8"), "not a hosts.toml\n");
    const both = await runCli(["node-config", "--registry", "10.0.0.5:5000", "--plain-http", "--ca-file", target, "--out", join(work, "x")]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--plain-http and --ca-file contradict each other/);
    const notPem = await runCli(["node-config", "--registry", "10.0.0.5:5000", "--ca-file", target, "--out", join(work, "x")]);
    assert.equal(notPem.code, 2);
    assert.match(notPem.stderr, /--ca-file .*precious holds no PEM certificate/);
  });

  describe("a real containerd pulls through what it wrote", { skip: UNAVAILABLE ?? false }, () => {
    let containerd: Containerd;
    let plain: TestRegistry;
    let tls: TestRegistry;
    let source: TestRegistry;
    const app = { entrypoint: ["/bin/busybox", "true"] };

    before(async () => {
      [plain, tls, source] = await Promise.all([startRegistry(), startRegistry({ tls: true }), startRegistry()]);
      containerd = await startContainerd(join(work, "containerd"), join(work, "unused"));
    });
    after(async () => {
      await containerd?.stop();
      await Promise.all([plain?.stop(), tls?.stop(), source?.stop()]);
    });

    /** `ctr images pull` through a hosts folder; the digest pulled, or the error. */
    async function pull(hostsDir: string, ref: string): Promise<string> {
      try {
        const said = await containerd.ctr("images", "pull", "--hosts-dir", hostsDir, ref);
        await containerd.ctr("images", "rm", ref);
        return /done|unpacking/.test(said) ? "pulled" : said;
      } catch (err) {
        return (err as Error).message;
      }
    }

    test("a TLS registry signed by a private CA (the CA copied beside its hosts.toml), and docker.io served by it as a mirror", async () => {
      const image = await busyboxImage(app);
      await seedRegistry(tls, image, "team/app:1");
      await seedRegistry(tls, image, "docker.io/library/app:1");
      const out = join(work, "tls");
      const r = await runCli(["node-config", "--registry", tls.host, "--ca-file", tls.pki!.caFile, "--mirror", "docker.io", "--out", out]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await readFile(join(out, tls.host, "ca.crt"), "utf8"), tls.pki!.caPem);
      assert.equal(await pull(out, `${tls.host}/team/app:1`), "pulled");
      // docker.io itself is never asked (nothing leaves this machine): the private registry answers for it.
      assert.equal(await pull(out, "docker.io/library/app:1"), "pulled");
      // Without the CA, the certificate is not trusted: the configuration is what makes the pull work.
      const bare = join(work, "tls-bare");
      await mkdir(join(bare, tls.host), { recursive: true });
      await writeFile(join(bare, tls.host, "hosts.toml"), `server = "https://${tls.host}"\n[host."https://${tls.host}"]\n  capabilities = ["pull", "resolve"]\n`);
      assert.match(await pull(bare, `${tls.host}/team/app:1`), /certificate signed by unknown authority/);
    });

    test("from a bundle: plain HTTP, a mirror for every host its images came from (the source registry is gone), the pause image it carries", async () => {
      await seedRegistry(source, await busyboxImage(app), "team/app:1");
      await seedRegistry(source, await busyboxImage({ entrypoint: ["/bin/busybox", "sleep", "2147483647"] }), "k8s/pause:3.10");
      const c = await saveCase(work, [`${source.host}/team/app:1`, `${source.host}/k8s/pause:3.10`]);
      assert.equal((await c.save()).code, 0);
      assert.equal((await runCli(["load", c.tar, "--registry", plain.host, "--no-install"])).code, 0);
      await source.stop();
      const out = join(work, "from-bundle");
      const r = await runCli(["node-config", "--bundle", c.tar, "--registry", plain.host, "--plain-http", "--out", out, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const json = JSON.parse(r.stdout) as { sandboxImage: string; written: string[] };
      assert.equal(json.sandboxImage, `${plain.host}/${source.host.replace(":", "-")}/k8s/pause:3.10`);
      assert.deepEqual(json.written.map((f) => f.slice(out.length + 1)).sort(), [`${plain.host}/hosts.toml`, `${source.host}/hosts.toml`].sort());
      assert.equal(await pull(out, `${source.host}/team/app:1`), "pulled", "the manifests' original name, not rewritten");
      assert.equal(await pull(out, json.sandboxImage), "pulled");
      // A bundle without a pause image says what the nodes will need.
      const d = await saveCase(work, [`${plain.host}/${source.host.replace(":", "-")}/team/app:1`]);
      assert.equal((await d.save()).code, 0);
      const none = await runCli(["node-config", "--bundle", d.tar, "--registry", plain.host, "--plain-http", "--out", join(work, "no-pause")]);
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stderr, /carries no pause image: each node needs one it can pull or already has \(containerd's sandbox_image\)/);
    });
  });
});
