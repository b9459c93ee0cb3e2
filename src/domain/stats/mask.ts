// A failed event is kept so a developer can see what broke and replay it in the test panel; what
// it must never keep is a secret. Masked: values under keys that name a secret (password, token,
// apiKey, authorization, ...), and any string that is one of the run's credential values.

const SECRET_KEY = /pass(word|wd)?|secret|token|api[-_]?key|auth(orization)?|credential|private[-_]?key|cookie|session/i;
export const MASK = '[masked]';
/** Credential values shorter than this are too common as plain data ("1", "yes") to hunt for. */
const MIN_SECRET_CHARS = 6;
const MAX_DEPTH = 64;

export function maskedEventJson(event: unknown, secrets: readonly unknown[], maxChars: number): { json: string; truncated: boolean } {
  const hidden = secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_CHARS);
  const mask = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return hidden.some((secret) => value.includes(secret)) ? MASK : value;
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return MASK;
    if (Array.isArray(value)) return value.map((item) => mask(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      // Defined, not assigned: "__proto__" in an event is data like any other key.
      Object.defineProperty(out, key, { value: SECRET_KEY.test(key) && inner !== null && typeof inner !== 'object' ? MASK : mask(inner, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  let json: string;
  try {
    json = JSON.stringify(mask(event, 0)) ?? 'null';
  } catch {
    json = 'null';
  }
  return json.length > maxChars ? { json: json.slice(0, maxChars), truncated: true } : { json, truncated: false };
}
