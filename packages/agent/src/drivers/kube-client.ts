import type { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { MargoError } from '@margo-gitops/spec';

function statusOf(e: unknown): number | undefined {
  const x = e as { code?: number; statusCode?: number; response?: { statusCode?: number } };
  return x.code ?? x.statusCode ?? x.response?.statusCode;
}

function kubeError(action: string, e: unknown): MargoError {
  return new MargoError(
    'AGENT_KUBERNETES_FAILED',
    `${action}: ${(e as Error).message?.split('\n')[0] ?? String(e)}`,
    { cause: e, retry: 'backoff' },
  );
}

export interface NodeCapacity {
  nodes: number;
  cpuCores: number;
  memoryBytes: number;
  architectures: string[];
}

/** Parses a Kubernetes quantity (`4`, `500m`, `16Gi`, `1000000Ki`) into a number. */
export function parseQuantity(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  const mult: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  const f = mult[m[2]!];
  return f === undefined ? NaN : n * f;
}

/**
 * The little the agent needs from the Kubernetes API (what Helm does not tell). The client library
 * is loaded on first use, so Compose-only devices never pay for it.
 */
export class KubeClient {
  private clients: Promise<{ core: CoreV1Api; apps: AppsV1Api }> | null = null;
  constructor(private readonly kubeconfigPath: string) {}

  private api(): Promise<{ core: CoreV1Api; apps: AppsV1Api }> {
    this.clients ??= import('@kubernetes/client-node').then((k) => {
      const kc = new k.KubeConfig();
      kc.loadFromFile(this.kubeconfigPath);
      return { core: kc.makeApiClient(k.CoreV1Api), apps: kc.makeApiClient(k.AppsV1Api) };
    });
    return this.clients;
  }

  /** Creates the namespace when it does not exist. */
  async ensureNamespace(name: string): Promise<'created' | 'exists'> {
    try {
      await (await this.api()).core.readNamespace({ name });
      return 'exists';
    } catch (e) {
      if (statusOf(e) !== 404) throw kubeError(`reading namespace ${name}`, e);
    }
    try {
      await (
        await this.api()
      ).core.createNamespace({
        body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'margo-gitops' } } },
      });
      return 'created';
    } catch (e) {
      if (statusOf(e) === 409) return 'exists';
      throw kubeError(`creating namespace ${name}`, e);
    }
  }

  /** Deployments of a Helm release that do not have all replicas ready. */
  async unreadyWorkloads(namespace: string, release: string): Promise<string[]> {
    try {
      const list = await (
        await this.api()
      ).apps.listNamespacedDeployment({
        namespace,
        labelSelector: `app.kubernetes.io/instance=${release}`,
      });
      return list.items
        .filter((d) => (d.status?.readyReplicas ?? 0) < (d.spec?.replicas ?? 1))
        .map((d) => d.metadata?.name ?? '?');
    } catch (e) {
      throw kubeError(`listing deployments of ${release}`, e);
    }
  }

  async nodeCapacity(): Promise<NodeCapacity> {
    try {
      const nodes = await (await this.api()).core.listNode();
      const cap: NodeCapacity = { nodes: nodes.items.length, cpuCores: 0, memoryBytes: 0, architectures: [] };
      for (const n of nodes.items) {
        const c = n.status?.capacity ?? {};
        if (c.cpu) cap.cpuCores += parseQuantity(c.cpu);
        if (c.memory) cap.memoryBytes += parseQuantity(c.memory);
        const arch = n.status?.nodeInfo?.architecture;
        if (arch && !cap.architectures.includes(arch)) cap.architectures.push(arch);
      }
      return cap;
    } catch (e) {
      throw kubeError('listing nodes', e);
    }
  }
}
