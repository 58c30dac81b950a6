/**
 * Parses `WWW-Authenticate` challenges (RFC 7235), as registries send them:
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"`.
 * https://distribution.github.io/distribution/spec/auth/token/
 */

/** One challenge: its scheme (lower case) and parameters (names lower case). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const PARAM = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;

/** Parses a WWW-Authenticate header value (or several) into its challenges. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    // A new challenge starts where a token is followed by white space and a parameter (or the end).
    const starts = [...value.matchAll(/(?:^|,)\s*([A-Za-z][\w-]*)(?=\s+[\w-]+\s*=|\s*$)/g)];
    starts.forEach((start, i) => {
      const from = (start.index ?? 0) + start[0].length;
      const to = i + 1 < starts.length ? (starts[i + 1]?.index ?? value.length) : value.length;
      const params: Record<string, string> = {};
      for (const p of value.slice(from, to).matchAll(PARAM)) {
        params[(p[1] ?? "").toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : (p[3] ?? "");
      }
      out.push({ scheme: (start[1] ?? "").toLowerCase(), params });
    });
  }
  return out;
}
