/**
 * A small Docker token issuer (https://distribution.github.io/distribution/spec/auth/token/) for the
 * registry's `auth: token` mode: it checks Basic credentials, grants the requested scopes and signs
 * ES256 JWTs with a test certificate that the registry trusts (its `rootcertbundle`). It records every
 * request so tests can see what reached it. Listens on 127.0.0.1 only.
 */
import { createPrivateKey, randomUUID, sign } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { run } from "./processes.js";

/** A running token issuer. */
export interface TokenIssuer {
  /** `http://127.0.0.1:PORT/token`: the realm to configure. */
  realm: string;
  service: string;
  issuer: string;
  /** The certificate the registry must trust. */
  certFile: string;
  /** The registry config section for it. */
  registryConfig: string;
  username: string;
  password: string;
  /** Requests seen: their scope and whether (valid) credentials came with them. */
  requests: Array<{ scope: string | null; authenticated: boolean; hadCredentials: boolean }>;
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** Starts a token issuer with its own key and certificate in `dir`. Anonymous requests get pull access only. */
export async function startTokenIssuer(dir: string, options: { allowAnonymousPull?: boolean } = {}): Promise<TokenIssuer> {
  const keyFile = join(dir, "token.key");
  const certFile = join(dir, "token.crt");
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=airgap-bundle test token issuer"]);
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = Buffer.from((await readFile(certFile, "utf8")).replace(/-----[^-]+-----|\s/g, ""), "base64");
  const service = "airgap-test-registry";
  const issuer = "airgap-test-issuer";
  const username = "tokenuser";
  const password = `tok-${Math.random().toString(36).slice(2)}`;
  const requests: TokenIssuer["requests"] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const auth = req.headers.authorization;
    const hadCredentials = typeof auth === "string" && auth.startsWith("Basic ");
    const authenticated = hadCredentials && Buffer.from(auth.slice(6), "base64").toString() === `${username}:${password}`;
    const scope = url.searchParams.get("scope");
    requests.push({ scope, authenticated, hadCredentials });
    if (url.pathname !== "/token" || (hadCredentials && !authenticated) || (!authenticated && !options.allowAnonymousPull)) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
      return;
    }
    const access = (scope ? scope.split(" ") : []).map((s) => {
      const [type, ...rest] = s.split(":");
      const actions = (rest.pop() ?? "").split(",");
      const granted = authenticated ? actions : actions.filter((a) => a === "pull");
      return { type, name: rest.join(":"), actions: granted };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: "ES256", typ: "JWT", x5c: [certDer.toString("base64")] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: authenticated ? username : "", aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = sign("sha256", Buffer.from(`${header}.${claims}`), { key, dsaEncoding: "ieee-p1363" });
    const token = `${header}.${claims}.${b64url(signature)}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return {
    realm, service, issuer, certFile, username, password, requests,
    registryConfig: ["auth:", "  token:", `    realm: ${realm}`, `    service: ${service}`, `    issuer: ${issuer}`, `    rootcertbundle: ${certFile}`].join("\n"),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
