import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { normaliseApplicationDescription, parseFleet } from '@margo-gitops/spec';
import type { Catalog, CatalogEntry } from '@margo-gitops/orchestrator';
import { deviceDoc } from './fleet-docs.js';
import {
  checkDeployment,
  dependentProblems,
  deviceDocProblems,
  editDistance,
  forcedWarning,
  nearest,
  refusal,
} from './fleet-checks.js';

function app(version: string): CatalogEntry {
  return {
    app: normaliseApplicationDescription({
      apiVersion: 'margo.org/v1-alpha1',
      kind: 'ApplicationDescription',
      metadata: { id: 'web', name: 'Web', version, catalog: { organization: [{ name: 'x' }] } },
      deploymentProfiles: [
        { type: 'compose', components: [{ name: 'c', properties: { packageLocation: 'x.tgz' } }] },
      ],
      parameters: {
        PORT: { value: 8080, targets: [{ pointer: 'ENV.PORT', components: ['c'] }] },
        PASSWORD: { value: 'changeme', targets: [{ pointer: 'ENV.PASSWORD', components: ['c'] }] },
      },
      configuration: {
        sections: [
          {
            name: 'General',
            settings: [
              { parameter: 'PORT', name: 'Port', schema: 'port' },
              { parameter: 'PASSWORD', name: 'Password', schema: 'password' },
            ],
          },
        ],
        schema: [
          { name: 'port', dataType: 'integer', minValue: 1024, maxValue: 65535 },
          { name: 'password', dataType: 'string', minLength: 6 },
        ],
      },
    }),
  };
}

const catalog: Catalog = new Map([
  [
    'web',
    new Map([
      ['1.0.0', app('1.0.0')],
      ['1.1.0', app('1.1.0')],
    ]),
  ],
  ['other', new Map([['2.0.0', { error: 'margo.yaml cannot be read' }]])],
]);

const device = (id: string, labels: Record<string, string> = {}) => [
  `devices/${id}.yaml`,
  YAML.stringify({ kind: 'Device', id, labels }),
];

/** The fleet with `deployments/web.yaml` = `doc` (merged over a valid one) and three devices. */
function fleetWith(doc: Record<string, unknown>) {
  return parseFleet(
    new Map([
      device('press-07', { line: 'a' }),
      device('press-31', { line: 'b' }),
      device('press-40', { line: 'b' }),
      [
        'deployments/web.yaml',
        YAML.stringify({
          kind: 'Deployment',
          name: 'web',
          application: { id: 'web', version: '1.0.0' },
          targets: { devices: ['press-07'] },
          ...doc,
        }),
      ],
    ] as [string, string][]),
  );
}

const codes = (doc: Record<string, unknown>, extra: Partial<Parameters<typeof checkDeployment>[0]> = {}) =>
  checkDeployment({ name: 'web', fleet: fleetWith(doc), catalog, ...extra }).map((p) => p.code);

describe('checkDeployment: what the orchestrator would refuse', () => {
  it('accepts a good deployment (exact version, range, selector, rollout)', () => {
    assert.deepEqual(codes({}), []);
    assert.deepEqual(codes({ application: { id: 'web', version: '^1' } }), []);
    assert.deepEqual(
      codes({
        targets: { selector: { matchLabels: { line: 'b' } } },
        rollout: { waves: [{ devices: ['press-31'] }, { percent: 100 }] },
        parameters: { PORT: 9000 },
      }),
      [],
    );
  });

  it('an unknown application names the nearest ids; an unknown version the published ones', () => {
    const [p] = checkDeployment({
      name: 'web',
      fleet: fleetWith({ application: { id: 'wbe', version: '1.0.0' } }),
      catalog,
    });
    assert.equal(p!.code, 'ORCH_APP_NOT_FOUND');
    assert.match(p!.hint!, /Did you mean web\?/);
    const [v] = checkDeployment({
      name: 'web',
      fleet: fleetWith({ application: { id: 'web', version: '9.9.9' } }),
      catalog,
    });
    assert.equal(v!.code, 'ORCH_VERSION_NOT_FOUND');
    assert.match(v!.hint!, /Published versions of web: 1\.0\.0, 1\.1\.0/);
    assert.deepEqual(codes({ application: { id: 'other', version: '2.0.0' } }), ['ORCH_CATALOG_INVALID']);
  });

  it('a yanked version is refused with the orchestrator code', () => {
    const yanked = new Map([['web', new Set(['0.9.0'])]]);
    assert.deepEqual(codes({ application: { id: 'web', version: '0.9.0' } }, { yanked }), [
      'ORCH_VERSION_YANKED',
    ]);
  });

  it('an unknown device names the nearest ids; a selector matching none lists the labels there are', () => {
    const [d] = checkDeployment({
      name: 'web',
      fleet: fleetWith({ targets: { devices: ['press-7'] } }),
      catalog,
    });
    assert.equal(d!.code, 'ORCH_DEVICE_NOT_REGISTERED');
    assert.match(d!.message, /press-7/);
    assert.match(d!.hint!, /Did you mean press-07\?/);
    const [s] = checkDeployment({
      name: 'web',
      fleet: fleetWith({ targets: { selector: { matchLabels: { line: 'c' } } } }),
      catalog,
    });
    assert.equal(s!.code, 'CLI_SELECTOR_MATCHES_NONE');
    assert.match(s!.hint!, /line=a \(1\), line=b \(2\)/);
  });

  it('parameter values outside the schema and unknown parameters', () => {
    const [p] = checkDeployment({ name: 'web', fleet: fleetWith({ parameters: { PORT: 80 } }), catalog });
    assert.equal(p!.code, 'ORCH_PARAMETER_INVALID');
    assert.match(p!.message, /PORT/);
    assert.deepEqual(codes({ parameters: { NOPE: 1 } }), ['ORCH_PARAMETER_UNKNOWN']);
  });

  it('secret values are checked before sealing and never shown; sealed secrets must cover every target', () => {
    const probs = checkDeployment({
      name: 'web',
      fleet: fleetWith({}),
      catalog,
      secretValues: { PASSWORD: 'tiny' },
    });
    assert.deepEqual(
      probs.map((p) => p.code),
      ['ORCH_PARAMETER_INVALID'],
    );
    assert.doesNotMatch(JSON.stringify(probs), /tiny/);
    assert.deepEqual(codes({}, { secretValues: { PASSWORD: 'long-enough' } }), []);
    const sealed = { PASSWORD: { sealed: { 'press-07': 'sealed:v1:abc' } } };
    assert.deepEqual(codes({ secrets: sealed }), []);
    const missing = checkDeployment({
      name: 'web',
      fleet: fleetWith({ secrets: sealed, targets: { devices: ['press-07', 'press-31'] } }),
      catalog,
    });
    assert.deepEqual(
      missing.map((p) => [p.code, p.message]),
      [['ORCH_SECRET_NOT_SEALED', 'secret parameter PASSWORD is not sealed for target device press-31']],
    );
  });

  it('a bad rollout is refused with its file:line:col; a wave device that is not a target too', () => {
    const p = checkDeployment({
      name: 'web',
      fleet: fleetWith({ rollout: { waves: [{ percent: 10, devices: ['press-07'] }] } }),
      catalog,
    });
    assert.equal(p[0]!.code, 'ROLLOUT_WAVE_INVALID');
    assert.match(p[0]!.at!, /^deployments\/web\.yaml:\d+:\d+$/);
    assert.deepEqual(codes({ rollout: { waves: [{ percent: 0 }] } }), ['ORCH_FLEET_SCHEMA']);
    assert.deepEqual(codes({ rollout: { waves: [{ devices: ['press-31'] }] } }), [
      'ROLLOUT_WAVE_DEVICE_NOT_TARGET',
    ]);
  });

  it('several problems are reported together; refusal uses the first code and lists them all', () => {
    const probs = checkDeployment({
      name: 'web',
      fleet: fleetWith({ application: { id: 'web', version: '7' }, targets: { devices: ['nope'] } }),
      catalog,
    });
    assert.deepEqual(
      probs.map((p) => p.code),
      ['ORCH_VERSION_NOT_FOUND', 'ORCH_DEVICE_NOT_REGISTERED'],
    );
    const e = refusal('deployment web', probs)!;
    assert.equal(e.code, 'ORCH_VERSION_NOT_FOUND');
    assert.match(e.message, /2 problems.*nothing was written[\s\S]*ORCH_DEVICE_NOT_REGISTERED: device nope/);
    assert.match(e.hint!, /--force/);
    assert.equal(refusal('x', []), undefined);
    assert.match(forcedWarning('deployment web', probs), /^warning: --force: .*\n  ORCH_VERSION_NOT_FOUND/);
  });

  it('problems of other deployments are not this change’s', () => {
    const fleet = fleetWith({});
    fleet.findings.push({
      code: 'ORCH_FLEET_SCHEMA',
      severity: 'error',
      message: 'x',
      path: '',
      file: 'deployments/b.yaml',
    });
    assert.deepEqual(checkDeployment({ name: 'web', fleet, catalog }), []);
  });
});

describe('checks of the other fleet writers', () => {
  it('a device document the parser refuses (a bad label) names the file and position', () => {
    assert.deepEqual(deviceDocProblems(deviceDoc('press-07', { labels: { line: 'a' } })), []);
    const [p] = deviceDocProblems(deviceDoc('press-07', { labels: { 'bad key!': 'a' } }));
    assert.equal(p!.code, 'ORCH_FLEET_SCHEMA');
    assert.match(p!.at!, /^devices\/press-07\.yaml:\d+:\d+$/);
    assert.doesNotMatch(refusal('device press-07', [p!], { forcible: false })!.hint ?? '', /--force/);
  });

  it('removing a deployment others depend on', () => {
    const fleet = parseFleet(
      new Map([
        [
          'deployments/db.yaml',
          'kind: Deployment\nname: db\napplication: {id: web, version: 1.0.0}\ntargets: {devices: [a]}\n',
        ],
        [
          'deployments/app.yaml',
          'kind: Deployment\nname: app\napplication: {id: web, version: 1.0.0}\ntargets: {devices: [a]}\ndependsOn: [gone]\n',
        ],
      ]),
    );
    assert.deepEqual(dependentProblems(fleet, 'db'), []);
    const [p] = dependentProblems(fleet, 'gone');
    assert.equal(p!.code, 'ORCH_FLEET_UNKNOWN_DEPENDENCY');
    assert.match(p!.message, /deployment app depends on gone/);
  });
});

describe('nearest', () => {
  it('edit distance and the closest names', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.deepEqual(nearest('press-7', ['press-07', 'press-70', 'press-31', 'x']), ['press-07', 'press-70']);
    assert.deepEqual(nearest('zzzzzz', ['press-07']), []);
  });
});
