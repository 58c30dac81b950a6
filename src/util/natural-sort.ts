/**
 * Natural order for file names: `1, 2, …, 10, 11`, not `1, 10, 11, 2`.
 */

// Made on first use: creating a collator loads ICU data (~20 ms of a start-up that may never sort).
let collator: Intl.Collator | undefined;

/** Compares two paths component by component, numbers by value. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.split("/");
  const pb = b.split("/");
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    collator ??= new Intl.Collator("en", { numeric: true, sensitivity: "variant" });
    const c = collator.compare(pa[i]!, pb[i]!);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}
