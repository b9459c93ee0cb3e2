import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

// The deployment files (deploy/compose, deploy/kubernetes) name settings of two programs: Tiller's
// and rudder-server's. A misspelt setting is silently ignored by both, so these tests hold every
// name to its source: Tiller's own config loader, and the API spec's section 8 for rudder-server.

const root = resolve(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Every environment variable Tiller reads: each `get('<flag>', '<NAME>')` call of src/config.ts. */
function tillerSettings(): Set<string> {
  const names = new Set<string>();
  for (const match of read('src/config.ts').matchAll(/\bget\(\s*'[a-z0-9-]+'\s*,\s*'([A-Z][A-Z0-9_]*)'\s*\)/g)) names.add(match[1]!);
  return names;
}
const TILLER_SETTINGS = tillerSettings();
/** Read by Node and glibc for the whole process tree, not by src/config.ts (see the Dockerfile and bin/tiller.mjs). */
const PROCESS_SETTINGS = new Set(['NODE_ENV', 'MALLOC_ARENA_MAX', 'NODE_OPTIONS']);
const isTillerSetting = (name: string) => TILLER_SETTINGS.has(name) || PROCESS_SETTINGS.has(name);

/**
 * The rudder-server settings section 8 of the API spec ("Control plane for a self-hosted
 * rudder-server") spells out. Read from the spec when it is beside the repository, as it is where
 * Tiller is developed; a clone without it uses this copy, which the spec check below keeps honest.
 */
const SECTION_8_SETTINGS = [
  'CONFIG_BACKEND_URL',
  'USER_TRANSFORM_URL',
  'PYTHON_TRANSFORM_URL',
  'DEST_TRANSFORM_URL',
  'RSERVER_SOURCE_DEBUGGER_DISABLE_EVENT_UPLOADS',
  'RSERVER_DESTINATION_DEBUGGER_DISABLE_EVENT_DELIVERY_STATUS_UPLOADS',
];
const SPEC_PATH = resolve(root, '..', 'shared', 'spec', 'API.md');

/** Section 8 of the API spec, or undefined when the spec is not beside this clone. */
function specSection8(): string | undefined {
  if (!existsSync(SPEC_PATH)) return undefined;
  const spec = readFileSync(SPEC_PATH, 'utf8');
  const start = spec.indexOf('## 8.');
  if (start === -1) throw new Error(`${SPEC_PATH} has no section 8`);
  const next = spec.indexOf('\n## ', start + 1);
  return spec.slice(start, next === -1 ? undefined : next);
}
const SECTION_8 = specSection8();
/** The setting names section 8 spells out, in backticks or as `{NAME}` in a URL. */
const SPEC_RUDDER_SETTINGS = SECTION_8
  ? new Set([...SECTION_8.matchAll(/`([A-Z][A-Z0-9_]*[A-Z0-9])`|\{([A-Z][A-Z0-9_]*)\}/g)].map((m) => m[1] ?? m[2]!))
  : new Set(SECTION_8_SETTINGS);
/** Section 8: "rudder-server's settings are `RSERVER_` plus the config key in upper snake case." */
const RSERVER_RULE = /^RSERVER_[A-Z0-9]+(_[A-Z0-9]+)*$/;
/**
 * The one rudder-server setting section 8 describes without spelling it: the workspace token it
 * sends as HTTP Basic user. rudder-server reads it as WORKSPACE_TOKEN (its rudder-docker.yml and
 * build/docker.env; README, "Point rudder-server at Tiller").
 */
const RUDDER_WORKSPACE_TOKEN = 'WORKSPACE_TOKEN';
const isRudderSetting = (name: string) => SPEC_RUDDER_SETTINGS.has(name) || RSERVER_RULE.test(name) || name === RUDDER_WORKSPACE_TOKEN;

/** Drain delay then at most 25 s for in-flight requests (src/cli/main.ts) must fit in the grace period. */
const IN_FLIGHT_LIMIT_SECONDS = 25;
const PUBLIC_BINDS = new Set(['0.0.0.0', '::', '[::]']);

describe('the names these tests check against', () => {
  it('finds every Tiller setting in src/config.ts, the new ones included', () => {
    expect(TILLER_SETTINGS.size).toBeGreaterThan(40);
    for (const name of ['PORT', 'HOST', 'DATABASE_URL', 'LOG_LEVEL', 'TILLER_PEPPER', 'TILLER_CREDENTIALS_KEY', 'TILLER_RUNTIME_PORT', 'TILLER_METRICS_PORT', 'TILLER_DRAIN_DELAY_MS', 'TILLER_MIGRATE_ON_START', 'TILLER_RUNTIME_ALLOW_PUBLIC']) {
      expect(TILLER_SETTINGS, name).toContain(name);
    }
    expect(TILLER_SETTINGS).not.toContain('TILLER_NO_SUCH_SETTING');
  });

  it.skipIf(!SECTION_8)(`finds rudder-server settings in section 8 of the spec${SECTION_8 ? '' : ' (skipped: no spec at ' + SPEC_PATH + ')'}`, () => {
    expect([...SPEC_RUDDER_SETTINGS].sort()).toEqual([...SECTION_8_SETTINGS].sort());
    expect(SECTION_8).toMatch(/workspace token/);
    expect(SECTION_8).toContain('`RSERVER_` plus the config key in upper snake case');
  });
});

// ---------------------------------------------------------------- Docker Compose

type ComposeService = {
  build?: string | { context: string };
  image?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target: number; published?: string | number })[];
  stop_grace_period?: string;
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
};

function environment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value === null ? '' : String(value)]));
}

/** "45s", "1m30s", "500ms" in seconds (Compose duration syntax). */
function composeSeconds(duration: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  expect(parts.map((p) => p[0]).join(''), `duration ${duration}`).toBe(duration);
  for (const [, amount, unit] of parts) total += Number(amount) * units[unit!]!;
  return total;
}

describe('deploy/compose/tiller.yml', () => {
  const file = 'deploy/compose/tiller.yml';
  const compose = parse(read(file)) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
  const tiller = compose.services?.tiller;
  const tillerEnv = tiller ? environment(tiller) : {};

  it('is a Compose file with top-level services: Tiller, its PostgreSQL, and rudder-server\'s backend', () => {
    expect(compose.services).toBeTypeOf('object');
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['tiller', 'tiller-db', 'backend']));
  });

  it('builds Tiller from the repository Dockerfile', () => {
    const context = typeof tiller!.build === 'string' ? tiller!.build : tiller!.build!.context;
    expect(existsSync(join(resolve(root, 'deploy/compose', context), 'Dockerfile'))).toBe(true);
    expect(resolve(root, 'deploy/compose', context)).toBe(root);
  });

  it('sets only settings Tiller reads', () => {
    const names = Object.keys(tillerEnv);
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((name) => !isTillerSetting(name))).toEqual([]);
  });

  it('runs Tiller as control plane and runtime, with metrics on 9091', () => {
    expect(tillerEnv.PORT).toBe('8080');
    expect(PUBLIC_BINDS.has(tillerEnv.HOST!)).toBe(true);
    expect(tillerEnv.TILLER_RUNTIME_PORT).toBe('8090');
    expect(tillerEnv.TILLER_METRICS_PORT).toBe('9091');
    expect(tillerEnv.LOG_LEVEL).toBeDefined();
  });

  it('allows a public bind of the runtime listener only because the network protects it (not published)', () => {
    expect(PUBLIC_BINDS.has(tillerEnv.TILLER_RUNTIME_HOST!)).toBe(true);
    expect(tillerEnv.TILLER_RUNTIME_ALLOW_PUBLIC).toBe('true');
    const published = (tiller!.ports ?? []).map((port) => (typeof port === 'string' ? Number(port.split(':').at(-1)!.split('/')[0]) : port.target));
    expect(published).toContain(8080);
    expect(published).not.toContain(8090);
    expect(published).not.toContain(9091);
  });

  it('takes the pepper, credentials key and database password from the environment, never a value', () => {
    expect(tillerEnv.TILLER_PEPPER).toMatch(/^\$\{TILLER_PEPPER:\?[^}]+\}$/);
    expect(tillerEnv.TILLER_CREDENTIALS_KEY).toMatch(/^\$\{TILLER_CREDENTIALS_KEY:\?[^}]+\}$/);
    const db = compose.services['tiller-db']!;
    expect(db.image).toMatch(/^postgres:/);
    const password = environment(db).POSTGRES_PASSWORD!;
    expect(password).toMatch(/^\$\{(\w+):\?[^}]+\}$/);
    // DATABASE_URL reaches the tiller-db service with that same password variable.
    const url = new URL(tillerEnv.DATABASE_URL!.replace(/\$\{[^}]+\}/, 'PASSWORD'));
    expect(url.protocol).toBe('postgres:');
    expect(url.hostname).toBe('tiller-db');
    expect(url.pathname).toBe('/' + environment(db).POSTGRES_DB);
    expect(url.username).toBe(environment(db).POSTGRES_USER);
    expect(tillerEnv.DATABASE_URL).toContain(password.slice(0, password.indexOf(':?')) + ':?');
  });

  it('gives a SIGTERM time to drain and finish in-flight requests', () => {
    const drainSeconds = Number(tillerEnv.TILLER_DRAIN_DELAY_MS ?? 5000) / 1000;
    expect(composeSeconds(tiller!.stop_grace_period!)).toBeGreaterThan(drainSeconds + IN_FLIGHT_LIMIT_SECONDS);
  });

  it('points rudder-server at Tiller with the setting names section 8 gives', () => {
    const backend = compose.services.backend!;
    const env = environment(backend);
    expect(Object.keys(env).filter((name) => !isRudderSetting(name))).toEqual([]);
    expect(env.CONFIG_BACKEND_URL).toBe(`http://tiller:${tillerEnv.PORT}`);
    expect(env.USER_TRANSFORM_URL).toBe(`http://tiller:${tillerEnv.TILLER_RUNTIME_PORT}`);
    expect(env[RUDDER_WORKSPACE_TOKEN]).toMatch(/^\$\{WORKSPACE_TOKEN[:?-][^}]*\}$/);
    // Destination transforms stay on rudder-transformer (section 8).
    expect(env.DEST_TRANSFORM_URL).toBeDefined();
    expect(new URL(env.DEST_TRANSFORM_URL!).hostname).not.toBe('tiller');
    expect(env.RSERVER_SOURCE_DEBUGGER_DISABLE_EVENT_UPLOADS).toBe('true');
    expect(env.RSERVER_DESTINATION_DEBUGGER_DISABLE_EVENT_DELIVERY_STATUS_UPLOADS).toBe('true');
    expect(backend.depends_on).toMatchObject({ tiller: { condition: 'service_healthy' } });
  });

  it('sets on rudder-server every setting the README tells operators to set', () => {
    const readme = read('README.md');
    const step = readme.slice(readme.indexOf('**4. Point rudder-server at Tiller.**'));
    const block = step.slice(step.indexOf('```sh') + 5, step.indexOf('```', step.indexOf('```sh') + 5));
    const names = [...block.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    expect(names).toContain('CONFIG_BACKEND_URL');
    expect(Object.keys(environment(compose.services.backend!)).sort()).toEqual([...new Set(names)].sort());
  });
});

// ---------------------------------------------------------------- Kubernetes

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any };
type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
type Container = {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; runAsNonRoot?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
};

const MODELS: Record<string, new (data?: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
};

function kubectlVersion(): string | undefined {
  try {
    return execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}
const KUBECTL = kubectlVersion();

function render(overlay: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', join(root, 'deploy/kubernetes/overlays', overlay)], { encoding: 'utf8' });
  const docs = parseAllDocuments(text);
  for (const doc of docs) expect(doc.errors, overlay).toEqual([]);
  return docs.map((doc) => doc.toJS() as K8sObject).filter((obj) => obj !== null);
}

/** Memory quantity in MiB ("512Mi", "1Gi", "1G"). */
function mebibytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  expect(match, `memory quantity ${quantity}`).not.toBeNull();
  const factor: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, K: 1000 / 1048576, M: 1e6 / 1048576, G: 1e9 / 1048576 };
  return Number(match![1]) * (match![2] ? factor[match![2]]! : 1 / 1048576);
}

/** CPU quantity in cores ("500m", "2"). */
function cores(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

const envOf = (container: Container) => new Map((container.env ?? []).map((e) => [e.name, e]));
const envValue = (container: Container, name: string) => envOf(container).get(name)?.value;
const podSpecs = (objects: K8sObject[]) =>
  objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job').map((o) => ({ owner: `${o.kind}/${o.metadata.name}`, spec: o.spec.template.spec as PodSpec, labels: o.spec.template.metadata?.labels as Record<string, string> }));
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function checkOverlay(overlay: string, objects: K8sObject[]) {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  expect(deployments.map((d) => d.metadata.name)).toEqual(['tiller']);
  const deployment = deployments[0]!;
  const pod = deployment.spec.template.spec as PodSpec;
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  const container = pod.containers.find((c) => c.name === 'tiller')!;
  expect(container, 'a container named tiller').toBeDefined();
  const portNumber = (port: string | number) => (typeof port === 'number' ? port : container.ports!.find((p) => p.name === port)!.containerPort);

  it(`${overlay}: every object is valid for its kind (kubernetes-models)`, () => {
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `a model for ${object.apiVersion} ${object.kind} (${object.metadata?.name})`).toBeDefined();
      expect(() => new Model!(object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
  });

  it(`${overlay}: labels every object the way rudderstack-helm does`, () => {
    for (const object of objects) {
      expect(object.metadata.labels?.['app.kubernetes.io/name'], `${object.kind}/${object.metadata.name}`).toBe('tiller');
      expect(object.metadata.labels?.['app.kubernetes.io/instance'], `${object.kind}/${object.metadata.name}`).toBeDefined();
    }
    expect(deployment.spec.selector.matchLabels['app.kubernetes.io/name']).toBe('tiller');
    expect(matches(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
  });

  it(`${overlay}: serves http 8080, runtime 8090 and metrics 9091, with the settings that open them`, () => {
    expect(Object.fromEntries(container.ports!.map((p) => [p.name, p.containerPort]))).toEqual({ http: 8080, runtime: 8090, metrics: 9091 });
    expect(envValue(container, 'PORT')).toBe('8080');
    expect(envValue(container, 'TILLER_RUNTIME_PORT')).toBe('8090');
    expect(envValue(container, 'TILLER_METRICS_PORT')).toBe('9091');
  });

  it(`${overlay}: probes readiness on GET /ready and liveness on GET /health of the main port`, () => {
    expect(container.readinessProbe?.httpGet?.path).toBe('/ready');
    expect(portNumber(container.readinessProbe!.httpGet!.port)).toBe(8080);
    expect(container.livenessProbe?.httpGet?.path).toBe('/health');
    expect(portNumber(container.livenessProbe!.httpGet!.port)).toBe(8080);
  });

  it(`${overlay}: exposes the API in one Service and the runtime listener in a separate ClusterIP Service`, () => {
    const services = objects.filter((o) => o.kind === 'Service');
    const targets = (service: K8sObject) => (service.spec.ports as { targetPort: string | number }[]).map((p) => portNumber(p.targetPort));
    for (const service of services) expect(matches(service.spec.selector, podLabels), service.metadata.name).toBe(true);
    const runtime = services.filter((s) => targets(s).includes(8090));
    expect(runtime).toHaveLength(1);
    expect(runtime[0]!.spec.type).toBe('ClusterIP');
    expect(targets(runtime[0]!)).toEqual([8090]);
    const api = services.filter((s) => targets(s).includes(8080));
    expect(api).toHaveLength(1);
    expect(api[0]).not.toBe(runtime[0]);
  });

  it(`${overlay}: names only settings Tiller reads, in every container`, () => {
    for (const { owner, spec } of podSpecs(objects)) {
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const unknown = (c.env ?? []).map((e) => e.name).filter((name) => !isTillerSetting(name));
        expect(unknown, `${owner} container ${c.name}`).toEqual([]);
      }
    }
  });

  it(`${overlay}: reads the pepper and credentials key from a Secret and ships no secret value`, () => {
    for (const name of ['TILLER_PEPPER', 'TILLER_CREDENTIALS_KEY']) {
      const variable = envOf(container).get(name);
      expect(variable?.value, name).toBeUndefined();
      expect(variable?.valueFrom?.secretKeyRef?.name, name).toBeTruthy();
      expect(variable?.valueFrom?.secretKeyRef?.key, name).toBeTruthy();
    }
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const { owner, spec } of podSpecs(objects)) {
      for (const c of spec.containers) {
        for (const name of ['TILLER_PEPPER', 'TILLER_CREDENTIALS_KEY', 'DATABASE_URL', 'TILLER_METRICS_TOKEN']) {
          expect(envValue(c, name), `${owner} ${name}`).toBeUndefined();
        }
      }
    }
  });

  it(`${overlay}: sets TILLER_RUNTIME_ALLOW_PUBLIC=true wherever the runtime listener binds to all interfaces`, () => {
    const host = envValue(container, 'TILLER_RUNTIME_HOST');
    expect(PUBLIC_BINDS.has(host!)).toBe(true);
    for (const { owner, spec } of podSpecs(objects)) {
      for (const c of spec.containers) {
        if (envValue(c, 'TILLER_RUNTIME_PORT') !== undefined && PUBLIC_BINDS.has(envValue(c, 'TILLER_RUNTIME_HOST') ?? '127.0.0.1')) {
          expect(envValue(c, 'TILLER_RUNTIME_ALLOW_PUBLIC'), owner).toBe('true');
        }
      }
    }
    // The cluster network protects it: only pods of the namespace may reach the runtime port.
    const policy = objects.find((o) => o.kind === 'NetworkPolicy');
    expect(policy).toBeDefined();
    expect(matches(policy!.spec.podSelector.matchLabels, podLabels)).toBe(true);
    const rules = policy!.spec.ingress as { from?: unknown[]; ports: { port: string | number }[] }[];
    const runtimeRules = rules.filter((r) => r.ports.some((p) => portNumber(p.port) === 8090));
    expect(runtimeRules.length).toBeGreaterThan(0);
    for (const rule of runtimeRules) expect(rule.from?.length ?? 0).toBeGreaterThan(0);
  });

  it(`${overlay}: gives a SIGTERM longer than the drain delay plus the in-flight limit`, () => {
    const drainSeconds = Number(envValue(container, 'TILLER_DRAIN_DELAY_MS') ?? 5000) / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds + IN_FLIGHT_LIMIT_SECONDS);
  });

  it(`${overlay}: sizes memory for the server and two sandbox processes`, () => {
    const processes = Number(envValue(container, 'TILLER_SANDBOX_PROCESSES'));
    expect(processes).toBe(2);
    const { requests, limits } = container.resources!;
    expect(mebibytes(requests!.memory!)).toBeGreaterThanOrEqual(480); // measured RSS of one instance under load
    expect(cores(requests!.cpu!)).toBeGreaterThanOrEqual(0.5);
    expect(mebibytes(limits!.memory!)).toBeGreaterThanOrEqual(mebibytes(requests!.memory!));
    // A sandbox process is replaced at its RSS cap; the server (~150 MB) plus all of them at the cap fit the limit.
    const cap = Number(envValue(container, 'TILLER_SANDBOX_PROCESS_MAX_RSS_MB') ?? 1024);
    expect(150 + processes * cap).toBeLessThanOrEqual(mebibytes(limits!.memory!));
  });

  it(`${overlay}: runs as the image's non-root user on a read-only root filesystem`, () => {
    for (const { owner, spec } of podSpecs(objects)) {
      expect(spec.securityContext?.runAsNonRoot, owner).toBe(true);
      expect(spec.securityContext?.runAsUser, owner).toBe(1000);
      const mounts = new Set(spec.volumes?.map((v) => v.name));
      for (const c of spec.containers) {
        expect(c.securityContext?.readOnlyRootFilesystem, owner).toBe(true);
        expect(c.securityContext?.allowPrivilegeEscalation, owner).toBe(false);
        // With a read-only root, the data directory and /tmp must be volumes.
        const mountPaths = (c.volumeMounts ?? []).filter((m) => mounts.has(m.name)).map((m) => m.mountPath);
        expect(mountPaths, owner).toContain('/tmp');
        const dataDir = envValue(c, 'TILLER_DATA_DIR') ?? '/data';
        expect(mountPaths.some((path) => dataDir === path || dataDir.startsWith(path + '/')), `${owner} ${dataDir}`).toBe(true);
      }
    }
  });

  it(`${overlay}: keeps a PodDisruptionBudget over the Tiller pods`, () => {
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    expect(budgets).toHaveLength(1);
    expect(matches(budgets[0]!.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(budgets[0]!.spec.maxUnavailable ?? budgets[0]!.spec.minAvailable).toBeDefined();
  });

  return { deployment, container, pod };
}

const KUBECTL_SKIP_REASON = 'kubectl is not on PATH, so the overlays cannot be rendered';
if (!KUBECTL) {
  console.log(`deploy-files: Kubernetes checks skipped: ${KUBECTL_SKIP_REASON}`);
  it.skip(`deploy/kubernetes overlays render and validate (skipped: ${KUBECTL_SKIP_REASON})`, () => {});
} else describe('deploy/kubernetes overlays (kubectl kustomize)', () => {
  describe('sqlite-single', () => {
    const objects = render('sqlite-single');
    const { deployment, container, pod } = checkOverlay('sqlite-single', objects);

    it('runs one replica, replaced with Recreate, on SQLite in a PersistentVolumeClaim', () => {
      expect(deployment.spec.replicas).toBe(1);
      expect(deployment.spec.strategy.type).toBe('Recreate');
      expect(envOf(container).has('DATABASE_URL')).toBe(false);
      expect(envValue(container, 'TILLER_MIGRATE_ON_START')).not.toBe('false');
      const claims = objects.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name);
      const data = pod.volumes!.find((v) => v.persistentVolumeClaim);
      expect(data).toBeDefined();
      expect(data!.emptyDir).toBeUndefined();
      expect(claims).toContain(data!.persistentVolumeClaim!.claimName);
      const mount = container.volumeMounts!.find((m) => m.name === data!.name)!;
      expect(mount.mountPath).toBe('/data');
      expect((envValue(container, 'TILLER_DATA_DIR') ?? '/data').startsWith('/data')).toBe(true);
    });
  });

  describe('postgres-replicas', () => {
    const objects = render('postgres-replicas');
    const { deployment, container } = checkOverlay('postgres-replicas', objects);

    it('runs 3 replicas on PostgreSQL, DATABASE_URL from a Secret, rolling one at a time', () => {
      expect(deployment.spec.replicas).toBe(3);
      const url = envOf(container).get('DATABASE_URL');
      expect(url?.value).toBeUndefined();
      expect(url?.valueFrom?.secretKeyRef?.name).toBeTruthy();
      expect(url?.valueFrom?.secretKeyRef?.key).toBeTruthy();
      expect(deployment.spec.strategy.type).toBe('RollingUpdate');
      expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    });

    it('migrates in a Job, and the replicas refuse to migrate themselves', () => {
      expect(envValue(container, 'TILLER_MIGRATE_ON_START')).toBe('false');
      const jobs = objects.filter((o) => o.kind === 'Job');
      expect(jobs).toHaveLength(1);
      const job = jobs[0]!.spec.template.spec as PodSpec;
      const migrate = job.containers[0]!;
      expect(migrate.command).toEqual(['node', '--no-node-snapshot', 'bin/tiller.mjs', 'migrate']);
      expect(migrate.image).toBe(container.image);
      expect(envOf(migrate).get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual(envOf(container).get('DATABASE_URL')?.valueFrom?.secretKeyRef);
      // The Job's pod is no Service endpoint: the Deployment's selector does not match it.
      expect(matches(deployment.spec.selector.matchLabels, jobs[0]!.spec.template.metadata.labels)).toBe(false);
    });
  });
});
