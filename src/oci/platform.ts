/**
 * Platforms (`os/architecture[/variant]`) and how a requested platform selects an index entry.
 * https://github.com/opencontainers/image-spec/blob/main/image-index.md (platform)
 */
import { AirgapError } from "../errors.js";

/** A platform as it appears in an index entry or an image config. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Default platform selection of `bundle save`. */
export const DEFAULT_PLATFORMS: readonly string[] = ["linux/amd64"];

/** Parses `os/arch[/variant]`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p))) {
    throw new AirgapError("INVALID_ARGUMENT", `invalid platform "${text}"`, { hint: "write os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8" });
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return { os: os.toLowerCase(), architecture: architecture.toLowerCase(), ...(variant && { variant: variant.toLowerCase() }) };
}

/** Formats a platform as `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join("/");
}

function normalVariant(p: Platform): string | undefined {
  if (p.architecture === "arm64" && (p.variant === undefined || p.variant === "")) return "v8";
  return p.variant || undefined;
}

/** True when `candidate` satisfies `wanted`; a wanted platform without a variant accepts any variant. */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) return false;
  if (wanted.variant === undefined) return true;
  return normalVariant(wanted) === normalVariant(candidate);
}
