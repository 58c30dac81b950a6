/**
 * Raw ustar headers for the tests and the bench that write tars by hand (hostile bundles, image layers,
 * the bench's workload): one place that knows the fields and the checksum.
 */

/** A 512-byte ustar header: `type` "0" file, "5" directory, "x" pax; mode 0644 unless given, owner 0, the checksum set. */
export function ustarHeader(name: string, size: number, type = "0", mtime = 0, mode = 0o644): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write(`${mode.toString(8).padStart(7, "0")}\0`, 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write(`${mtime.toString(8).padStart(11, "0")}\0`, 136);
  h.write(type, 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  fixChecksum(h, 0);
  return h;
}

/** Recomputes the checksum of the header block at `offset` (after its bytes were changed). */
export function fixChecksum(tarBytes: Buffer, offset: number): void {
  tarBytes.fill(0x20, offset + 148, offset + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tarBytes[offset + i]!;
  tarBytes.write(`${sum.toString(8).padStart(6, "0")}\0 `, offset + 148, "ascii");
}
