// A little-endian cursor over a byte array that checks every read against the end of the data.
// Readers of binary formats use it so that a truncated or lying file becomes a FormatError naming the field,
// never a RangeError from a DataView or an out-of-bounds read.

import { FormatError } from "../errors.js";

// ignoreBOM: a U+FEFF at the start of a GGUF string is content (e.g. a SentencePiece token), not a byte-order mark.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class ByteReader {
  private readonly view: DataView;
  offset: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    offset = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
  }

  /** Throws unless `count` more bytes are available for `field`. */
  need(count: number, field: string): void {
    if (!(count >= 0) || count > this.remaining) {
      throw new FormatError({
        file: this.file,
        field,
        expected: `${count} more bytes at offset ${this.offset}`,
        actual: `${Math.max(0, this.remaining)} bytes left (file is ${this.bytes.byteLength} bytes)`,
      });
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.offset++);
  }
  i8(field: string): number {
    this.need(1, field);
    return this.view.getInt8(this.offset++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  i16(field: string): number {
    this.need(2, field);
    const v = this.view.getInt16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  i32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return v;
  }
  f32(field: string): number {
    this.need(4, field);
    const v = this.view.getFloat32(this.offset, true);
    this.offset += 4;
    return v;
  }
  f64(field: string): number {
    this.need(8, field);
    const v = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }
  i64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigInt64(this.offset, true);
    this.offset += 8;
    return v;
  }

  /** A u64 that must be a count or size representable exactly as a JS number and at most `max`. */
  u64AsNumber(field: string, max: number): number {
    const v = this.u64(field);
    if (v > BigInt(max)) {
      throw new FormatError({ file: this.file, field, expected: `at most ${max}`, actual: `${v}` });
    }
    return Number(v);
  }

  /** `length` bytes decoded as strict UTF-8. */
  utf8(length: number, field: string): string {
    this.need(length, field);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return utf8.decode(slice);
    } catch {
      throw new FormatError({ file: this.file, field, expected: "valid UTF-8", actual: "invalid byte sequence" });
    }
  }
}

/** Parses JSON text, turning a syntax error into a FormatError that names the file. */
export function parseJson(text: string, file: string, field = "JSON"): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormatError({
      file,
      field,
      expected: "valid JSON",
      actual: error instanceof Error ? error.message : "unparseable text",
    });
  }
}

/** Decodes bytes as strict UTF-8 text for `file`. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new FormatError({ file, expected: "UTF-8 text", actual: "invalid byte sequence" });
  }
}
