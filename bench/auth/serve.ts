// The Tiller server for the auth benchmark, run from source in its own process:
//   node --no-node-snapshot --import tsx bench/auth/serve.ts
// Settings come from the environment, as in production.
import { runCli } from '../../src/cli/main.js';

process.exitCode = await runCli(['serve']);
