/**
 * Counts in words: "1 image", "2 images".
 */

/** `count` and the noun, plural unless the count is one (`plural(1, "image")` → "1 image"); `many` for irregular plurals. */
export function plural(count: number, noun: string, many = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : many}`;
}
