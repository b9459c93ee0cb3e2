import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

// Everything Tiller writes (the SQLite database and its journals, the pepper) holds code, audit
// entries or key material, so it is readable by Tiller's own user only: files 0600, directories
// 0700, whatever the umask (which can only remove bits from a mode, so modes are set explicitly).

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

/**
 * Creates `dir` (and missing parents) 0700, or tightens an existing one to 0700 when this process's
 * user owns it. A wider directory owned by someone else (a mounted volume's root, say) is left
 * alone: the answer is the one warning line to log, never a refusal.
 */
export function ensurePrivateDir(dir: string): string | undefined {
  let stat = statOrUndefined(dir);
  if (!stat) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
    chmodSync(dir, PRIVATE_DIR);
    return undefined;
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  if (stat.uid === process.getuid?.()) {
    chmodSync(dir, PRIVATE_DIR);
    stat = statSync(dir);
    if ((stat.mode & 0o077) === 0) return undefined;
  }
  return `the data directory ${dir} is mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')} and owned by uid ${stat.uid}, not by Tiller's user (uid ${process.getuid?.() ?? '?'}), so Tiller left it as it is (its files are 0600, but other local users can see or change its entries): make it 0700, or owned by Tiller's user`;
}

/** Makes an existing file 0600; a file that is not there yet is left to be created private. */
export function makeFilePrivate(file: string): void {
  try {
    chmodSync(file, PRIVATE_FILE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Creates `file` empty and 0600 if it does not exist yet, and makes it 0600 if it does. */
export function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE));
  chmodSync(file, PRIVATE_FILE);
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
