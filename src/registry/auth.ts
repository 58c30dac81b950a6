/**
 * A registry host's credentials as requests carry them: Basic, or Docker token auth (a Bearer token per scope from
 * the challenge's realm, kept until it expires). The auth layer of the transport (transport.ts) asks it for headers.
 * https://distribution.github.io/distribution/spec/auth/token/
 */
import type { Dispatcher } from "undici";
import type { AirgapError } from "../errors.js";
import { parseChallenges, type Challenge } from "./challenge.js";
import type { Credential, CredentialStore } from "./credentials.js";
import { readCapped, redactUrl, RegistryError, responseError } from "./errors.js";
import type { Authorizer, Send } from "./transport.js";

/** Longest token response we read (the remote decides its size). */
export const MAX_TOKEN_BYTES = 1024 * 1024;

/** The challenge a registry's 401 gives: Bearer preferred, else Basic. */
export function pickChallenge(header: string | string[] | undefined): Challenge | undefined {
  const all = parseChallenges(header);
  return all.find((c) => c.scheme === "bearer") ?? all.find((c) => c.scheme === "basic");
}

function basic(c: Credential): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

/** One host's auth state: its challenge (learnt at the ping, renewed on a 401), its credential, its headers by scope. */
export class HostAuth implements Authorizer {
  private challenge?: Challenge;
  private readonly headers = new Map<string, { header: string; expires: number }>();
  private credential?: Promise<Credential | undefined>;

  /** `send` is the host's stack, used without auth for the token request. */
  constructor(
    private readonly host: string,
    private readonly credentials: CredentialStore,
    private readonly send: Send,
  ) {}

  /** Takes the challenge of the ping's 401 (`www-authenticate`). */
  learn(header: string | string[] | undefined): void {
    this.challenge = pickChallenge(header);
  }

  private getCredential(): Promise<Credential | undefined> {
    this.credential ??= this.credentials.get(this.host);
    return this.credential;
  }

  async header(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    const cached = this.headers.get(scope);
    if (cached && cached.expires > Date.now()) return cached.header;
    const credential = await this.getCredential();
    let header: string;
    let lifetimeMs = 60 * 60 * 1000;
    if (challenge.scheme === "basic") {
      if (!credential) return undefined;
      header = basic(credential);
    } else {
      const token = await this.fetchToken(challenge, scope, credential, signal);
      header = `Bearer ${token.token}`;
      lifetimeMs = Math.max(10, token.expiresIn - 10) * 1000;
    }
    this.headers.set(scope, { header, expires: Date.now() + lifetimeMs });
    return header;
  }

  renew(scope: string, challenge: string | string[] | undefined): boolean {
    const fresh = pickChallenge(challenge);
    if (fresh) this.challenge = fresh;
    this.headers.delete(scope);
    return this.challenge !== undefined;
  }

  async refused(what: string, res: Dispatcher.ResponseData): Promise<AirgapError> {
    return responseError(what, res, await this.whatToDo());
  }

  private async whatToDo(): Promise<string> {
    return (await this.getCredential()) ? `check the credentials for ${this.host}` : `log in to ${this.host} (docker login) or pass --username and --password-stdin`;
  }

  /** Docker token auth: GET realm?service=…&scope=… (Basic credentials when we have them). */
  private async fetchToken(challenge: Challenge, scope: string, credential: Credential | undefined, signal?: AbortSignal): Promise<{ token: string; expiresIn: number }> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError(`${this.host} asked for token auth without a realm`);
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    for (const s of scope.split(" ").filter(Boolean)) url.searchParams.append("scope", s);
    const what = `getting a token for ${this.host}`;
    const res = await this.send(url.toString(), {
      what,
      noAuth: true,
      passStatuses: [401, 403],
      headers: credential ? { authorization: basic(credential) } : {},
      ...(signal && { signal }),
    });
    if (res.statusCode !== 200) throw await responseError(`${what} from ${redactUrl(realm)}`, res, await this.whatToDo());
    const text = (await readCapped(res.body, MAX_TOKEN_BYTES, what)).toString("utf8");
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    const token = body?.token ?? body?.access_token;
    if (token !== undefined && typeof token !== "string") throw new RegistryError(`${what}: the token server's answer is not a token`);
    if (!token) throw new RegistryError(`${what}: the token server answered without a token`);
    return { token, expiresIn: typeof body?.expires_in === "number" ? body.expires_in : 60 };
  }
}
