// The test events and metadata typed into a transformation's Test tab, kept in this browser's
// localStorage per workspace and transformation so that they survive a reload. They hold only
// what the user typed there (never a token), and nothing is sent anywhere until a test runs.

export interface TestInput {
  events: string;
  metadata: string;
}

/** Past this size a test input is not kept (localStorage holds a few megabytes per site). */
const MAX_STORED_CHARS = 200_000;

export function testInputKey(workspaceId: string, transformationId: string): string {
  return `tiller.test-input.${workspaceId}.${transformationId}`;
}

export function loadTestInput(key: string | null): TestInput | null {
  if (!key) return null;
  try {
    const parsed = JSON.parse(window.localStorage.getItem(key) ?? 'null') as Partial<TestInput> | null;
    if (!parsed || typeof parsed.events !== 'string') return null;
    return { events: parsed.events, metadata: typeof parsed.metadata === 'string' ? parsed.metadata : '' };
  } catch {
    return null;
  }
}

export function saveTestInput(key: string | null, input: TestInput): void {
  if (!key) return;
  try {
    const text = JSON.stringify(input);
    if (text.length > MAX_STORED_CHARS) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, text);
  } catch {
    // Storage disabled or full: the input then lasts until the page is left.
  }
}
