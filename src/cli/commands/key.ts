/**
 * `bundle key create NAME`: a key pair for signing bundles — NAME.key (PKCS#8 PEM, readable by its owner only)
 * and NAME.pub (SPKI PEM, to give to the sites that check).
 */
import { generateKeyPairSync } from "node:crypto";
import { chmod, lstat, open, unlink } from "node:fs/promises";
import { basename } from "node:path";
import { AirgapError } from "../../errors.js";
import { fingerprint } from "../../oci/signing.js";
import type { CommandSpec } from "../command.js";
import { EXIT } from "../output.js";

/** Writes a new file (never over one that exists) with `mode`. */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const file = await open(path, "wx", mode).catch((err: NodeJS.ErrnoException) => {
    throw err.code === "EEXIST"
      ? new AirgapError("BUNDLE_EXISTS", `${path} exists; not overwritten`, { hint: "choose another NAME, or move the old key away first" })
      : new AirgapError("IO", `cannot write ${path}: ${err.code ?? err.message}`);
  });
  try {
    await file.writeFile(text);
  } finally {
    await file.close();
  }
  await chmod(path, mode);
}

/** The `key` command. */
export const keyCommand: CommandSpec = {
  command: "key <action> <name>",
  summary: "Create a key pair for signing bundles (NAME.key, NAME.pub)",
  description:
    "key create NAME writes NAME.key, a PKCS#8 PEM private key (mode 0600; encrypted with the passphrase in\n" +
    "--pass-env VAR, if given), and NAME.pub, its public key. Sign with `bundle save --sign-key NAME.key`; sites\n" +
    "check with `bundle verify BUNDLE --key NAME.pub` (or openssl: docs/signing.md). ECDSA P-256 by default.",
  examples: [
    ["bundle key create release", "release.key and release.pub"],
    ["RELEASE_PASS=… bundle key create release --pass-env RELEASE_PASS --algorithm ed25519", "An encrypted Ed25519 key"],
  ],
  positionals: {
    action: { type: "string", describe: "What to do", choices: ["create"] },
    name: { type: "string", describe: "Base name of the two files" },
  },
  options: {
    algorithm: { type: "string", describe: "Key type", choices: ["ecdsa-p256", "ed25519"], default: "ecdsa-p256" },
    "pass-env": { type: "string", describe: "Encrypt the private key with the passphrase in this environment variable", requiresArg: true },
  },
  async run(args, out) {
    const name = String(args.name);
    let passphrase: string | undefined;
    if (args["pass-env"] !== undefined) {
      passphrase = process.env[String(args["pass-env"])];
      if (!passphrase) throw new AirgapError("INVALID_ARGUMENT", `--pass-env ${String(args["pass-env"])}: that variable is not set or empty`);
    }
    if (name === "" || name.endsWith("/") || /^\.*$/.test(basename(name))) {
      throw new AirgapError("INVALID_ARGUMENT", `key create ${JSON.stringify(name)}: NAME must be a file name (NAME.key and NAME.pub are written)`);
    }
    // Both refused before either is written: never a new NAME.key beside an old NAME.pub it does not match.
    for (const path of [`${name}.key`, `${name}.pub`]) {
      if (await lstat(path).then(() => true, () => false)) throw new AirgapError("BUNDLE_EXISTS", `${path} exists; nothing was written`, { hint: "choose another NAME, or move the old pair away first" });
    }
    const pair = args.algorithm === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem", ...(passphrase !== undefined && { cipher: "aes-256-cbc", passphrase }) }) as string;
    const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }) as string;
    await writeNew(`${name}.key`, privatePem, 0o600);
    await writeNew(`${name}.pub`, publicPem, 0o644).catch(async (err: unknown) => {
      await unlink(`${name}.key`).catch(() => undefined);
      throw err;
    });
    out.result(`${name}.key (private, mode 0600${passphrase !== undefined ? ", encrypted" : ""}) and ${name}.pub: key ${fingerprint(pair.publicKey)}`, {
      privateKey: `${name}.key`, publicKey: `${name}.pub`, fingerprint: fingerprint(pair.publicKey), algorithm: String(args.algorithm),
    });
    return EXIT.OK;
  },
};
