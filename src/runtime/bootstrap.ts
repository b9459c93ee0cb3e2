// The script that prepares each sandbox context before user code runs. It installs `log`,
// `console` and `metadata`, removes facilities a transformation has no use for, and returns
// `createRunner(namespace)`, which yields the one function the host calls per batch.
//
// Wire format of a batch (one copy in, one copy out, no per-event host round trips):
//   in:  runBatch(eventsJson, metadataJson | null, captureLogs, credentialsJson | null, namesJson | null);
//        runBatch(null) collects the last output
//   out: `${header.length}:${header}${body}` where header is comma-separated integers
//          kind, logCount, logsDropped, logLength*logCount, (index, status, length)*
//        and body is the log lines followed by the outcome texts, concatenated without separators.
//        kind: 0 transformEvent result, 1 transformBatch result, 2 batch threw, 3 batch returned a non-array,
//              4 the output broke a bound (maxOutputChars, maxOutputsPerEvent).
//        status 200: text is the output event as JSON; 400: text is the error message;
//        204: the event was dropped (length 0). For kinds 2 and 3 one entry (-1, 400, length) carries the message.
// Everything the runner relies on is captured here, before user code can replace built-ins (the
// "primordials" pattern): methods are called through Reflect.apply on captured functions, and the
// header is built from string concatenation of numbers only. Promises need one more step. `await p`
// and resolving a promise with p both read p.constructor and p.then, which a module can replace on
// Promise.prototype to hand the host a result of its own making. So the runner never awaits or
// resolves with a promise of its own: it pins each one's `constructor` to undefined (then's species
// lookup falls back to the real Promise), attaches reactions with the captured `then`, and settles a
// promise built by the captured constructor with the finished string, a primitive, which is never
// looked into. A module that poisons prototypes can garble its own outputs, never the framing, and
// the host checks what it decodes anyway (contract.ts).

export const OUTCOME_KEPT = 200;
export const OUTCOME_FAILED = 400;
export const OUTCOME_DROPPED = 204;

export const KIND_EVENTS = 0;
export const KIND_BATCH = 1;
export const KIND_BATCH_THREW = 2;
export const KIND_BATCH_INVALID = 3;
export const KIND_OUTPUT_LIMIT = 4;

/**
 * Deepest nesting of an output event. Deeper output fails its own event: rudder-server's JSON
 * reader (Go) stops at 10,000 levels and this process's JSON.stringify at a few thousand.
 */
export const MAX_OUTPUT_DEPTH = 1000;

/** Prefix of the error createRunner throws when the module's exports are not usable. */
export const ENTRY_ERROR_PREFIX = 'TillerEntryError:';

export interface BootstrapConfig {
  maxLogLines: number;
  maxLogChars: number;
  maxErrorChars: number;
  /**
   * After this many characters of batch input, the isolate runs a full garbage collection before the
   * next batch. Batch strings arrive as external strings that V8 collects only under pressure, so a
   * busy isolate would otherwise hold tens of MB of old batches outside its heap limit.
   */
  collectAfterInputChars: number;
  maxOutputChars: number;
  maxOutputsPerEvent: number;
  /** Deepest nesting an output event may have (MAX_OUTPUT_DEPTH). */
  maxOutputDepth: number;
  /** fetch, fetchV2 and geolocation calls one batch may make (OutboundOptions.maxCallsPerBatch). */
  maxOutboundCalls: number;
  /** Largest fetch request body, in characters (the host checks bytes). */
  maxRequestChars: number;
  /** Messages of output_limit failures (contract.ts words them). */
  outputSizeMessage: string;
  outputCountMessage: string;
}

export const bootstrapSource = String.raw`
(function tillerBootstrap(config, door) {
  'use strict';
  const global = globalThis;
  const ReflectApply = Reflect.apply;
  const doorApply = door.apply;
  const doorOptions = { result: { promise: true } };
  const TypeErrorCtor = TypeError;
  const ObjectCreate = Object.create;
  const ObjectKeys = Object.keys;
  const hasOwn = Object.prototype.hasOwnProperty;
  const promiseResolve = Promise.resolve;
  const promiseReject = Promise.reject;
  const stringIndexOf = String.prototype.indexOf;
  const stringLastIndexOf = String.prototype.lastIndexOf;
  const stringSplit = String.prototype.split;
  const stringStartsWith = String.prototype.startsWith;
  const decodeURIComponentFn = decodeURIComponent;
  const JSONParse = JSON.parse;
  const JSONStringify = JSON.stringify;
  const isArray = Array.isArray;
  const ArrayCtor = Array;
  const Uint8ArrayCtor = Uint8Array;
  const StringCtor = String;
  const ErrorCtor = Error;
  const WeakMapCtor = WeakMap;
  const weakMapGet = WeakMap.prototype.get;
  const weakMapSet = WeakMap.prototype.set;
  const MapCtor = Map;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapHas = Map.prototype.has;
  const stringSlice = String.prototype.slice;
  const symbolToString = Symbol.prototype.toString;
  const stringCharCodeAt = String.prototype.charCodeAt;
  const defineProperty = Object.defineProperty;
  const PromiseCtor = Promise;
  const promiseThen = Promise.prototype.then;
  const maxOutputChars = config.maxOutputChars;
  const maxOutputsPerEvent = config.maxOutputsPerEvent;
  const maxOutputDepth = config.maxOutputDepth;
  const RangeErrorCtor = RangeError;

  const maxLogLines = config.maxLogLines;
  const maxLogChars = config.maxLogChars;
  const maxErrorChars = config.maxErrorChars;

  // Sandbox host processes start with --expose-gc so the runner can collect old batch strings.
  // V8 makes that global non-configurable, so it is emptied rather than deleted: user code sees
  // gc as undefined.
  const collectGarbage = typeof global.gc === 'function' ? global.gc : null;
  if (collectGarbage !== null) global.gc = undefined;
  let inputCharsSinceCollect = 0;

  // Shared memory, blocking waits and WebAssembly are not part of the transformation contract.
  for (const name of ['SharedArrayBuffer', 'Atomics', 'WebAssembly']) delete global[name];

  function truncate(text, max) {
    return text.length > max ? ReflectApply(stringSlice, text, [0, max]) + '…' : text;
  }

  function functionName(fn) {
    try {
      const name = fn.name;
      return typeof name === 'string' && name !== '' ? name : '(anonymous)';
    } catch (e) {
      return '(anonymous)';
    }
  }

  function isErrorLike(value) {
    try {
      return value instanceof ErrorCtor || (typeof value.message === 'string' && typeof value.name === 'string');
    } catch (e) {
      return false;
    }
  }

  // "Name: message", as String(error) prints it; never a stack (which could be long, and says nothing
  // the user's own line numbers do not).
  function describeError(error) {
    let name = 'Error';
    let message = '';
    try {
      if (typeof error.name === 'string' && error.name !== '') name = error.name;
      if (typeof error.message === 'string') message = error.message;
      else if (error.message !== undefined) message = StringCtor(error.message);
    } catch (e) {
      return 'Error';
    }
    return message === '' ? name : name + ': ' + message;
  }

  // console.log-like rendering: strings as they are, objects as JSON, errors as "Name: message".
  function describe(value) {
    try {
      switch (typeof value) {
        case 'string':
          return value;
        case 'undefined':
          return 'undefined';
        case 'bigint':
          return StringCtor(value) + 'n';
        case 'symbol':
          return ReflectApply(symbolToString, value, []);
        case 'function':
          return '[Function: ' + functionName(value) + ']';
        case 'object': {
          if (value === null) return 'null';
          if (isErrorLike(value)) return describeError(value);
          try {
            const json = JSONStringify(value);
            if (typeof json === 'string') return json;
          } catch (e) {
            // Cycles and BigInts fall through to the object's own string form.
          }
          return StringCtor(value);
        }
        default:
          return StringCtor(value);
      }
    } catch (e) {
      return '[unprintable]';
    }
  }

  function describeThrown(value) {
    if (value !== null && typeof value === 'object' && isErrorLike(value)) return truncate(describeError(value), maxErrorChars);
    return truncate(describe(value), maxErrorChars);
  }

  // What the user's code threw, with the frames of the user's own code beneath the message:
  // "TypeError: boom\n    at transformEvent (My transformation:3:11)". Frames of the runner and of
  // built-ins are left out; files are named after the transformation and its libraries.
  function describeUserThrow(value) {
    if (value === null || typeof value !== 'object' || !isErrorLike(value)) return truncate(describe(value), maxErrorChars);
    return truncate(describeError(value) + userFrames(value), maxErrorChars);
  }

  const TRANSFORMATION_FILE = 'file:///transformation.js:';
  const LIBRARY_FILE = 'file:///libraries/';
  const MAX_FRAMES = 10;

  function userFrames(error) {
    let stack;
    try {
      stack = error.stack;
    } catch (e) {
      return '';
    }
    if (typeof stack !== 'string') return '';
    const lines = ReflectApply(stringSplit, stack, ['\n']);
    let frames = '';
    let count = 0;
    for (let i = 1; i < lines.length && count < MAX_FRAMES; i++) {
      const frame = userFrame(lines[i]);
      if (frame !== null) {
        frames += '\n    at ' + frame;
        count++;
      }
    }
    return frames;
  }

  // One V8 frame ("    at fn (file:///x.js:3:7)" or "    at file:///x.js:3:7") in user terms, or null.
  function userFrame(line) {
    const at = ReflectApply(stringIndexOf, line, ['at ']);
    if (at < 0) return null;
    let text = ReflectApply(stringSlice, line, [at + 3]);
    let fn = null;
    if (text.length > 0 && text[text.length - 1] === ')') {
      const open = ReflectApply(stringLastIndexOf, text, [' (']);
      if (open < 0) return null;
      fn = ReflectApply(stringSlice, text, [0, open]);
      text = ReflectApply(stringSlice, text, [open + 2, text.length - 1]);
    }
    let place;
    if (ReflectApply(stringStartsWith, text, [TRANSFORMATION_FILE])) {
      place = nameOf(null) + ':' + ReflectApply(stringSlice, text, [TRANSFORMATION_FILE.length]);
    } else if (ReflectApply(stringStartsWith, text, [LIBRARY_FILE])) {
      const rest = ReflectApply(stringSlice, text, [LIBRARY_FILE.length]);
      const end = ReflectApply(stringIndexOf, rest, ['.js:']);
      if (end < 0) return null;
      let importName;
      try {
        importName = decodeURIComponentFn(ReflectApply(stringSlice, rest, [0, end]));
      } catch (e) {
        return null;
      }
      place = nameOf(importName) + ':' + ReflectApply(stringSlice, rest, [end + 4]);
    } else {
      return null;
    }
    return fn === null ? place : fn + ' (' + place + ')';
  }

  let runNamesJson = null;
  let runNames = null;

  // The transformation's name (importName null) or a library's, as the caller named them.
  function nameOf(importName) {
    if (runNames === null) {
      runNames = { transformation: 'transformation', libraries: ObjectCreate(null) };
      if (typeof runNamesJson === 'string') {
        try {
          const given = JSONParse(runNamesJson);
          if (typeof given.transformation === 'string') runNames.transformation = given.transformation;
          if (given.libraries !== null && typeof given.libraries === 'object') runNames.libraries = given.libraries;
        } catch (e) {
          // Defaults stand.
        }
      }
    }
    if (importName === null) return runNames.transformation;
    const name = ReflectApply(hasOwn, runNames.libraries, [importName]) ? runNames.libraries[importName] : undefined;
    return typeof name === 'string' ? name : importName;
  }

  function describeType(value) {
    if (value === null) return 'null';
    if (isArray(value)) return 'an array';
    const type = typeof value;
    return (type === 'object' || type === 'undefined' ? 'an ' : 'a ') + type;
  }

  // Per-run state; reset at the start of every batch.
  let capturing = false;
  let logText = '';
  let logLengths = '';
  let logCount = 0;
  let logChars = 0;
  let logsDropped = 0;

  function record(args) {
    if (!capturing) return;
    if (logCount >= maxLogLines || logChars >= maxLogChars) {
      logsDropped++;
      return;
    }
    let line = '';
    for (let i = 0; i < args.length; i++) {
      if (i > 0) line += ' ';
      line += describe(args[i]);
      if (line.length > maxLogChars) break;
    }
    line = truncate(line, maxLogChars - logChars);
    logText += line;
    logLengths += line.length + ',';
    logCount++;
    logChars += line.length;
  }

  const log = function log(...args) { record(args); };
  const consoleObject = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    defineProperty(consoleObject, level, { value: function (...args) { record(args); }, writable: true, configurable: true, enumerable: true });
  }

  let runEvents = null;
  let runMessageIds = null;
  let runMetadataJson = null;
  let metadataByEvent = null;
  let metadataByMessageId = null;

  function indexMetadata() {
    let list = null;
    if (typeof runMetadataJson === 'string') {
      list = JSONParse(runMetadataJson);
      if (!isArray(list)) list = null;
    }
    metadataByEvent = new WeakMapCtor();
    metadataByMessageId = new MapCtor();
    for (let i = 0; i < runEvents.length; i++) {
      let entry = list === null ? undefined : list[i];
      if (entry === undefined || entry === null) entry = {};
      const event = runEvents[i];
      if (event !== null && typeof event === 'object') ReflectApply(weakMapSet, metadataByEvent, [event, entry]);
      const id = runMessageIds[i];
      if (id !== undefined && !ReflectApply(mapHas, metadataByMessageId, [id])) ReflectApply(mapSet, metadataByMessageId, [id, entry]);
    }
  }

  function messageIdOf(event) {
    try {
      const id = event.messageId;
      return typeof id === 'string' || typeof id === 'number' ? id : undefined;
    } catch (e) {
      return undefined;
    }
  }

  // The metadata the caller sent with an input event. Events the code built itself match an input
  // by messageId (as RudderStack does); anything else gets {}.
  const metadata = function metadata(event) {
    if (runEvents === null) return {};
    if (metadataByEvent === null) indexMetadata();
    if (event !== null && typeof event === 'object') {
      const byIdentity = ReflectApply(weakMapGet, metadataByEvent, [event]);
      if (byIdentity !== undefined) return byIdentity;
      const id = messageIdOf(event);
      if (id !== undefined && ReflectApply(mapHas, metadataByMessageId, [id])) return ReflectApply(mapGet, metadataByMessageId, [id]);
    }
    return {};
  };

  // Capabilities (spec 7.5). getCredential reads the batch's credentials, parsed on first use.
  // fetch, fetchV2 and geolocation go through the door to the host, which answers one string:
  // 'o' + answer or 'e' + a message (see host/capabilities.ts). Outside a batch they refuse at once.
  let runCredentialsJson = null;
  let runCredentials = null;
  let batchActive = false;
  // Refused here, before anything crosses to the host (which checks them again).
  const MAX_URL_CHARS = 16384;
  const MAX_HEADERS = 100;
  const MAX_HEADER_CHARS = 65536;
  const MAX_IP_CHARS = 64;

  const getCredential = function getCredential(key) {
    if (key === null || key === undefined) throw new TypeErrorCtor('Key should be valid and defined');
    if (!batchActive || typeof runCredentialsJson !== 'string') return undefined;
    if (runCredentials === null) {
      runCredentials = JSONParse(runCredentialsJson);
      if (runCredentials === null || typeof runCredentials !== 'object') runCredentials = ObjectCreate(null);
    }
    const name = typeof key === 'string' ? key : StringCtor(key);
    return ReflectApply(hasOwn, runCredentials, [name]) ? runCredentials[name] : undefined;
  };

  // The answer reaches the code only while the batch that asked is still running. isolated-vm
  // delivers a host answer as a task of its own, which can come after the batch ended; user code
  // woken then would run outside every limit, so a late answer is dropped and the code's promise
  // stays pending (the host aborted the call anyway).
  let batchSerial = 0;
  let callsThisBatch = 0;

  function callHost(op, payload) {
    if (!batchActive) return pin(ReflectApply(promiseResolve, PromiseCtor, ['e' + op + ' can only be called while a batch runs, not from top-level module code']));
    if (callsThisBatch >= config.maxOutboundCalls) {
      return pin(ReflectApply(promiseResolve, PromiseCtor, ['emore than ' + config.maxOutboundCalls + ' outbound calls in one batch; the operator sets this limit (TILLER_OUTBOUND_MAX_CALLS_PER_BATCH)']));
    }
    callsThisBatch++;
    const serial = batchSerial;
    return pin(
      new PromiseCtor((resolve) => {
        const current = () => batchActive && serial === batchSerial;
        whenSettled(
          ReflectApply(doorApply, door, [undefined, [op, payload], doorOptions]),
          (answer) => {
            if (current()) resolve(typeof answer === 'string' ? answer : 'ethe call failed');
          },
          () => {
            if (current()) resolve('ethe call failed');
          },
        );
      }),
    );
  }

  // The request as JSON of null-prototype objects (so a patched Object.prototype.toJSON cannot
  // change it), or an Error naming what is wrong. The host checks it again.
  function outboundRequest(url, init) {
    if (typeof url !== 'string') return new TypeErrorCtor('fetch url must be a string');
    if (url.length > MAX_URL_CHARS) return new TypeErrorCtor('fetch url is longer than ' + MAX_URL_CHARS + ' characters');
    const request = ObjectCreate(null);
    request.url = url;
    if (init !== undefined && init !== null) {
      if (typeof init !== 'object') return new TypeErrorCtor('fetch options must be an object');
      try {
        const method = init.method;
        if (method !== undefined) request.method = StringCtor(method);
        const headers = init.headers;
        if (headers !== undefined && headers !== null) {
          if (typeof headers !== 'object') return new TypeErrorCtor('fetch headers must be an object');
          const copy = ObjectCreate(null);
          const names = ObjectKeys(headers);
          if (names.length > MAX_HEADERS) return new TypeErrorCtor('fetch takes at most ' + MAX_HEADERS + ' headers');
          let headerChars = 0;
          for (let i = 0; i < names.length; i++) {
            const value = StringCtor(headers[names[i]]);
            headerChars += names[i].length + value.length;
            if (headerChars > MAX_HEADER_CHARS) return new TypeErrorCtor('fetch headers are longer than ' + MAX_HEADER_CHARS + ' characters in all');
            copy[names[i]] = value;
          }
          request.headers = copy;
        }
        const body = init.body;
        if (body !== undefined && body !== null) {
          if (typeof body !== 'string') return new TypeErrorCtor('fetch body must be a string; JSON.stringify an object first');
          if (body.length > config.maxRequestChars) return new TypeErrorCtor('fetch body is larger than ' + config.maxRequestChars + ' characters');
          request.body = body;
        }
      } catch (error) {
        return new TypeErrorCtor('fetch options could not be read: ' + describeThrown(error));
      }
    }
    return JSONStringify(request);
  }

  function parseBody(text) {
    try {
      return JSONParse(text);
    } catch (e) {
      return text;
    }
  }

  function headOf(answer) {
    const newline = ReflectApply(stringIndexOf, answer, ['\n']);
    return { head: JSONParse(ReflectApply(stringSlice, answer, [1, newline])), body: ReflectApply(stringSlice, answer, [newline + 1]) };
  }

  // RudderStack's fetch: the body parsed as JSON when it parses, else its text; "ERROR" on any failure, never a rejection.
  const fetch = function fetch(url, init) {
    const request = outboundRequest(url, init);
    if (typeof request !== 'string') return ReflectApply(promiseResolve, PromiseCtor, ['ERROR']);
    return ReflectApply(promiseThen, callHost('fetch', request), [
      (answer) => (answer[0] === 'o' ? parseBody(headOf(answer).body) : 'ERROR'),
      () => 'ERROR',
    ]);
  };

  // RudderStack's fetchV2: { status, url, headers, body }; rejects with an Error saying why the call failed.
  const fetchV2 = function fetchV2(url, init) {
    const request = outboundRequest(url, init);
    if (typeof request !== 'string') return ReflectApply(promiseReject, PromiseCtor, [request]);
    return ReflectApply(promiseThen, callHost('fetchV2', request), [
      (answer) => {
        if (answer[0] !== 'o') throw new ErrorCtor(ReflectApply(stringSlice, answer, [1]));
        const parts = headOf(answer);
        return { status: parts.head.status, url: parts.head.url, headers: parts.head.headers, body: parseBody(parts.body) };
      },
    ]);
  };

  // Location data for an IP address from the operator's MaxMind database (null when it has none).
  const geolocation = function geolocation(ip) {
    if (typeof ip !== 'string') return ReflectApply(promiseReject, PromiseCtor, [new TypeErrorCtor('geolocation needs an IP address string, got ' + describeType(ip))]);
    if (ip.length > MAX_IP_CHARS) return ReflectApply(promiseReject, PromiseCtor, [new TypeErrorCtor('invalid ip address: longer than ' + MAX_IP_CHARS + ' characters')]);
    return ReflectApply(promiseThen, callHost('geolocation', ip), [
      (answer) => {
        if (answer[0] !== 'o') throw new ErrorCtor(ReflectApply(stringSlice, answer, [1]));
        return JSONParse(ReflectApply(stringSlice, answer, [1]));
      },
    ]);
  };

  for (const [name, value] of [['log', log], ['console', consoleObject], ['metadata', metadata], ['getCredential', getCredential], ['fetch', fetch], ['fetchV2', fetchV2], ['geolocation', geolocation]]) {
    defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
  }

  function isThenable(value) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
    return typeof value.then === 'function';
  }

  function isEventObject(value) {
    return value !== null && typeof value === 'object' && !isArray(value);
  }

  // JSON text of an output event, or null when it does not serialize to a JSON object.
  function outputJson(value) {
    const json = JSONStringify(value);
    if (typeof json !== 'string' || ReflectApply(stringCharCodeAt, json, [0]) !== 123) return null;
    if (json.length > 2 * maxOutputDepth && jsonDepthExceeds(json, maxOutputDepth)) {
      throw new RangeErrorCtor('it nests deeper than the limit of ' + maxOutputDepth + ' levels');
    }
    return json;
  }

  // Whether JSON text nests deeper than max. Only text longer than 2 * max can, so short outputs
  // are never scanned. The same rule as contract.ts's; readers such as Go's encoding/json stop at 10,000.
  function jsonDepthExceeds(json, max) {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < json.length; i++) {
      const c = ReflectApply(stringCharCodeAt, json, [i]);
      if (inString) {
        if (c === 92) i++;
        else if (c === 34) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 123 || c === 91) {
        if (++depth > max) return true;
      } else if (c === 125 || c === 93) depth--;
    }
    return false;
  }

  // Our own promises never meet Promise.prototype: see the header of this file.
  function pin(promise) {
    defineProperty(promise, 'constructor', { value: undefined, writable: false, configurable: false, enumerable: false });
    return promise;
  }

  function whenSettled(promise, onFulfilled, onRejected) {
    ReflectApply(promiseThen, pin(promise), [onFulfilled, onRejected]);
  }

  function outputTooLarge() {
    return finish(4, '-1,400,' + config.outputSizeMessage.length + ',', config.outputSizeMessage);
  }

  function tooManyOutputs() {
    return finish(4, '-1,400,' + config.outputCountMessage.length + ',', config.outputCountMessage);
  }

  function finish(kind, header, body) {
    const full = kind + ',' + logCount + ',' + logsDropped + ',' + logLengths + header;
    return full.length + ':' + full + logText + body;
  }

  function failBatch(kind, message) {
    return finish(kind, '-1,400,' + message.length + ',', message);
  }

  // Calls transformEvent on every event before any result is awaited, as with Promise.all.
  // Returns whether some call returned a promise. Kept apart from the async part so the common
  // synchronous case runs as plain optimized code.
  function startEvents(transformEvent, events, values, threw) {
    let pending = false;
    for (let i = 0; i < events.length; i++) {
      try {
        const value = transformEvent(events[i], metadata);
        values[i] = value;
        if (value !== null && (typeof value === 'object' || typeof value === 'function') && !isArray(value) && typeof value.then === 'function') pending = true;
      } catch (error) {
        values[i] = error;
        threw[i] = 1;
      }
    }
    return pending;
  }

  // Awaits pending results in input order (they all run concurrently already), then encodes.
  // 'await' rather than .then(): it cannot be redirected by a module that patches Promise.prototype.
  async function settleEvents(values, threw) {
    for (let i = 0; i < values.length; i++) {
      if (threw[i] === 1) continue;
      try {
        if (isThenable(values[i])) values[i] = await values[i];
      } catch (error) {
        values[i] = error;
        threw[i] = 1;
      }
    }
    return encodeEvents(values, threw);
  }

  function runEventMode(transformEvent, events) {
    const count = events.length;
    const values = new ArrayCtor(count);
    const threw = new Uint8ArrayCtor(count);
    if (startEvents(transformEvent, events, values, threw)) return settleEvents(values, threw);
    return encodeEvents(values, threw);
  }

  function encodeEvents(values, threw) {
    const count = values.length;
    let header = '';
    let body = '';
    for (let i = 0; i < count; i++) {
      const value = values[i];
      let failure = null;
      // A value that throws when read (a revoked Proxy, a throwing getter) fails its own event.
      try {
        if (threw[i] === 1) {
          failure = describeUserThrow(value);
        } else if (value === null || value === undefined) {
          header += i + ',204,0,';
          continue;
        } else if (isArray(value)) {
          if (value.length === 0) {
            header += i + ',204,0,';
            continue;
          }
          if (value.length > maxOutputsPerEvent) return tooManyOutputs();
          let fanHeader = '';
          let fanBody = '';
          for (let j = 0; j < value.length; j++) {
            const element = value[j];
            if (!isEventObject(element)) {
              failure = 'transformEvent returned an array whose element ' + j + ' is ' + describeType(element) + '; every element must be an object';
              break;
            }
            let json;
            try {
              json = outputJson(element);
            } catch (error) {
              failure = 'output event ' + j + ' is not serializable as JSON: ' + describeThrown(error);
              break;
            }
            if (json === null) {
              failure = 'output event ' + j + ' does not serialize to a JSON object';
              break;
            }
            fanHeader += i + ',200,' + json.length + ',';
            fanBody += json;
            if (body.length + fanBody.length > maxOutputChars) return outputTooLarge();
          }
          if (failure === null) {
            header += fanHeader;
            body += fanBody;
            continue;
          }
        } else if (typeof value === 'object') {
          let json = null;
          try {
            json = outputJson(value);
            if (json === null) failure = 'output event does not serialize to a JSON object';
          } catch (error) {
            failure = 'output event is not serializable as JSON: ' + describeThrown(error);
          }
          if (failure === null) {
            header += i + ',200,' + json.length + ',';
            body += json;
            if (body.length > maxOutputChars) return outputTooLarge();
            continue;
          }
        } else {
          failure = 'transformEvent returned ' + describeType(value) + '; expected an object, an array of objects, null or undefined';
        }
      } catch (error) {
        failure = 'transformEvent returned a value that could not be read: ' + describeThrown(error);
      }
      failure = truncate(failure, maxErrorChars);
      header += i + ',400,' + failure.length + ',';
      body += failure;
    }
    return finish(0, header, body);
  }

  function runBatchMode(transformBatch, events) {
    let output;
    try {
      output = transformBatch(events, metadata);
      if (isThenable(output)) return settleBatch(output, events);
    } catch (error) {
      return failBatch(2, describeUserThrow(error));
    }
    return encodeBatch(output, events);
  }

  async function settleBatch(pending, events) {
    let output;
    try {
      output = await pending;
    } catch (error) {
      return failBatch(2, describeUserThrow(error));
    }
    return encodeBatch(output, events);
  }

  function encodeBatch(output, events) {
    if (!isArray(output)) {
      return failBatch(3, 'transformBatch returned ' + describeType(output) + '; expected an array of objects');
    }
    if (output.length > maxOutputsPerEvent * (events.length > 0 ? events.length : 1)) return tooManyOutputs();
    // An output traces back to its input by identity, else by messageId, else by its position.
    let inputIndex = null;
    let messageIdIndex = null;
    const indexOf = (value, position) => {
      if (position < events.length && events[position] === value) return position;
      if (inputIndex === null) {
        inputIndex = new MapCtor();
        for (let i = 0; i < events.length; i++) {
          if (!ReflectApply(mapHas, inputIndex, [events[i]])) ReflectApply(mapSet, inputIndex, [events[i], i]);
        }
      }
      const byIdentity = ReflectApply(mapGet, inputIndex, [value]);
      if (byIdentity !== undefined) return byIdentity;
      const id = messageIdOf(value);
      if (id !== undefined) {
        if (messageIdIndex === null) {
          messageIdIndex = new MapCtor();
          for (let i = 0; i < runMessageIds.length; i++) {
            const inputId = runMessageIds[i];
            if (inputId !== undefined && !ReflectApply(mapHas, messageIdIndex, [inputId])) ReflectApply(mapSet, messageIdIndex, [inputId, i]);
          }
        }
        const byMessageId = ReflectApply(mapGet, messageIdIndex, [id]);
        if (byMessageId !== undefined) return byMessageId;
      }
      return position;
    };
    let header = '';
    let body = '';
    for (let j = 0; j < output.length; j++) {
      const element = output[j];
      let failure = null;
      let json = null;
      if (!isEventObject(element)) {
        failure = 'transformBatch returned an array whose element ' + j + ' is ' + describeType(element) + '; every element must be an object';
      } else {
        try {
          json = outputJson(element);
          if (json === null) failure = 'output event ' + j + ' does not serialize to a JSON object';
        } catch (error) {
          failure = 'output event ' + j + ' is not serializable as JSON: ' + describeThrown(error);
        }
      }
      if (failure === null) {
        header += indexOf(element, j) + ',200,' + json.length + ',';
        body += json;
        if (body.length > maxOutputChars) return outputTooLarge();
      } else {
        failure = truncate(failure, maxErrorChars);
        header += j + ',400,' + failure.length + ',';
        body += failure;
      }
    }
    return finish(1, header, body);
  }

  function readExport(namespace, name) {
    try {
      return namespace[name];
    } catch (error) {
      throw new ErrorCtor(${JSON.stringify(ENTRY_ERROR_PREFIX)} + name + ' is not initialized when the module finishes loading (' + describeThrown(error) + ')');
    }
  }

  return function createRunner(namespace) {
    const transformEvent = readExport(namespace, 'transformEvent');
    const transformBatch = readExport(namespace, 'transformBatch');
    const hasEvent = typeof transformEvent === 'function';
    const hasBatch = typeof transformBatch === 'function';
    if (hasEvent && hasBatch) {
      throw new ErrorCtor(${JSON.stringify(ENTRY_ERROR_PREFIX)} + 'the module exports both transformEvent and transformBatch; export exactly one');
    }
    if (!hasEvent && !hasBatch) {
      throw new ErrorCtor(${JSON.stringify(ENTRY_ERROR_PREFIX)} + 'the module must export a function named transformEvent or transformBatch');
    }
    // isolated-vm fails a call that leaves an unhandled promise rejection behind, even when the
    // batch itself finished; the host then collects the finished output with runBatch(null).
    let lastOutput;

    function begin(eventsJson, metadataJson, captureLogs, credentialsJson, namesJson) {
      lastOutput = undefined;
      inputCharsSinceCollect += eventsJson.length + (metadataJson === null ? 0 : metadataJson.length);
      if (collectGarbage !== null && inputCharsSinceCollect > config.collectAfterInputChars) {
        inputCharsSinceCollect = 0;
        collectGarbage();
      }
      capturing = captureLogs === true;
      logText = '';
      logLengths = '';
      logCount = 0;
      logChars = 0;
      logsDropped = 0;
      const events = JSONParse(eventsJson);
      const messageIds = new ArrayCtor(events.length);
      for (let i = 0; i < events.length; i++) {
        const event = events[i];
        messageIds[i] = event !== null && typeof event === 'object' ? messageIdOf(event) : undefined;
      }
      runEvents = events;
      runMessageIds = messageIds;
      runMetadataJson = metadataJson;
      metadataByEvent = null;
      metadataByMessageId = null;
      runCredentialsJson = credentialsJson;
      runCredentials = null;
      runNamesJson = namesJson;
      runNames = null;
      batchActive = true;
      batchSerial++;
      callsThisBatch = 0;
      return events;
    }

    function end() {
      runEvents = null;
      runMessageIds = null;
      runMetadataJson = null;
      metadataByEvent = null;
      metadataByMessageId = null;
      capturing = false;
      runCredentialsJson = null;
      runCredentials = null;
      batchActive = false;
    }

    // Answers the encoded string at once when the code ran synchronously, else a promise of it.
    return function runBatch(eventsJson, metadataJson, captureLogs, credentialsJson, namesJson) {
      if (eventsJson === null) {
        const output = lastOutput;
        lastOutput = undefined;
        return output;
      }
      let result;
      try {
        const events = begin(eventsJson, metadataJson, captureLogs, credentialsJson, namesJson);
        result = hasEvent ? runEventMode(transformEvent, events) : runBatchMode(transformBatch, events);
      } catch (error) {
        end();
        throw error;
      }
      if (typeof result === 'string') {
        end();
        lastOutput = result;
        return result;
      }
      // result is a promise of one of the async functions above, which settle with a string.
      return pin(
        new PromiseCtor((resolve, reject) => {
          whenSettled(
            result,
            (text) => {
              end();
              lastOutput = text;
              resolve(typeof text === 'string' ? text : undefined);
            },
            (error) => {
              end();
              reject(error);
            },
          );
        }),
      );
    };
  };
})
`;
