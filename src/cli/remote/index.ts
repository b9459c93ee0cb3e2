// The remote commands: `tiller login|pull|push|test|publish|rollback|status|transformations|
// libraries|tokens`, a client of a Tiller server's HTTP API (README, "Transformations in git").
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import yoctoSpinner from 'yocto-spinner';
import { ApiError, accessClient, workspaceClient, type GlobalOptions, type RemoteLibrary, type RemoteTransformation } from './client.js';
import { CliError, EXIT, inputError, usageError } from './errors.js';
import { listLibraries, listTransformations, publish, pull, push, rollback, runTests, status, type Progress, type PushedItem } from './operations.js';
import { loadProject } from './project.js';
import { writeProfile } from './profile.js';

const out = (text: string) => process.stdout.write(text + '\n');
const json = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + '\n');
const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

/**
 * Runs a long step with a spinner on stderr, for a person at a terminal only: never with --json,
 * when stderr is not a terminal, or in CI, so scripts and logs see nothing of it.
 */
async function withProgress<T>(opts: GlobalOptions, work: (progress: Progress) => Promise<T>): Promise<T> {
  if (opts.json || !process.stderr.isTTY || process.env.CI !== undefined) return work(() => {});
  const spinner = yoctoSpinner({ stream: process.stderr, handleSignals: false });
  try {
    return await work((step) => {
      if (spinner.isSpinning) spinner.text = step;
      else spinner.start(step);
    });
  } finally {
    spinner.stop();
  }
}

function pushLine(item: PushedItem): string {
  const word = item.action.padEnd(10);
  const mark = item.action === 'unchanged' ? pc.dim(word) : item.action === 'created' ? pc.green(word) : pc.yellow(word);
  return `${mark} ${item.kind} "${item.name}" (${item.id}) version ${item.versionId}`;
}

interface TokenEntry {
  id: string;
  name: string;
  description: string;
  hint: string;
  scopes: string[];
  status: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

function build(setExit: (code: number) => void): Command {
  const program = new Command('tiller');
  program
    .description('Remote commands: manage the transformations of a Tiller server from a directory kept in git.')
    .option('--url <url>', 'Tiller server base URL (env TILLER_URL; else the saved login)')
    .option('--token <token>', 'access token (env TILLER_TOKEN; else the saved login)')
    .option('--workspace-token <token>', 'workspace token, for "tokens" (env TILLER_WORKSPACE_TOKEN)')
    .option('--json', 'print machine-readable JSON on stdout')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`tiller: ${s.replace(/^error: /, '')}`),
    })
    .addHelpText('after', '\nExit codes: 0 ok, 1 test or publish failure, 2 usage error, 3 connection or auth error, 4 input error (files, syntax, imports).\n');

  const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
  // Every command lists the connection options in its --help (the program parses them wherever they are).
  const leaf = (parent: Command, spec: string, workspace = false) => {
    const cmd = parent
      .command(spec)
      .option('--url <url>', 'Tiller server base URL (env TILLER_URL; else the saved login)')
      .option('--json', 'print machine-readable JSON on stdout');
    if (workspace) cmd.option('--workspace-token <token>', 'workspace token (env TILLER_WORKSPACE_TOKEN; else the saved login)');
    if (!workspace || spec === 'login') cmd.option('--token <token>', 'access token (env TILLER_TOKEN; else the saved login)');
    return cmd;
  };

  leaf(program, 'login', true)
    .description('check an access token against a server and save both in your config dir (file mode 0600)')
    .addHelpText('after', examples('tiller login --url https://tiller.example.com --token tlr_at_...', 'tiller login --url http://localhost:8080 --token "$TILLER_TOKEN" --workspace-token "$WS"'))
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const token = opts.token ?? process.env.TILLER_TOKEN;
      if (!token) throw usageError('login needs an access token: pass --token or set TILLER_TOKEN');
      if (!(opts.url ?? process.env.TILLER_URL)) throw usageError('login needs the server: pass --url or set TILLER_URL');
      const client = accessClient(opts);
      const self = await client.get<TokenEntry>('/accessTokens/self');
      let workspaceToken: string | undefined;
      if (opts.workspaceToken ?? process.env.TILLER_WORKSPACE_TOKEN) {
        const ws = workspaceClient(opts);
        await ws.get('/accessTokens');
        workspaceToken = opts.workspaceToken ?? process.env.TILLER_WORKSPACE_TOKEN;
      }
      const path = writeProfile({ url: client.url, token, ...(workspaceToken ? { workspaceToken } : {}) });
      if (opts.json) json({ url: client.url, tokenName: self.name, hint: self.hint, scopes: self.scopes, profile: path, workspaceToken: workspaceToken !== undefined });
      else out(`Logged in to ${client.url} with access token "${self.name}" (${self.hint}, scopes ${self.scopes.join(', ')}).\nSaved to ${path}.`);
    });

  leaf(program, 'pull [dir]')
    .description('write the server\'s transformations and libraries into dir (tiller.yaml + one .js file each)')
    .addHelpText('after', examples('tiller pull', 'tiller pull ./transformations --json'))
    .action(async (dir: string | undefined, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const result = await withProgress(opts, (progress) => pull(accessClient(opts), dir, progress));
      if (opts.json) json(result);
      else out(`Wrote ${result.transformations.length} transformation(s) and ${result.libraries.length} librar${result.libraries.length === 1 ? 'y' : 'ies'} and ${result.manifest}.`);
    });

  leaf(program, 'push [dir]')
    .description('save local code as new versions (libraries first); the server compiles every file before anything is saved; unchanged code makes no version; nothing is published')
    .addHelpText('after', examples('tiller push', 'TILLER_URL=https://tiller.example.com TILLER_TOKEN=tlr_at_... tiller push ./project'))
    .action(async (dir: string | undefined, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const result = await withProgress(opts, (progress) => push(accessClient(opts), loadProject(dir), progress));
      if (opts.json) json(result);
      else for (const item of [...result.libraries, ...result.transformations]) out(pushLine(item));
    });

  leaf(program, 'test [dir]')
    .description('run each transformation that has testEvents, with the local code of it and of every library (nothing is saved), and compare with expectedOutput')
    .addHelpText('after', examples('tiller test', 'tiller test ./project --json'))
    .action(async (dir: string | undefined, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const report = await withProgress(opts, (progress) => runTests(accessClient(opts), loadProject(dir), progress));
      if (opts.json) json(report);
      else {
        if (report.tests.length === 0) out('No transformation in tiller.yaml has testEvents: nothing to test.');
        for (const t of report.tests) {
          out(`${t.pass ? pc.green('PASS') : pc.red('FAIL')} ${t.name} (${t.file})`);
          for (const e of t.errors) out(`  ${pc.red(e)}`);
          if (t.diff) out(t.diff.replace(/^/gm, '  '));
        }
        if (report.tests.length > 0) out(`${report.tests.filter((t) => t.pass).length} of ${report.tests.length} passed`);
      }
      if (!report.pass) setExit(EXIT.failed);
    });

  leaf(program, 'publish [dir]')
    .description('push, then publish every transformation and library of dir at once (all or nothing; test events run first)')
    .addHelpText('after', examples('tiller publish', 'npx tiller push && npx tiller test && npx tiller publish'))
    .action(async (dir: string | undefined, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const result = await withProgress(opts, (progress) => publish(accessClient(opts), loadProject(dir), progress));
      if (opts.json) json(result);
      else {
        for (const item of [...result.push.libraries, ...result.push.transformations]) out(pushLine(item));
        out(result.published ? pc.green(`Published ${result.transformations.length} transformation(s) and ${result.libraries.length} librar${result.libraries.length === 1 ? 'y' : 'ies'}.`) : 'Nothing to publish.');
      }
    });

  leaf(program, 'rollback <transformationId> <versionId>')
    .description('publish an earlier version of a transformation again')
    .addHelpText('after', examples('tiller transformations versions tr_123   # find the version id', 'tiller rollback tr_123 ver_456'))
    .action(async (transformationId: string, versionId: string, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const version = await rollback(accessClient(opts), transformationId, versionId);
      if (opts.json) json({ published: true, transformationId, versionId, name: version.name });
      else out(`Transformation "${version.name}" (${transformationId}) now serves version ${versionId}.`);
    });

  leaf(program, 'status [dir]')
    .description('compare local code with the latest and published versions on the server')
    .addHelpText('after', examples('tiller status', 'tiller status ./project --json'))
    .action(async (dir: string | undefined, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const items = await status(accessClient(opts), loadProject(dir));
      if (opts.json) json({ items });
      else
        for (const i of items) {
          const colour = i.state === 'published' ? pc.green : i.state === 'not published' ? pc.yellow : pc.red;
          out(`${colour(i.state.padEnd(14))} ${i.kind} "${i.name}" (${i.file})${i.id ? ` ${i.id}` : ''}`);
        }
    });

  const transformations = program.command('transformations').description('list and inspect transformations on the server');
  leaf(transformations, 'list')
    .description('every transformation, at its latest version')
    .addHelpText('after', examples('tiller transformations list', 'tiller transformations list --json'))
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const list = await listTransformations(accessClient(opts));
      if (opts.json) json(list);
      else if (list.length === 0) out('No transformations.');
      else for (const t of list) out(`${t.id}  ${t.name}  latest ${t.versionId}  ${t.publishedVersionId ? `published ${t.publishedVersionId}` : pc.yellow('never published')}`);
    });
  leaf(transformations, 'get <id>')
    .description('one transformation at its latest version, with its code')
    .addHelpText('after', examples('tiller transformations get tr_123', 'tiller transformations get tr_123 --json'))
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const t = await getOrInput<RemoteTransformation>(accessClient(opts), `/transformations/${encodeURIComponent(id)}`, `transformation ${id}`);
      if (opts.json) json(t);
      else out(`${t.name} (${t.id})\nlatest version ${t.versionId}; published ${t.publishedVersionId ?? 'never'}\nimports: ${t.imports.join(', ') || 'none'}\n\n${t.code}`);
    });
  leaf(transformations, 'versions <id>')
    .description('versions of a transformation, newest first')
    .option('--count <n>', 'how many (default 20)', '20')
    .addHelpText('after', examples('tiller transformations versions tr_123', 'tiller transformations versions tr_123 --count 50 --json'))
    .action(async (id: string, cmdOpts: { count: string }, cmd: Command) => {
      const opts = g(cmd);
      const count = Number(cmdOpts.count);
      if (!Number.isInteger(count) || count < 1) throw usageError(`--count must be a positive integer, not "${cmdOpts.count}"`);
      const { TransformationVersions: versions } = await getOrInput<{ TransformationVersions: RemoteTransformation[] }>(accessClient(opts), `/transformations/${encodeURIComponent(id)}/versions?count=${count}&orderBy=desc`, `transformation ${id}`);
      if (opts.json) json(versions);
      else for (const v of versions) out(`${v.versionId}  ${v.createdAt}${v.isPublished ? pc.green('  published') : ''}`);
    });

  const libraries = program.command('libraries').description('list and inspect libraries on the server');
  leaf(libraries, 'list')
    .description('every library, at its latest version')
    .addHelpText('after', examples('tiller libraries list', 'tiller libraries list --json'))
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const list = await listLibraries(accessClient(opts));
      if (opts.json) json(list);
      else if (list.length === 0) out('No libraries.');
      else for (const l of list) out(`${l.id}  ${l.name}  import "${l.importName}"  latest ${l.versionId}  ${l.publishedVersionId ? `published ${l.publishedVersionId}` : pc.yellow('never published')}`);
    });
  leaf(libraries, 'get <id>')
    .description('one library at its latest version, with its code')
    .addHelpText('after', examples('tiller libraries get lib_123', 'tiller libraries get lib_123 --json'))
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const l = await getOrInput<RemoteLibrary>(accessClient(opts), `/libraries/${encodeURIComponent(id)}`, `library ${id}`);
      if (opts.json) json(l);
      else out(`${l.name} (${l.id}), import "${l.importName}"\nlatest version ${l.versionId}; published ${l.publishedVersionId ?? 'never'}\n\n${l.code}`);
    });

  const tokens = program.command('tokens').description('manage access tokens (needs the workspace token)');
  leaf(tokens, 'list', true)
    .description('the workspace\'s access tokens (never their secrets)')
    .addHelpText('after', examples('tiller tokens list --workspace-token "$WS"', 'TILLER_WORKSPACE_TOKEN=tlr_ws_... tiller tokens list --json'))
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      const list = await workspaceClient(opts).get<TokenEntry[]>('/accessTokens');
      if (opts.json) json(list);
      else if (list.length === 0) out('No access tokens.');
      else for (const t of list) out(`${t.id}  ${t.name}  ${t.hint}  ${t.scopes.join(',')}  ${t.status}${t.expiresAt ? `  expires ${t.expiresAt}` : ''}`);
    });
  leaf(tokens, 'create', true)
    .description('issue an access token; its secret is printed once')
    .requiredOption('--name <name>', 'token name')
    .option('--description <text>', 'description')
    .option('--scopes <list>', 'read, write or read,write (default both)')
    .option('--expires-in-days <n>', 'expiry in days')
    .addHelpText('after', examples('tiller tokens create --name ci --scopes read,write', 'tiller tokens create --name dashboards --scopes read --expires-in-days 90 --json'))
    .action(async (cmdOpts: { name: string; description?: string; scopes?: string; expiresInDays?: string }, cmd: Command) => {
      const opts = g(cmd);
      const body: Record<string, unknown> = { name: cmdOpts.name };
      if (cmdOpts.description !== undefined) body.description = cmdOpts.description;
      if (cmdOpts.scopes !== undefined) body.scopes = cmdOpts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
      if (cmdOpts.expiresInDays !== undefined) {
        const days = Number(cmdOpts.expiresInDays);
        if (!Number.isInteger(days) || days < 1) throw usageError(`--expires-in-days must be a positive integer, not "${cmdOpts.expiresInDays}"`);
        body.expiresInDays = days;
      }
      let answer: { data: { token: string; id: string; name: string; scopes: string[]; expiresAt: string | null } };
      try {
        answer = await workspaceClient(opts).post('/accessTokens', body);
      } catch (err) {
        if (err instanceof ApiError && err.status === 400) throw usageError(err.message);
        throw err;
      }
      if (opts.json) json(answer.data);
      else out(`Created access token "${answer.data.name}" (id ${answer.data.id}, scopes ${answer.data.scopes.join(', ')}).\nToken (shown only now): ${answer.data.token}`);
    });
  leaf(tokens, 'delete <id>', true)
    .description('revoke an access token (and the secrets of its rotation chain still in grace)')
    .addHelpText('after', examples('tiller tokens delete 0a1b2c3d', 'tiller tokens delete 0a1b2c3d --json'))
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = g(cmd);
      await getOrInput(workspaceClient(opts), `/accessTokens/${encodeURIComponent(id)}`, `access token ${id}`, 'DELETE');
      if (opts.json) json({ deleted: true, id });
      else out(`Revoked access token ${id}.`);
    });

  return program;
}

async function getOrInput<T>(client: ReturnType<typeof accessClient>, path: string, what: string, method = 'GET'): Promise<T> {
  try {
    return await client.request<T>(method, path);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 400)) throw inputError(`${what} not found (${err.message})`);
    throw err;
  }
}

export async function runRemote(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = build((code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      process.stderr.write(`tiller: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`tiller: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
}
