import { Type } from '@sinclair/typebox';
import { DomainError, notFound } from '../../domain/errors.js';
import type { App } from '../app.js';
import { workspaceIdOf } from '../auth.js';
import { errors } from '../schemas.js';

// ext (spec section 8): the other calls rudder-server (and its regulation worker) makes to its
// config backend besides the poll and the transformation debugger (routes/live-events.ts).
//
// Source and destination live events are not kept by Tiller, and the served configuration turns
// their flags off (domain/workspace-config.ts), so rudder-server has no reason to send them. A
// rudder-server that still does (an older poll, a flag set by hand) gets a 501 naming the setting
// that stops it: its debugger uploader logs any answer other than 200 and moves on, retrying only
// when it cannot connect at all, so a clear refusal costs one log line and never a retry loop.

const DEBUGGER_UPLOADS = [
  { what: 'Source live events', paths: ['/dataplane/v2/eventUploads', '/dataplane/eventUploads'], setting: 'RSERVER_SOURCE_DEBUGGER_DISABLE_EVENT_UPLOADS=true' },
  {
    what: 'Destination live events',
    paths: ['/dataplane/v2/eventDeliveryStatus', '/dataplane/eventDeliveryStatus'],
    setting: 'RSERVER_DESTINATION_DEBUGGER_DISABLE_EVENT_DELIVERY_STATUS_UPLOADS=true',
  },
] as const;

/** Bounds what Tiller reads of a call it refuses anyway. */
const MAX_UPLOAD_BODY_BYTES = 1024 * 1024;

const Tags = ['rudder-server'];

export async function dataplaneRoutes(app: App): Promise<void> {
  for (const upload of DEBUGGER_UPLOADS) {
    for (const path of upload.paths) {
      app.post(
        path,
        {
          config: { auth: 'workspace' },
          bodyLimit: MAX_UPLOAD_BODY_BYTES,
          schema: {
            summary: `${upload.what} from rudder-server's debugger: not kept (ext)`,
            description: `Workspace token (Basic). Tiller keeps live events of transformations only (POST /dataplane/eventTransformStatus) and serves the flags that turn this upload on as false, so rudder-server does not send it. Answers 501 naming the rudder-server setting that stops it (${upload.setting}); rudder-server logs the answer and does not retry it.`,
            tags: Tags,
            body: Type.Unknown(),
            response: errors(400, 401, 413, 415, 429, 501),
          },
        },
        async () => {
          throw new DomainError('not_supported', 'not_supported', `${upload.what} are not kept by Tiller; set ${upload.setting} on rudder-server to stop sending them`);
        },
      );
    }
  }

  app.get(
    '/dataplane/workspaces/:workspaceId/regulations/workerJobs',
    {
      config: { auth: 'workspace' },
      schema: {
        summary: "Next regulation job for rudder-server's regulation worker: none (ext)",
        description:
          "Workspace token (Basic). Tiller holds no deletion regulations, so it answers 204, the worker's \"no runnable job\", and the worker polls again later. Another workspace's id answers 404.",
        tags: Tags,
        params: Type.Object({ workspaceId: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null({ description: 'No regulation job to run' }), ...errors(401, 404, 429) },
      },
    },
    async (request, reply) => {
      if (request.params.workspaceId !== workspaceIdOf(request)) throw notFound('Workspace');
      return reply.code(204).send(null);
    },
  );
}
