import type { DeploymentFingerprint } from './fingerprint.js';

export type ActionKind = 'install' | 'upgrade' | 'reconfigure' | 'remove' | 'noop';

export interface PlannedAction {
  kind: ActionKind;
  deploymentId: string;
  name: string;
  /** Names of deployments that must be installed before this one is applied. */
  waitFor: string[];
}

export interface PlanProblem {
  deploymentId: string;
  name: string;
  code: 'AGENT_DEPENDENCY_CYCLE' | 'AGENT_DEPENDENCY_NOT_READY';
  message: string;
}

export interface Plan {
  /** Removals first (reverse dependency order), then the desired set in dependency order. */
  actions: PlannedAction[];
  /** Deployments that cannot be applied as planned (cycle); they are left out of `actions`. */
  problems: PlanProblem[];
}

/** Kind of change from `applied` to `desired` (both present). */
export function changeKind(desired: DeploymentFingerprint, applied: DeploymentFingerprint): ActionKind {
  if (desired.profileType !== applied.profileType || desired.namespace !== applied.namespace)
    return 'upgrade';
  if (desired.components.length !== applied.components.length) return 'upgrade';
  let reconfigure = false;
  for (let i = 0; i < desired.components.length; i++) {
    const d = desired.components[i]!;
    const a = applied.components[i]!;
    if (d.name !== a.name || d.source !== a.source) return 'upgrade';
    if (d.config !== a.config) reconfigure = true;
  }
  return reconfigure ? 'reconfigure' : 'noop';
}

/**
 * Topological order by `dependsOn` (names), stable by name. Dependencies outside the set are
 * ignored for ordering. Returns the order and the names caught in cycles.
 */
export function dependencyOrder(items: DeploymentFingerprint[]): {
  order: DeploymentFingerprint[];
  cyclic: Set<string>;
} {
  const byName = new Map(items.map((i) => [i.name, i]));
  const sorted = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const state = new Map<string, 'visiting' | 'done'>();
  const order: DeploymentFingerprint[] = [];
  const cyclic = new Set<string>();
  const visit = (n: DeploymentFingerprint, stack: string[]): void => {
    const s = state.get(n.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      for (const x of stack.slice(stack.indexOf(n.name))) cyclic.add(x);
      return;
    }
    state.set(n.name, 'visiting');
    for (const dep of [...n.dependsOn].sort()) {
      const d = byName.get(dep);
      if (d) visit(d, [...stack, n.name]);
    }
    state.set(n.name, 'done');
    order.push(n);
  };
  for (const n of sorted) visit(n, []);
  // Anything depending on a cyclic deployment cannot be ordered either.
  let grew = true;
  while (grew) {
    grew = false;
    for (const n of items) {
      if (!cyclic.has(n.name) && n.dependsOn.some((d) => cyclic.has(d))) {
        cyclic.add(n.name);
        grew = true;
      }
    }
  }
  return { order: order.filter((n) => !cyclic.has(n.name)), cyclic };
}

/**
 * Plans the actions that take the device from `applied` to `desired`. Pure.
 * @example
 * planActions([web, db], []) // install db, then web (web depends on db)
 */
export function planActions(desired: DeploymentFingerprint[], applied: DeploymentFingerprint[]): Plan {
  const appliedById = new Map(applied.map((a) => [a.id, a]));
  const desiredIds = new Set(desired.map((d) => d.id));
  const desiredNames = new Set(desired.map((d) => d.name));
  const actions: PlannedAction[] = [];
  const problems: PlanProblem[] = [];

  // Removals: reverse dependency order of the applied set (dependents go first).
  const removing = applied.filter((a) => !desiredIds.has(a.id));
  const removalOrder = dependencyOrder(removing);
  const removalSeq = [...removalOrder.order].reverse();
  for (const a of removing) if (removalOrder.cyclic.has(a.name)) removalSeq.push(a); // still removed, order arbitrary
  for (const a of removalSeq) actions.push({ kind: 'remove', deploymentId: a.id, name: a.name, waitFor: [] });

  const { order, cyclic } = dependencyOrder(desired);
  for (const d of desired) {
    if (cyclic.has(d.name)) {
      problems.push({
        deploymentId: d.id,
        name: d.name,
        code: 'AGENT_DEPENDENCY_CYCLE',
        message: `depends-on of ${d.name} is part of a cycle (${d.dependsOn.join(', ')})`,
      });
    }
  }
  for (const d of order) {
    const a = appliedById.get(d.id);
    const kind: ActionKind = a ? changeKind(d, a) : 'install';
    const missing = d.dependsOn.filter((n) => !desiredNames.has(n));
    if (missing.length) {
      problems.push({
        deploymentId: d.id,
        name: d.name,
        code: 'AGENT_DEPENDENCY_NOT_READY',
        message: `${d.name} depends on ${missing.join(', ')}, which is not deployed on this device`,
      });
    }
    actions.push({ kind, deploymentId: d.id, name: d.name, waitFor: d.dependsOn });
  }
  return { actions, problems };
}
