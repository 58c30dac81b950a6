/**
 * Keys given on the command line: `--key PUB.pem` (checks a bundle's signature) and `--sign-key KEY.pem` (signs a
 * save). An encrypted private key takes its passphrase from `--sign-key-pass-env VAR`, or a prompt on a terminal;
 * the passphrase is never printed.
 */
import type { KeyObject } from "node:crypto";
import { readSmallFile } from "../util/small-file.js";
import { AirgapError } from "../errors.js";
import { isEncryptedKey, privateKeyFrom, publicKeyFrom } from "../oci/signing.js";
import type { OptionSpec } from "./command.js";

/** `--image-key` and `--require-signatures`: the images' cosign signatures, checked offline. */
export const IMAGE_KEY_OPTIONS: Record<string, OptionSpec> = {
  "image-key": { type: "string", describe: "Public key (PEM) to check each image's cosign signature with, offline", requiresArg: true },
  "require-signatures": { type: "boolean", describe: "Refuse the bundle (before anything is pushed) unless every image has a good signature (needs --image-key)" },
};

/** The public key of `--image-key`, if given; `--require-signatures` needs one. */
export async function imageKeyOption(args: Record<string, unknown>): Promise<KeyObject | undefined> {
  if (args["image-key"] === undefined) {
    if (args["require-signatures"]) throw new AirgapError("INVALID_ARGUMENT", "--require-signatures needs --image-key PUB.pem");
    return undefined;
  }
  return publicKeyFrom(await readKeyFile(String(args["image-key"])), String(args["image-key"]));
}

/** `--key`, for the commands that read a bundle. */
export const KEY_OPTION: Record<string, OptionSpec> = {
  key: { type: "string", describe: "Public key (PEM): refuse the bundle unless its .sig verifies with it, before anything else", requiresArg: true },
};

/** Largest key file read: a PEM key is a few KB. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

async function readKeyFile(path: string): Promise<string> {
  return (await readSmallFile(path, MAX_KEY_FILE_BYTES, "the key")).toString("utf8");
}

/** The public key of `--key`, if given. */
export async function publicKeyOption(args: Record<string, unknown>): Promise<KeyObject | undefined> {
  if (args.key === undefined) return undefined;
  if (args["skip-verify"]) throw new AirgapError("INVALID_ARGUMENT", "--key and --skip-verify contradict each other");
  return publicKeyFrom(await readKeyFile(String(args.key)), String(args.key));
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  let answer = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return void (stdin.off("data", onData), resolve(answer));
          if (ch === "\u0003") return void (stdin.off("data", onData), reject(new AirgapError("ABORTED", "cancelled")));
          answer = ch === "\u007f" ? answer.slice(0, -1) : answer + ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}

/** The private key of `--sign-key`, opened (its passphrase from `--sign-key-pass-env VAR` or the terminal). */
export async function signingKeyOption(args: Record<string, unknown>): Promise<KeyObject | undefined> {
  if (args["sign-key"] === undefined) return undefined;
  const file = String(args["sign-key"]);
  const pem = await readKeyFile(file);
  if (!isEncryptedKey(pem)) return privateKeyFrom(pem, file);
  const variable = args["sign-key-pass-env"];
  if (variable !== undefined) {
    const passphrase = process.env[String(variable)];
    if (passphrase === undefined) throw new AirgapError("INVALID_ARGUMENT", `--sign-key-pass-env ${String(variable)}: that variable is not set`);
    return privateKeyFrom(pem, file, passphrase);
  }
  if (!process.stdin.isTTY) throw new AirgapError("INVALID_ARGUMENT", `${file} is encrypted: give its passphrase with --sign-key-pass-env VAR`);
  return privateKeyFrom(pem, file, await promptHidden(`passphrase for ${file}: `));
}
