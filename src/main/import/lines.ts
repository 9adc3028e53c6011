import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';

export interface Line {
  /** 1-based line number. */
  no: number;
  text: string;
  /** The line's bytes are not valid UTF-8 (`text` then holds U+FFFD where they were). */
  invalidUtf8: boolean;
  /** The line's bytes, only when invalidUtf8 (so a rejected-lines file keeps them verbatim). */
  bytes?: Buffer;
}

/**
 * The lines of a file (split on \n, a trailing \r dropped), with a per-line UTF-8 check: readline decodes bad
 * bytes to U+FFFD silently, which stored mangled text. Only lines whose text contains U+FFFD pay for the byte
 * check, so a genuine U+FFFD in the file still passes. `stream` gives the caller bytesRead for progress.
 */
export function fileLines(file: string): { stream: fs.ReadStream; lines: AsyncGenerator<Line> } {
  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  async function* gen(): AsyncGenerator<Line> {
    let no = 0;
    let rest: Buffer | null = null;
    const line = (b: Buffer): Line => {
      no++;
      const end = b.length && b[b.length - 1] === 13 ? b.length - 1 : b.length;
      const bytes = b.subarray(0, end);
      const text = bytes.toString('utf8');
      const invalidUtf8 = text.includes('\uFFFD') && !isUtf8(bytes);
      return invalidUtf8 ? { no, text, invalidUtf8, bytes: Buffer.from(bytes) } : { no, text, invalidUtf8 };
    };
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
        let at = 0;
        for (let nl = buf.indexOf(10, at); nl >= 0; nl = buf.indexOf(10, at)) {
          yield line(buf.subarray(at, nl));
          at = nl + 1;
        }
        buf = buf.subarray(at);
        rest = buf.length ? Buffer.from(buf) : null;
      }
      if (rest) yield line(rest);
    } finally {
      stream.destroy();
    }
  }
  return { stream, lines: gen() };
}
