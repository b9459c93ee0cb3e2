import { CopyButton } from '../../components/CopyButton.js';

// A transformation's "Use it" tab: what a self-hoster needs to run it from rudder-server with
// Tiller as the config backend: its ids, where it is connected, and the settings lines of the
// README's "Use Tiller with a self-hosted rudder-server". The workspace token stays a placeholder:
// the dashboard never shows the real one.

interface ConnectedDestination {
  id: string;
  name?: string;
  enabled?: boolean;
}

function IdLine({ label, value }: { label: string; value: string }) {
  return (
    <div className="import-snippet">
      <span style={{ minWidth: '12em' }}>{label}</span>
      <code data-testid={`use-${label.toLowerCase().replace(/\s+/g, '-')}`}>{value}</code>
      <CopyButton text={value} label={`Copy ${label.toLowerCase()}`} />
    </div>
  );
}

/** Settings lines to paste into another service's environment, with a button that copies them. */
function SettingsSnippet({ testId, text, copyLabel }: { testId: string; text: string; copyLabel: string }) {
  return (
    <div className="import-snippet">
      <pre className="code-sample" style={{ flex: 1 }} data-testid={testId}>
        {text}
      </pre>
      <CopyButton text={text} label={copyLabel} />
    </div>
  );
}

export function UseItPanel({ transformationId, publishedVersionId, destinations }: { transformationId: string; publishedVersionId: string | null | undefined; destinations: unknown[] | undefined }) {
  if (!publishedVersionId) {
    return <p className="muted">Publish a version first: rudder-server runs the published version of a transformation connected to a destination.</p>;
  }
  const origin = window.location.origin;
  const connected = (destinations ?? []) as ConnectedDestination[];
  const serverLines = [
    `CONFIG_BACKEND_URL=${origin}`,
    'WORKSPACE_TOKEN=<your workspace token>',
    'RSERVER_BACKEND_CONFIG_CONFIG_FROM_FILE=false',
    'USER_TRANSFORM_URL=<runtime URL>',
  ].join('\n');
  const transformerLine = 'CONFIG_BACKEND_URL=<runtime URL>';
  return (
    <div className="stack">
      <IdLine label="Transformation id" value={transformationId} />
      <IdLine label="Published version id" value={publishedVersionId} />
      <h3>Connected destinations</h3>
      {connected.length === 0 ? (
        <p className="muted">None yet: connect it to a destination in the Destinations tab, and rudder-server runs it there from its next poll.</p>
      ) : (
        <ul aria-label="Connected destinations">
          {connected.map((destination) => (
            <li key={destination.id}>
              {destination.name ?? destination.id} <code className="small">{destination.id}</code>
              {destination.enabled === false ? <span className="badge badge-warn"> disabled</span> : null}
            </li>
          ))}
        </ul>
      )}
      <h3>rudder-server settings</h3>
      <p className="small muted">
        In the backend service&apos;s environment (Helm: <code>backend.extraEnvVars</code>). The runtime URL is Tiller&apos;s runtime listener (TILLER_RUNTIME_PORT), or this URL
        when it has none; DEST_TRANSFORM_URL stays on rudder-transformer.
      </p>
      <SettingsSnippet testId="use-rudder-server" text={serverLines} copyLabel="Copy rudder-server settings" />
      <h3>Or keep rudder-transformer running user code</h3>
      <p className="small muted">Leave USER_TRANSFORM_URL on rudder-transformer and point its config backend at Tiller: it fetches each version&apos;s code by id.</p>
      <SettingsSnippet testId="use-rudder-transformer" text={transformerLine} copyLabel="Copy rudder-transformer setting" />
    </div>
  );
}
