/**
 * A YAML alias bomb, for the tests that prove no parser of ours expands it.
 */

/** Nine levels of ten aliases: a 1 KB file that expands to 10⁹ containers. */
export function aliasBomb(): string {
  const lines = ["apiVersion: v1", "kind: Pod", "metadata: {name: bomb}", "x0: &x0 {name: c, image: nginx:1.25}"];
  for (let i = 1; i <= 9; i++) lines.push(`x${i}: &x${i} [${Array.from({ length: 10 }, () => `*x${i - 1}`).join(", ")}]`);
  lines.push("spec:", "  containers: *x9");
  return `${lines.join("\n")}\n`;
}
