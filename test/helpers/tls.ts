/**
 * A throw-away certificate authority and a server certificate for 127.0.0.1/localhost, made with openssl.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./processes.js";

/** Files of a test PKI. */
export interface TestPki {
  /** CA certificate (PEM file). */
  caFile: string;
  /** CA certificate (PEM text), for clients that take it inline. */
  caPem: string;
  /** A folder holding only `ca.crt`, in the shape skopeo's --cert-dir expects. */
  certDir: string;
  /** Server certificate and key for 127.0.0.1, ::1 and localhost. */
  certFile: string;
  keyFile: string;
}

/** Creates a CA and a server certificate signed by it in `dir`. */
export async function makePki(dir: string): Promise<TestPki> {
  const certDir = join(dir, "certs.d");
  await mkdir(certDir, { recursive: true });
  const caKey = join(dir, "ca.key");
  const caFile = join(certDir, "ca.crt");
  const keyFile = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const certFile = join(dir, "server.crt");
  const ext = join(dir, "server.ext");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", caKey, "-out", caFile, "-days", "2", "-subj", "/CN=airgap-bundle test CA"]);
  await run("openssl", ["req", ...ec, "-keyout", keyFile, "-out", csr, "-subj", "/CN=127.0.0.1"]);
  await import("node:fs/promises").then((fs) =>
    fs.writeFile(ext, "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
  );
  await run("openssl", ["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-out", certFile, "-days", "2", "-extfile", ext]);
  return { caFile, caPem: await readFile(caFile, "utf8"), certDir, certFile, keyFile };
}
