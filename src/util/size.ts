/**
 * Byte sizes as people write them (`4G`, `700M`, `1.5Gi`) and as they read them.
 */
import { AirgapError } from "../errors.js";

const UNITS: Record<string, number> = {
  "": 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3, ti: 1024 ** 4, tib: 1024 ** 4,
};

/**
 * Parses a size: decimal units (`4G` = 4,000,000,000 bytes, which fits FAT32's 4 GiB − 1 limit) or
 * binary ones (`4Gi`). Throws INVALID_ARGUMENT naming the option.
 */
export function parseSize(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[(m[2] ?? "").toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new AirgapError("INVALID_ARGUMENT", `${option}: "${text}" is not a size`, { hint: "write e.g. 4G (4×10⁹ bytes), 700M or 2Gi" });
  }
  return Math.floor(Number(m[1]) * unit);
}

/** Formats bytes for people: `1.1 GB`, `512.0 MB`, `900 B` (decimal units, as MB/s figures are). */
export function formatBytes(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
