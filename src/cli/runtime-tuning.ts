/**
 * The one place the runtime is tuned (docs/architecture.md, "Speed"): each setting here earned its place in
 * the bench at the size of the real job. Nothing else in the tool sets a V8 flag.
 *
 * V8 tuning for the phases that stream blobs. Every chunk of a blob is a new buffer outside the JS heap,
 * and the ones still in flight at a young collection are promoted and counted toward the next full one;
 * with a heap of a few MB V8 grew that limit by little each time and ran ~55 full collections per GB
 * moved, a fifth of a load's CPU. Growing the limit 11-fold after each collection leaves 2-4 per run
 * (measured: load 2.2 s -> 1.3 s of user CPU, save 4.0 s -> 3.5 s; peak RSS 150-165 MB). Only for those
 * phases: where JS objects dominate (a large manifest parsed), the same factor raised peak RSS by a quarter.
 * The flag is read at each collection, so setting it while running takes effect.
 */
import { setFlagsFromString } from "node:v8";

/** Turns the tuning on (a blob-streaming phase begins) or back to V8's own factor. */
export function streamingGc(on: boolean): void {
  setFlagsFromString(on ? "--heap-growing-percent=1000" : "--heap-growing-percent=0");
}
