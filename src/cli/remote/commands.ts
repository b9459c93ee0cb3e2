// The remote commands (src/cli/remote) talk to a server over HTTP. bin/tiller.mjs runs them without
// loading the server's modules; src/cli/main.ts hands them over when called directly.
export const REMOTE_COMMANDS: ReadonlySet<string> = new Set(['login', 'pull', 'push', 'test', 'publish', 'rollback', 'status', 'transformations', 'libraries', 'tokens']);
