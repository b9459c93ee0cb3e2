// The saved connection of `tiller login`: $XDG_CONFIG_HOME/tiller/config.json, else
// ~/.config/tiller/config.json; directory 0700, file 0600. The token is never printed.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { inputError } from './errors.js';

export interface Profile {
  url?: string;
  token?: string;
  workspaceToken?: string;
}

export function profilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.trim() !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'tiller', 'config.json');
}

export function readProfile(env: NodeJS.ProcessEnv = process.env): Profile {
  const path = profilePath(env);
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object') return {};
    const p = parsed as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    const profile: Profile = {};
    const url = str(p.url);
    const token = str(p.token);
    const workspaceToken = str(p.workspaceToken);
    if (url) profile.url = url;
    if (token) profile.token = token;
    if (workspaceToken) profile.workspaceToken = workspaceToken;
    return profile;
  } catch {
    throw inputError(`${path} is not valid JSON; run "tiller login" again`);
  }
}

export function writeProfile(profile: Profile, env: NodeJS.ProcessEnv = process.env): string {
  const path = profilePath(env);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(profile, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}
