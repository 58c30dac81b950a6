/**
 * Kubernetes resource quantities (`100m`, `1.5`, `512Mi`, `2G`, `1e3`) as numbers: cpu in cores, memory and
 * everything else in units. https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The value of a quantity, or undefined when it is not one. */
export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]{0,2})$/.exec(value.trim());
  if (!m) return undefined;
  const factor = SUFFIX[m[2]!];
  const n = Number(m[1]);
  return factor === undefined || Number.isNaN(n) ? undefined : n * factor;
}

/** A quantity for people: cores with up to three decimals, bytes in binary units. */
export function formatQuantity(resource: string, value: number): string {
  if (resource === "cpu") return `${Number(value.toFixed(3))}`;
  if (resource === "memory" || resource.endsWith("storage")) {
    for (const [unit, f] of [["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) if (value >= f) return `${Number((value / f).toFixed(1))}${unit}`;
  }
  return `${Number(value.toFixed(3))}`;
}
