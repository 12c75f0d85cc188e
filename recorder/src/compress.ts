/** A batch packed for the wire: node IDs as differences, then gzip with the browser's
 * CompressionStream, in a worker where the page's CSP allows one. */

type Gzip = (text: string) => Promise<Uint8Array | null>;

/**
 * The batch with every node-ID number written as its difference from the one before, which
 * gzip compresses to a third less on re-rendered lists; the service restores them (the rule is
 * described in service/ingest/id_deltas.py). As it is when a number is out of range.
 * Self-contained: the worker is given its source text.
 */
export function codeIds(json: string): string {
  let last = 0;
  let inRange = true;
  const coded = json.replace(/([{,]"(?:id|parentId|nextId|previousId|rootId)":)(-?\d+)(?=[,}])/g, (_, key: string, digits: string) => {
    const id = +digits;
    inRange &&= Math.abs(id) < 2147483648;
    const delta = id - last;
    last = id;
    return key + delta;
  });
  return inRange ? coded.slice(0, -1) + ',"id_deltas":true}' : json;
}

// The same as gzipHere, as worker source.
const WORKER_SOURCE =
  `const codeIds=${codeIds};` +
  'onmessage=async e=>{let b=null;try{b=await new Response(new Blob([codeIds(e.data[1])]).stream()' +
  '.pipeThrough(new CompressionStream("gzip"))).arrayBuffer()}catch(x){}postMessage([e.data[0],b])}';

/** Packed on this thread; the stream works in chunks, between the page's own tasks. */
const gzipHere: Gzip = async (text) => {
  try {
    const stream = new Blob([codeIds(text)]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return null; // no CompressionStream: the batch goes as plain JSON
  }
};

let inWorker: Gzip | undefined;
/** Ends the worker; what it had not finished is packed on this thread (`redo`) or not at all. */
let retire: ((redo: boolean) => void) | undefined;
let workerRefused = false;

function startWorker(): Gzip {
  const worker = new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' })));
  const pending = new Map<number, [string, (out: Uint8Array | null) => void]>();
  let next = 0;
  retire = (redo) => {
    worker.terminate();
    for (const [text, resolve] of pending.values()) {
      if (redo) void gzipHere(text).then(resolve);
      else resolve(null);
    }
    pending.clear();
    inWorker = retire = undefined;
  };
  worker.onmessage = ({ data }: MessageEvent<[number, ArrayBuffer | null]>) => {
    pending.get(data[0])?.[1](data[1] && new Uint8Array(data[1]));
    pending.delete(data[0]);
  };
  // Refused after creation (CSP is checked when the script loads): compress here from now on.
  worker.onerror = () => {
    workerRefused = true;
    retire?.(true);
  };
  return (text) =>
    new Promise((resolve) => {
      pending.set(next, [text, resolve]);
      worker.postMessage([next++, text]);
    });
}

/** The batch `text` packed (IDs coded, gzipped), or null where the browser cannot compress:
 * then the batch goes as the plain JSON it is, IDs uncoded. */
export function packBatch(text: string): Promise<Uint8Array | null> {
  if (!inWorker && !workerRefused) {
    try {
      inWorker = startWorker();
    } catch {
      workerRefused = true; // no Worker, or a CSP without blob: in worker-src
    }
  }
  return (inWorker || gzipHere)(text);
}

/** The page is going away or into the back-forward cache, where a message from the worker
 * would evict it: the worker ends, and a later batch starts a new one. What it had not packed
 * stays plain JSON: packing it here would finish after the page is frozen, evicting it too. */
export const stopCompressionWorker = (): void => retire?.(false);
