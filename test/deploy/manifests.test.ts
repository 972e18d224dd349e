// The Kubernetes manifests under deploy/k8s: every document validated against the Kubernetes
// OpenAPI schemas (kubernetes-models), and every fact they share with the server checked
// against the server's own constants, option parser and a running server's /metrics.
import { HTTP_PATHS, SERVER_DEFAULTS } from '@carboncp/server';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { command as serveCommand, parseServeArgs } from '../../packages/cli/src/commands/serve.js';
import { useServedModel } from '../e2e/split-harness.js';
import { loadK8sDocuments, modelClassOf, validateManifest, type Json } from './deploy-files.js';

const documents = loadK8sDocuments();
const only = (kind: string): Json => {
  const found = documents.filter((d) => d.object.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} under deploy/k8s, found ${found.length}`);
  return found[0].object;
};
const deployment = only('Deployment');
const service = only('Service');
const pdb = only('PodDisruptionBudget');
const hpa = only('HorizontalPodAutoscaler');
const ingress = only('Ingress');
const pod = deployment.spec.template;
const container = pod.spec.containers[0];
const clone = <T>(value: T): T => structuredClone(value);

/** The container's environment with secret references stood in for (their values are not in git). */
function containerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of container.env ?? []) {
    env[entry.name] = entry.value ?? `from-${JSON.stringify(entry.valueFrom)}`;
  }
  return env;
}

/** `carboncp` arguments parsed by the serve command's own parser (the first must name it). */
function serveArgsOf(args: string[]) {
  if (args[0] !== serveCommand.name) throw new Error(`the arguments start with '${args[0]}', not the '${serveCommand.name}' command`);
  return parseServeArgs(args.slice(1), containerEnv());
}

/** A HAProxy time ("60s", "1m", "500" = ms) in milliseconds. */
function haproxyMs(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!match) throw new Error(`not a HAProxy time: ${value}`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms']!;
}

describe('deploy/k8s against the Kubernetes OpenAPI schemas', () => {
  // Pinned: kubernetes-models also ships API versions that current clusters no longer serve
  // (policy/v1beta1, autoscaling/v2beta2), which its validation alone would pass.
  it('finds the documents at current API versions: Deployment, Service, PDB, HPA, Ingress and two ConfigMaps', () => {
    expect(documents.map((d) => `${d.object.apiVersion} ${d.object.kind}`).sort()).toEqual([
      'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'networking.k8s.io/v1 Ingress',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 ConfigMap',
      'v1 Service',
    ]);
  });

  it.each(documents.map((d) => [`${d.file}#${d.index} ${d.object.kind}`, d.object] as const))('%s validates', async (_name, object) => {
    await expect(validateManifest(object)).resolves.toBeUndefined();
  });

  it('rejects a wrong type, with the JSON pointer of the field', async () => {
    const bad = clone(deployment);
    bad.spec.replicas = 'two';
    await expect(validateManifest(bad)).rejects.toThrow(/spec\/replicas must be integer/);
    const badPort = clone(service);
    badPort.spec.ports[0].port = '8765';
    await expect(validateManifest(badPort)).rejects.toThrow(/spec\/ports\/0\/port must be integer/);
  });

  it('rejects a missing required field', async () => {
    const noName = clone(deployment);
    delete noName.spec.template.spec.containers[0].name;
    await expect(validateManifest(noName)).rejects.toThrow(/containers\/0 must have required property '?name'?/);
    const noTarget = clone(hpa);
    delete noTarget.spec.metrics[0].pods.target;
    await expect(validateManifest(noTarget)).rejects.toThrow(/must have required property '?target'?/);
    const noBackend = clone(ingress);
    delete noBackend.spec.rules[0].http.paths[0].backend;
    await expect(validateManifest(noBackend)).rejects.toThrow(/must have required property '?backend'?/);
  });

  it('refuses a kind or apiVersion it has no schema for, rather than passing it', async () => {
    await expect(validateManifest({ ...clone(deployment), kind: 'Deploymnet' })).rejects.toThrow(/unknown kind 'Deploymnet' in 'apps\/v1'/);
    await expect(modelClassOf('monitoring.coreos.com/v1', 'ServiceMonitor')).rejects.toThrow(/unknown apiVersion/);
    await expect(modelClassOf('apps/v2', 'Deployment')).rejects.toThrow(/unknown apiVersion/);
    await expect(validateManifest({ kind: 'Service' })).rejects.toThrow(/not an apiVersion/);
  });
});

describe('deploy/k8s against the server', () => {
  // Parsed in each test, so that arguments the parser refuses fail tests rather than the file.
  const args = () => serveArgsOf(container.args);
  const containerPort: number = container.ports.find((p: Json) => p.name === 'http').containerPort;

  it("the container's arguments are accepted by `carboncp serve`'s own parser, and one typo is not", () => {
    const parsed = args();
    expect(container.command).toBeUndefined(); // the image's ENTRYPOINT runs the CLI
    expect(parsed.options.port).toBe(containerPort);
    expect(parsed.options.host).toBe('0.0.0.0');
    expect(parsed.options.token).toBe(containerEnv().CARBONCP_TOKEN);
    expect(parsed.options.openMetrics).toBe(true);
    const typo = container.args.map((a: string) => (a === '--drain-ms' ? '--drain-msec' : a));
    expect(() => serveArgsOf(typo)).toThrow(/drain-msec/);
  });

  it("listens on the server's default port, the port every probe, the Service and the scrape annotation use", () => {
    expect(containerPort).toBe(SERVER_DEFAULTS.port);
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) expect(probe.httpGet.port).toBe('http');
    expect(service.spec.ports).toEqual([expect.objectContaining({ name: 'http', port: containerPort, targetPort: 'http' })]);
    expect(Number(pod.metadata.annotations['prometheus.io/port'])).toBe(containerPort);
  });

  it("probes the server's own routes: readiness on ready (503 while draining), liveness and start-up on live", () => {
    expect(container.readinessProbe.httpGet.path).toBe(HTTP_PATHS.ready);
    expect(container.livenessProbe.httpGet.path).toBe(HTTP_PATHS.live);
    expect(container.startupProbe.httpGet.path).toBe(HTTP_PATHS.live);
    expect(pod.metadata.annotations['prometheus.io/path']).toBe(HTTP_PATHS.metrics);
  });

  it("the grace period covers preStop, the server's drain and its close handshake", () => {
    const parsed = args();
    const [sleep, seconds] = container.lifecycle.preStop.exec.command;
    expect(sleep).toBe('sleep');
    const needMs = Number(seconds) * 1000 + parsed.drainMs + SERVER_DEFAULTS.closeHandshakeMs;
    expect(container.args).toContain('--drain-ms'); // the drain is chosen with the grace period, not left to a default
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(needMs);
  });

  it('runs as the non-root user of the image, read-only, without privileges', () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('selectors agree: Deployment, its pods, the Service, the PDB; the HPA scales the Deployment; the Ingress routes to the Service', () => {
    const labels = pod.metadata.labels;
    expect(labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(labels).toMatchObject(service.spec.selector);
    expect(labels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: deployment.apiVersion, kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThan(pdb.spec.maxUnavailable);
    for (const path of ingress.spec.rules[0].http.paths) {
      expect(path.backend.service).toEqual({ name: service.metadata.name, port: { name: service.spec.ports[0].name } });
    }
  });

  it('the Ingress routes the WebSocket root and the /v2 tree, not /metrics; HAProxy checks readiness and outwaits a tail', () => {
    const parsed = args();
    expect(ingress.spec.ingressClassName).toBe('haproxy');
    const paths = ingress.spec.rules[0].http.paths.map((p: Json) => `${p.pathType} ${p.path}`);
    expect(paths).toEqual(['Exact /', `Prefix ${HTTP_PATHS.server}`]);
    expect(HTTP_PATHS.metrics.startsWith(HTTP_PATHS.server)).toBe(false);
    const annotations = ingress.metadata.annotations;
    expect(annotations['haproxy.org/check-http']).toBe(HTTP_PATHS.ready);
    expect(annotations['haproxy.org/load-balance']).toBe('leastconn');
    expect(haproxyMs(annotations['haproxy.org/timeout-server'])).toBeGreaterThanOrEqual(parsed.options.tailTimeoutMs!);
    const controller = documents.find((d) => d.object.kind === 'ConfigMap' && d.object.data['timeout-tunnel'])!.object;
    expect(haproxyMs(controller.data['timeout-tunnel'])).toBeGreaterThan(SERVER_DEFAULTS.idleTimeoutMs);
  });

  it('the HPA reads the Pods metric that the adapter rule serves, from the gauge of that name', () => {
    const metric = hpa.spec.metrics[0];
    expect(metric.type).toBe('Pods');
    const name = metric.pods.metric.name as string;
    const adapter = documents.find((d) => d.object.kind === 'ConfigMap' && d.object.data['config.yaml'])!.object;
    const rules = parseYaml(adapter.data['config.yaml']).rules as Json[];
    const rule = rules.find((r) => r.name.as === name);
    expect(rule, `an adapter rule exposing ${name}`).toBeDefined();
    expect(new RegExp(rule.name.matches).test(name)).toBe(true);
    expect(rule.seriesQuery.startsWith(`${name}{`)).toBe(true);
    expect(rule.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    expect(rule.metricsQuery).toContain('<<.Series>>{<<.LabelMatchers>>}');
    expect(rule.metricsQuery).toContain('by (<<.GroupBy>>)');
  });
});

describe('a server started with the manifest\'s own options', () => {
  const served = useServedModel('ppocr-cls');

  it('serves the HPA metric as a gauge on an unauthenticated scrape, health open, metadata behind the token', async () => {
    const { options } = serveArgsOf(container.args);
    // Only where it listens and what it serves differ from the pod.
    const server = await served.serve({ ...options, models: [served.file], host: '127.0.0.1', port: 0 });
    const get = (path: string) => fetch(`${server.httpUrl}${path}`);
    const metrics = await get(HTTP_PATHS.metrics);
    expect(metrics.status).toBe(200);
    const name = hpa.spec.metrics[0].pods.metric.name as string;
    const text = await metrics.text();
    expect(text).toContain(`# TYPE ${name} gauge`);
    expect(text).toMatch(new RegExp(`^${name} 0$`, 'm'));
    expect((await get(container.readinessProbe.httpGet.path)).status).toBe(200);
    expect((await get(container.livenessProbe.httpGet.path)).status).toBe(200);
    expect((await get(HTTP_PATHS.server)).status).toBe(401);
  });
});
