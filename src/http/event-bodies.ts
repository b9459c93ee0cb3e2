import type { App } from './app.js';

/**
 * Routes whose bodies carry analytics events parse JSON as JSON.parse does: a `__proto__` or
 * `constructor` key is an own, plain property, as rudder-transformer treats it. Any website
 * visitor can put such a key into an event, so refusing it (the API's parser does) would fail the
 * visitor's neighbours in the same batch. Nothing downstream merges event data into host objects:
 * events are only read field by field and serialized again.
 *
 * Call inside the route plugin: the parser applies to that plugin's routes only.
 */
export function parseEventBodies(app: App): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      // The same error the API's parser raises, so both answer with one envelope.
      done(Object.assign(new Error('request body is not valid JSON'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }), undefined);
    }
  });
}
