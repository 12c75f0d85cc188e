// Incremental parsing of a streamed JSON array, so replay starts before the download ends.

export type RawEvent = { type: number; timestamp: number; data: unknown };

/**
 * Splits the top-level objects of a JSON array as its text arrives. Strings and nesting are
 * tracked so commas and brackets inside values are not mistaken for element boundaries.
 */
export class JsonArraySplitter {
  private text = "";
  private pos = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;

  push(chunk: string): unknown[] {
    this.text += chunk;
    const out: unknown[] = [];
    const text = this.text;
    for (let i = this.pos; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \ */) this.escaped = true;
        else if (c === 34 /* " */) this.inString = false;
        continue;
      }
      if (c === 34) {
        this.inString = true;
      } else if (c === 91 /* [ */ || c === 123 /* { */) {
        this.depth++;
        if (this.depth === 2 && this.start < 0) this.start = i;
      } else if (c === 93 /* ] */ || c === 125 /* } */) {
        this.depth--;
        if (this.depth === 1 && this.start >= 0) {
          out.push(JSON.parse(text.slice(this.start, i + 1)));
          this.start = -1;
        }
      }
    }
    // Drop what was consumed so memory holds at most one unfinished element.
    const keepFrom = this.start >= 0 ? this.start : text.length;
    this.text = text.slice(keepFrom);
    if (this.start >= 0) this.start = 0;
    this.pos = this.text.length;
    return out;
  }
}

/** Reads a streamed JSON array of events, calling `onEvents` for each parsed run. */
export async function readEventStream(
  response: Response,
  onEvents: (events: RawEvent[]) => void,
): Promise<void> {
  if (!response.body) {
    onEvents((await response.json()) as RawEvent[]);
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const splitter = new JsonArraySplitter();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const events = splitter.push(value) as RawEvent[];
    if (events.length) onEvents(events);
  }
}
