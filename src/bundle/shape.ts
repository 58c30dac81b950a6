/**
 * Checks of a JSON document's shape, each naming what is wrong in words (`images[2].digest is not a digest`):
 * bundle.json, index.json and inventories are input from outside.
 */
import type { Problem } from "../errors.js";
import { digestProblem, parseReference } from "../reference/reference.js";

export type Check = (value: unknown) => string | undefined;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const string: Check = (v) => (typeof v === "string" ? undefined : "is not a string");
export const count: Check = (v) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? undefined : "is not a whole number ≥ 0");
export const digest: Check = (v) => (typeof v !== "string" ? "is not a string" : digestProblem(v) === undefined ? undefined : "is not a digest (sha256:<64 hex digits>)");
export const reference: Check = (v) => {
  if (typeof v !== "string") return "is not a string";
  try {
    parseReference(v);
    return undefined;
  } catch {
    return "is not an image reference";
  }
};
export const stringArray: Check = (v) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "is not a list of strings");
export const digestMap: Check = (v) => (isObject(v) && Object.values(v).every((x) => digest(x) === undefined) ? undefined : "is not a map of platforms to digests");

/** Checks `value[key]` for each field; a missing optional field passes. */
export function fields(value: unknown, where: string, file: string, spec: Record<string, Check | [Check, "optional"]>, problems: Problem[]): boolean {
  if (!isObject(value)) {
    problems.push({ file, reason: `${where || "the document"} is not an object` });
    return false;
  }
  for (const [key, rule] of Object.entries(spec)) {
    const [check, optional] = Array.isArray(rule) ? rule : [rule, undefined];
    if (value[key] === undefined && optional) continue;
    const why = value[key] === undefined ? "is missing" : check(value[key]);
    if (why) problems.push({ file, reason: `${where ? `${where}.` : ""}${key} ${why}` });
  }
  return true;
}

export function list(value: unknown, where: string, file: string, each: (item: unknown, where: string) => void, problems: Problem[]): void {
  if (!Array.isArray(value)) {
    problems.push({ file, reason: `${where} is not a list` });
    return;
  }
  value.forEach((item, i) => each(item, `${where}[${i}]`));
}
