import type { App } from './app.js';

/**
 * Installs Tiller's one JSON body parser in `app`'s context: Fastify's own, where an empty body
 * counts as no body (copied curl commands send Content-Type on GET and DELETE). `prototypeKeys`
 * says what a `__proto__` or `constructor.prototype` key does: fail the request ('error', the API's
 * own bodies) or stay a plain own property, as JSON.parse makes it ('ignore', see parseEventBodies).
 */
export function addJsonBodyParser(app: App, prototypeKeys: 'error' | 'ignore'): void {
  const parseJson = app.getDefaultJsonParser(prototypeKeys, prototypeKeys);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    parseJson(request, body as string, done);
  });
}

/**
 * Routes whose bodies carry analytics events keep `__proto__` and `constructor` keys as plain
 * data, as rudder-transformer treats them. Any website visitor can put such a key into an event,
 * so refusing it (the API's parser does) would fail the visitor's neighbours in the same batch.
 * Nothing downstream merges event data into host objects: events are only read field by field and
 * serialized again.
 *
 * Call inside the route plugin: the parser applies to that plugin's routes only.
 */
export function parseEventBodies(app: App): void {
  app.removeContentTypeParser('application/json');
  addJsonBodyParser(app, 'ignore');
}
