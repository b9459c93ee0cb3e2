import type { Language } from './language.js';

// Realistic events in the RudderStack event spec, so a transformation can be tried before any
// real traffic reaches it.

const context = {
  app: { name: 'shop-web', version: '4.12.0' },
  library: { name: 'RudderLabs JavaScript SDK', version: '3.7.2' },
  locale: 'en-GB',
  ip: '203.0.113.24',
  userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  page: { path: '/checkout/complete', url: 'https://shop.example.com/checkout/complete', referrer: 'https://shop.example.com/cart' },
  traits: { email: 'ada@example.com' },
};

const trackOrderCompleted = {
  type: 'track',
  event: 'Order Completed',
  messageId: '5f0f4d59-1c1a-4a4a-9d3b-5fd1b2d1e6a1',
  anonymousId: '8d872292-709c-4b1d-9a3e-6f0a1a2b3c4d',
  userId: 'user_4821',
  channel: 'web',
  originalTimestamp: '2024-05-14T09:21:44.118Z',
  sentAt: '2024-05-14T09:21:44.310Z',
  timestamp: '2024-05-14T09:21:44.402Z',
  context,
  properties: {
    order_id: 'ORD-100482',
    revenue: 114.97,
    tax: 19.16,
    shipping: 4.99,
    currency: 'EUR',
    coupon: 'SPRING10',
    products: [
      { product_id: 'SKU-2231', name: 'Ceramic pour-over', price: 34.99, quantity: 1, category: 'Kitchen' },
      { product_id: 'SKU-1874', name: 'Single-origin beans 1 kg', price: 39.99, quantity: 2, category: 'Coffee' },
    ],
  },
};

const identifyUser = {
  type: 'identify',
  messageId: 'b8a1e3f0-3c55-4f55-8f0e-2f2a9d4c7e11',
  anonymousId: '8d872292-709c-4b1d-9a3e-6f0a1a2b3c4d',
  userId: 'user_4821',
  channel: 'web',
  originalTimestamp: '2024-05-14T09:18:02.551Z',
  sentAt: '2024-05-14T09:18:02.700Z',
  timestamp: '2024-05-14T09:18:02.811Z',
  context: { ...context, page: { path: '/account', url: 'https://shop.example.com/account' } },
  traits: {
    email: 'ada@example.com',
    firstName: 'Ada',
    lastName: 'Lovelace',
    plan: 'pro',
    phone: '+44 20 7946 0958',
    createdAt: '2023-11-02T15:04:05.000Z',
  },
};

const pageView = {
  type: 'page',
  name: 'Pricing',
  category: 'Marketing',
  messageId: '0e5b7a2d-9a61-47a9-8b0e-51c64b7d3a90',
  anonymousId: 'c2f7a9de-1b5e-4b0a-8a7d-3e9b1f6c2a55',
  channel: 'web',
  originalTimestamp: '2024-05-14T08:59:11.002Z',
  sentAt: '2024-05-14T08:59:11.150Z',
  timestamp: '2024-05-14T08:59:11.233Z',
  context: {
    ...context,
    traits: {},
    page: { path: '/pricing', url: 'https://shop.example.com/pricing?utm_source=newsletter&utm_medium=email', referrer: 'https://mail.example.org/' },
    campaign: { source: 'newsletter', medium: 'email', name: 'may-launch' },
  },
  properties: {
    title: 'Pricing · Shop',
    path: '/pricing',
    url: 'https://shop.example.com/pricing?utm_source=newsletter&utm_medium=email',
    referrer: 'https://mail.example.org/',
  },
};

export interface SampleSet {
  id: string;
  label: string;
  events: unknown[];
}

export const samples: SampleSet[] = [
  { id: 'track', label: 'Track: Order Completed', events: [trackOrderCompleted] },
  { id: 'identify', label: 'Identify: a signed-up user', events: [identifyUser] },
  { id: 'page', label: 'Page: pricing page view', events: [pageView] },
  { id: 'all', label: 'All three (a small batch)', events: [identifyUser, pageView, trackOrderCompleted] },
];

export const defaultTransformationCode = `// Runs once per event. Return the event (changed or not) to keep it,
// an array to fan it out, or null to drop it.
export function transformEvent(event, metadata) {
  if (event.type === "track" && event.properties) {
    event.properties.revenue_cents = Math.round((event.properties.revenue ?? 0) * 100);
  }
  return event;
}
`;

export const defaultLibraryCode = `// Export functions here and import them from a transformation by this library's import name.
export function toCents(amount) {
  return Math.round(Number(amount ?? 0) * 100);
}
`;

export const pythonTransformationCode = `# Runs once per event. Return the event (changed or not) to keep it,
# a list to fan it out, or None to drop it.
def transformEvent(event, metadata):
    properties = event.get("properties")
    if event.get("type") == "track" and properties is not None:
        properties["revenue_cents"] = round((properties.get("revenue") or 0) * 100)
    return event
`;

export const pythonLibraryCode = `# Define functions here and import them from a transformation by this library's import name,
# for example: from priceTools import to_cents
def to_cents(amount):
    return round(float(amount or 0) * 100)
`;

/** The code a new transformation or library starts with. */
export function sampleCode(kind: 'transformation' | 'library', language: Language): string {
  if (language === 'pythonfaas') return kind === 'transformation' ? pythonTransformationCode : pythonLibraryCode;
  return kind === 'transformation' ? defaultTransformationCode : defaultLibraryCode;
}

/** True while the code is still one of the starting samples, so switching language may replace it. */
export function isUntouchedSample(kind: 'transformation' | 'library', code: string): boolean {
  return code === sampleCode(kind, 'javascript') || code === sampleCode(kind, 'pythonfaas') || code.trim() === '';
}
