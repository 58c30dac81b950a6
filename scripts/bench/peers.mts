/**
 * The peers the bench measures us against, each with its own best save (registry → an OCI layout on disk) and
 * load (that layout → the target registry), every image kept whole (all platforms, digests preserved), tuned as
 * their documentation suggests:
 * - skopeo (Debian): one image after another into one layout, and PAR images at once, one layout each;
 * - crane, built from go-containerregistry: PAR images at once, one layout each (crane pull/push);
 * - oras, built from oras.land/oras: one shared layout, `--concurrency 8` blob transfers per image;
 * - regctl, built from regclient: one shared `ocidir://` layout (it transfers blobs concurrently itself).
 * crane, oras and regctl come from scripts/peers/build.sh (cached); one that could not be built is named, with
 * its error, instead of measured.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { q } from "./measure.mjs";

/** One image: where to read it (`host/ref`, by tag or digest) and its name below the target (`repo:tag`). */
export interface BenchRef {
  src: string;
  name: string;
}

/** A peer: the shell scripts of its save into `dir` and its load from `dir` into `target` (HOST:PORT). */
export interface Peer {
  tool: string;
  save(dir: string): string;
  load(dir: string, target: string): string;
}

/** The row of oras's save made into one tar with its .sha256 (reported, not a peer in the ratio). */
export const SAME_ARTIFACT = "oras + tar + sha256sum";

/** Runs `lines` PAR at once, quietly. */
const parallel = (lines: string[], par: number) => `printf '%s\\n' ${q(lines.join("\n"))} | tr '\\n' '\\0' | xargs -0 -P${par} -I{} bash -c '{} >/dev/null 2>&1'`;

/** Builds the peers (cached) and returns the folder holding their binaries. */
export function peersBin(root: string): string {
  return execFileSync("bash", [join(root, "scripts", "peers", "build.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
}

/** The peers of this machine; `missing` lists those that could not be built, with why. */
export function benchPeers(root: string, work: string, refs: readonly BenchRef[], par: number): { peers: Peer[]; missing: string[] } {
  const bin = peersBin(root);
  const failed = existsSync(join(bin, "FAILED")) ? readFileSync(join(bin, "FAILED"), "utf8").split("\n").filter(Boolean) : [];
  const has = (name: string) => existsSync(join(bin, name));
  const crane = q(join(bin, "crane"));
  const oras = q(join(bin, "oras"));
  const regctl = `HOME=${q(join(work, "regctl-home"))} ${q(join(bin, "regctl"))}`;
  const peers: Peer[] = [
    {
      tool: "skopeo",
      save: (dir) => refs.map((r) => `skopeo copy --all --preserve-digests --src-tls-verify=false ${q(`docker://${r.src}`)} ${q(`oci:${dir}:${r.name}`)} >/dev/null`).join(" && "),
      load: (dir, t) => refs.map((r) => `skopeo copy --all --preserve-digests --dest-tls-verify=false ${q(`oci:${dir}:${r.name}`)} ${q(`docker://${t}/${r.name}`)} >/dev/null`).join(" && "),
    },
    {
      tool: `skopeo -P${par}`,
      save: (dir) => parallel(refs.map((r, i) => `mkdir -p ${q(`${dir}/${i}`)} && skopeo copy --all --preserve-digests --src-tls-verify=false ${q(`docker://${r.src}`)} ${q(`oci:${dir}/${i}:${r.name}`)}`), par),
      load: (dir, t) => parallel(refs.map((r, i) => `skopeo copy --all --preserve-digests --dest-tls-verify=false ${q(`oci:${dir}/${i}:${r.name}`)} ${q(`docker://${t}/${r.name}`)}`), par),
    },
  ];
  if (has("crane")) {
    peers.push({
      tool: `crane -P${par}`,
      save: (dir) => parallel(refs.map((r, i) => `${crane} pull --insecure --format oci ${q(r.src)} ${q(`${dir}/${i}`)}`), par),
      load: (dir, t) => parallel(refs.map((r, i) => `${crane} push --insecure ${q(`${dir}/${i}`)} ${q(`${t}/${r.name}`)}`), par),
    });
  }
  if (has("oras")) {
    peers.push({
      tool: "oras",
      save: (dir) => refs.map((r, i) => `${oras} cp --from-plain-http --concurrency 8 ${q(r.src)} --to-oci-layout ${q(`${dir}:i${i}`)} >/dev/null`).join(" && "),
      load: (dir, t) => refs.map((r, i) => `${oras} cp --from-oci-layout ${q(`${dir}:i${i}`)} --to-plain-http --concurrency 8 ${q(`${t}/${r.name}`)} >/dev/null`).join(" && "),
    });
  }
  if (has("oras")) {
    // Not a peer's best, and not in the ratio: oras's save made into what ours makes — one tar with its .sha256 — so
    // the report can say what that artifact costs a peer (docs/bench.md, the save's floor).
    const layout = (dir: string) => q(`${dir}/layout`);
    peers.push({
      tool: SAME_ARTIFACT,
      save: (dir) => [
        ...refs.map((r, i) => `${oras} cp --from-plain-http --concurrency 8 ${q(r.src)} --to-oci-layout ${q(`${dir}/layout:i${i}`)} >/dev/null`),
        `tar -cf ${q(`${dir}/bundle.tar`)} -C ${layout(dir)} .`, `(cd ${q(dir)} && sha256sum bundle.tar > bundle.tar.sha256)`, `rm -rf ${layout(dir)}`,
      ].join(" && "),
      load: (dir, t) => [
        `(cd ${q(dir)} && sha256sum -c --quiet bundle.tar.sha256)`, `mkdir -p ${layout(dir)}`, `tar -xf ${q(`${dir}/bundle.tar`)} -C ${layout(dir)}`,
        ...refs.map((r, i) => `${oras} cp --from-oci-layout ${q(`${dir}/layout:i${i}`)} --to-plain-http --concurrency 8 ${q(`${t}/${r.name}`)} >/dev/null`),
      ].join(" && "),
    });
  }
  if (has("regctl")) {
    const plain = (host: string) => `${regctl} registry set --tls disabled ${q(host)} >/dev/null 2>&1`;
    peers.push({
      tool: "regctl",
      save: (dir) => [plain(refs[0]!.src.split("/")[0]!), ...refs.map((r, i) => `${regctl} image copy ${q(r.src)} ${q(`ocidir://${dir}:i${i}`)} >/dev/null`)].join(" && "),
      load: (dir, t) => [plain(t), ...refs.map((r, i) => `${regctl} image copy ${q(`ocidir://${dir}:i${i}`)} ${q(`${t}/${r.name}`)} >/dev/null`)].join(" && "),
    });
  }
  return { peers, missing: failed };
}
