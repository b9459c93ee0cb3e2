// Runs the `tiller` CLI from source in a child process, the way bin/tiller.mjs runs the built one:
//   node --no-node-snapshot --import tsx test/helpers/serve-entry.ts [command and flags]
// With no arguments it serves. Settings come from the environment (TILLER_PEPPER,
// TILLER_DATA_DIR, DATABASE_URL, PORT, ...), exactly as in production.
import { runCli } from '../../src/cli/main.js';

const args = process.argv.slice(2);
process.exitCode = await runCli(args.length > 0 ? args : ['serve']);
