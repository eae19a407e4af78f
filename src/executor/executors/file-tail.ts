import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/**
 * Follows a file another machine appends to: each `read()` returns the complete lines added since
 * the last one (a half-written last line waits for its end). A file that shrank was started over
 * (Slurm truncates a job's output file when the job is submitted again), so it is read from 0.
 */
export class FileTail {
  private offset = 0;
  private partial = '';
  private decoder = new StringDecoder('utf8');

  constructor(readonly file: string) {}

  async read(): Promise<string[]> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const { size } = await handle.stat();
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
        this.decoder = new StringDecoder('utf8');
      }
      if (size === this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      const text = this.partial + this.decoder.write(buffer.subarray(0, bytesRead));
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines;
    } finally {
      await handle.close();
    }
  }

  /** The unterminated last line, once the writer is known to be done. */
  rest(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest ? [rest] : [];
  }
}
