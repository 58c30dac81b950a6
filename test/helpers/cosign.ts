/**
 * Signature objects in cosign's exact layout, made in the test (no cosign here): a simple-signing payload naming
 * the image's manifest digest, signed (ECDSA P-256 over SHA-256, DER, base64) with a key openssl made; the
 * signature manifest whose one layer is the payload, with the signature in the layer's
 * `dev.cosignproject.cosign/signature` annotation; pushed under the tag `sha256-<hex>.sig`. Also an SBOM as an
 * OCI 1.1 referrer (`subject`, `artifactType`) with the referrers tag schema's index, as oras writes it for a
 * registry without the Referrers API.
 * https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md
 */
import { createPrivateKey, sign } from "node:crypto";
import { readFile } from "node:fs/promises";
import { descriptorOf, pushBlob, pushManifest, type RawBlob } from "./push.js";
import type { TestRegistry } from "./registry.js";

const json = (mediaType: string, value: unknown): RawBlob => ({ mediaType, data: Buffer.from(JSON.stringify(value)) });

/**
 * Signs `digest` as cosign does for `dockerReference`; pushes the signature under `sha256-<hex>.sig` in `repo`
 * (the hex of `attachTo`, default `digest`: another image's digest makes a signature over the wrong image). Returns its digest.
 */
export async function pushCosignSignature(registry: TestRegistry, repo: string, dockerReference: string, digest: string, keyFile: string, attachTo = digest): Promise<string> {
  const payload = json("application/vnd.dev.cosign.simplesigning.v1+json", {
    critical: { identity: { "docker-reference": dockerReference }, image: { "docker-manifest-digest": digest }, type: "cosign container image signature" },
    optional: null,
  });
  const signature = sign("sha256", payload.data, createPrivateKey(await readFile(keyFile, "utf8"))).toString("base64");
  const config = json("application/vnd.oci.image.config.v1+json", {
    architecture: "", config: {}, created: "0001-01-01T00:00:00Z", history: [{ created: "0001-01-01T00:00:00Z" }], os: "",
    rootfs: { type: "layers", diff_ids: [descriptorOf(payload).digest] },
  });
  await pushBlob(registry, repo, payload);
  await pushBlob(registry, repo, config);
  const manifest = json("application/vnd.oci.image.manifest.v1+json", {
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: descriptorOf(config),
    layers: [descriptorOf(payload, { annotations: { "dev.cosignproject.cosign/signature": signature } })],
  });
  return pushManifest(registry, repo, manifest, `${attachTo.replace(":", "-")}.sig`);
}

/** An SPDX SBOM attached to `subject` as an OCI 1.1 referrer, pushed by digest. Returns its descriptor. */
export async function pushSbomReferrer(registry: TestRegistry, repo: string, subject: { mediaType: string; digest: string; size: number }, name: string): Promise<{ mediaType: string; digest: string; size: number; artifactType: string }> {
  const empty: RawBlob = { mediaType: "application/vnd.oci.empty.v1+json", data: Buffer.from("{}") };
  const sbom = json("application/spdx+json", { spdxVersion: "SPDX-2.3", name, packages: [] });
  await pushBlob(registry, repo, empty);
  await pushBlob(registry, repo, sbom);
  const manifest = json("application/vnd.oci.image.manifest.v1+json", {
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: "application/spdx+json",
    config: descriptorOf(empty), layers: [descriptorOf(sbom)], subject,
  });
  await pushManifest(registry, repo, manifest);
  return { ...descriptorOf(manifest), artifactType: "application/spdx+json" } as { mediaType: string; digest: string; size: number; artifactType: string };
}

/** Writes the referrers tag schema's index (`sha256-<subject hex>`) listing `referrers`. */
export async function pushFallbackIndex(registry: TestRegistry, repo: string, subjectDigest: string, referrers: unknown[]): Promise<string> {
  return pushManifest(registry, repo, json("application/vnd.oci.image.index.v1+json", { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: referrers }), subjectDigest.replace(":", "-"));
}
