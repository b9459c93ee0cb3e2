// The Tiller server for the API benchmark, run from source in its own process so the load
// generator does not share its event loop:
//   node --no-node-snapshot --import tsx bench/api/serve.ts
// Settings come from the environment, as in production.
import { runCli } from '../../src/cli/main.js';

process.exitCode = await runCli(['serve']);
