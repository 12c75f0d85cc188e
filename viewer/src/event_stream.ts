// Incremental parsing of a streamed JSON array, so replay starts before the download ends.

export type RawEvent = { type: number; timestamp: number; data: unknown };

// The longest the stream is read and fed without giving the main thread back. On a fast link the
// whole body is already buffered and every read resolves at once, so without a pause the page
// would not draw (and rrweb would not rebuild its first frame, which waits in a timer) until
// the last event was read. The first pause comes soon, so the first frame does not wait; later
// ones less often, since each costs a timer's clamp and a frame of the page.
const FIRST_SLICE_MS = 12;
const SLICE_MS = 50;
// How much text is parsed between two looks at the clock (~200 events of a busy page).
const PIECE_CHARS = 64 * 1024;

/**
 * Let the browser run timers and render before reading on. A 1 ms timer, not 0: Chromium runs
 * zero-delay timers from a queue of their own ahead of the others, so a 0 ms pause would come
 * back before rrweb's 1 ms rebuild timer had its turn.
 */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

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

/**
 * Reads a streamed JSON array of events, calling `onEvents` for each parsed run. While `hurry()`
 * says so (the first frame is not on screen yet), the page gets the main thread back after every
 * piece, so rrweb's rebuild timer and the first paint do not wait behind a long slice.
 */
export async function readEventStream(
  response: Response,
  onEvents: (events: RawEvent[]) => void,
  hurry: () => boolean = () => false,
): Promise<void> {
  if (!response.body) {
    onEvents((await response.json()) as RawEvent[]);
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const splitter = new JsonArraySplitter();
  let sliceStart = performance.now();
  let slice = FIRST_SLICE_MS;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // A fast link hands over megabytes at once: parse and feed them a piece at a time.
    for (let at = 0; at < value.length; at += PIECE_CHARS) {
      const events = splitter.push(value.slice(at, at + PIECE_CHARS)) as RawEvent[];
      if (events.length) onEvents(events);
      if (hurry() || performance.now() - sliceStart >= slice) {
        await yieldToPage();
        sliceStart = performance.now();
        slice = SLICE_MS;
      }
    }
  }
}

/**
 * Events parsed before their consumer is ready (the report and the asset copies are still on
 * their way) wait here in order; `deliverTo` hands them over and passes later ones straight on.
 */
export class EventBuffer {
  private waiting: RawEvent[][] = [];
  private consumer: ((events: RawEvent[]) => void) | null = null;

  readonly push = (events: RawEvent[]): void => {
    if (this.consumer) this.consumer(events);
    else this.waiting.push(events);
  };

  get ready(): boolean {
    return this.consumer !== null;
  }

  deliverTo(consumer: (events: RawEvent[]) => void): void {
    const waiting = this.waiting.splice(0);
    this.consumer = consumer;
    if (waiting.length) consumer(waiting.flat());
  }
}
