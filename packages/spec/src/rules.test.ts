import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from './parse-document.js';
import {
  baseApp,
  baseCapabilities,
  baseDeployment,
  baseManifest,
  baseStatus,
  clone,
  yaml,
} from './test-fixtures.js';

type Doc = Record<string, any>;
interface Case {
  name: string;
  mutate: (d: Doc) => void;
  /** The code expected to be reported (bad) or not reported (good). */
  code: string;
  bad: boolean;
  path?: string;
}

const BASES = {
  app: baseApp,
  deployment: baseDeployment,
  status: baseStatus,
  capabilities: baseCapabilities,
  manifest: baseManifest,
};

function run(kind: keyof typeof BASES, cases: Case[], severity: 'error' | 'warning' = 'error') {
  for (const c of cases) {
    test(`${kind}: ${c.bad ? 'rejects' : 'accepts'} ${c.name}`, () => {
      const doc = clone(BASES[kind]());
      c.mutate(doc);
      const { findings } = parseDocument(yaml(doc), { file: 'x.yaml' });
      const hit = findings.filter((f) => f.code === c.code);
      if (c.bad) {
        assert.ok(
          hit.length > 0,
          `expected ${c.code}; got ${findings.map((f) => `${f.code} ${f.path}`).join('; ') || 'nothing'}`,
        );
        if (c.path) assert.equal(hit[0]!.path, c.path);
        assert.ok(hit[0]!.line !== undefined && hit[0]!.column !== undefined, 'finding has a position');
        assert.ok(hit[0]!.message.length > 10);
      } else {
        assert.deepEqual(hit, [], `did not expect ${c.code}`);
        assert.deepEqual(
          findings.filter((f) => f.severity === 'error'),
          [],
        );
      }
    });
  }
}

test('the base fixtures are valid', () => {
  for (const doc of Object.values(BASES).map((f) => f())) {
    const r = parseDocument(yaml(doc));
    assert.deepEqual(r.findings, []);
    assert.ok(r.model);
  }
});

run('app', [
  // id syntax and placement
  {
    name: 'app id with upper case',
    code: 'SPEC_INVALID_APPLICATION_ID',
    bad: true,
    path: '/id',
    mutate: (d) => (d.id = 'Com-Example'),
  },
  {
    name: 'app id with a dot',
    code: 'SPEC_INVALID_APPLICATION_ID',
    bad: true,
    mutate: (d) => (d.id = 'com.example'),
  },
  {
    name: 'app id of 201 chars',
    code: 'SPEC_INVALID_APPLICATION_ID',
    bad: true,
    mutate: (d) => (d.id = 'a'.repeat(201)),
  },
  {
    name: 'app id of 200 chars',
    code: 'SPEC_INVALID_APPLICATION_ID',
    bad: false,
    mutate: (d) => (d.id = 'a'.repeat(200)),
  },
  { name: 'empty app id', code: 'SPEC_INVALID_APPLICATION_ID', bad: true, mutate: (d) => (d.id = '') },
  {
    name: 'metadata.id (2024 placement) with bad syntax',
    code: 'SPEC_INVALID_APPLICATION_ID',
    bad: true,
    path: '/metadata/id',
    mutate: (d) => {
      delete d.id;
      d.metadata.id = 'Bad_Id';
    },
  },
  {
    name: 'metadata.id (2024 placement)',
    code: 'SPEC_ID_MISSING',
    bad: false,
    mutate: (d) => {
      d.metadata.id = d.id;
      delete d.id;
    },
  },
  { name: 'no id at all', code: 'SPEC_ID_MISSING', bad: true, mutate: (d) => delete d.id },
  {
    name: 'two different ids',
    code: 'SPEC_ID_CONFLICT',
    bad: true,
    mutate: (d) => (d.metadata.id = 'other-id'),
  },
  // kind / schema
  {
    name: 'kind: application (2024)',
    code: 'SPEC_UNKNOWN_KIND',
    bad: false,
    mutate: (d) => (d.kind = 'application'),
  },
  {
    name: 'wrong kind',
    code: 'SPEC_UNKNOWN_KIND',
    bad: true,
    path: '/kind',
    mutate: (d) => (d.kind = 'Application'),
  },
  {
    name: 'missing metadata.name',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    path: '/metadata/name',
    mutate: (d) => delete d.metadata.name,
  },
  {
    name: 'missing catalog organization',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    mutate: (d) => delete d.metadata.catalog.organization,
  },
  {
    name: 'deploymentProfiles not a list',
    code: 'SPEC_WRONG_TYPE',
    bad: true,
    mutate: (d) => (d.deploymentProfiles = { a: 1 }),
  },
  {
    name: 'profile type helmchart',
    code: 'SPEC_UNKNOWN_PROFILE_TYPE',
    bad: true,
    path: '/deploymentProfiles/0/type',
    mutate: (d) => (d.deploymentProfiles[0].type = 'helmchart'),
  },
  {
    name: 'profile type helm (DM-D)',
    code: 'SPEC_UNKNOWN_PROFILE_TYPE',
    bad: false,
    mutate: (d) => (d.deploymentProfiles[0].type = 'helm'),
  },
  {
    name: 'profile type docker-compose (2024)',
    code: 'SPEC_UNKNOWN_PROFILE_TYPE',
    bad: false,
    mutate: (d) => (d.deploymentProfiles[1].type = 'docker-compose'),
  },
  {
    name: 'architecture riscv',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: true,
    mutate: (d) =>
      (d.deploymentProfiles[0].requiredResources = { cpu: { cores: 1, architectures: ['riscv'] } }),
  },
  {
    name: 'requiredResources with x86_64 and quantities',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: false,
    mutate: (d) =>
      (d.deploymentProfiles[0].requiredResources = {
        cpu: { cores: 0.5, architectures: ['x86_64', 'arm64'] },
        memory: '512Mi',
        storage: '10Gi',
      }),
  },
  {
    name: 'memory "4 GB"',
    code: 'SPEC_INVALID_QUANTITY',
    bad: true,
    mutate: (d) => (d.deploymentProfiles[0].requiredResources = { memory: '4 GB' }),
  },
  {
    name: 'rc.3 deviceConstraints',
    code: 'SPEC_SCHEMA_VIOLATION',
    bad: false,
    mutate: (d) =>
      (d.deploymentProfiles[0].deviceConstraints = {
        capacityRequirements: { cpu: { cores: 2, architectures: ['amd64'] }, memory: '1Gi' },
        eligibilityRules: [
          { labelSelector: { matchExpressions: [{ key: 'site', operator: 'In', values: ['a'] }] } },
        ],
      }),
  },
  {
    name: 'deviceConstraints with a bad operator',
    code: 'SPEC_VALUE_NOT_ALLOWED',
    bad: true,
    mutate: (d) =>
      (d.deploymentProfiles[0].deviceConstraints = {
        eligibilityRules: [{ labelSelector: { matchExpressions: [{ key: 'site', operator: 'Equals' }] } }],
      }),
  },
  {
    name: 'unknown dataType',
    code: 'SPEC_UNKNOWN_DATA_TYPE',
    bad: true,
    mutate: (d) => (d.configuration.schema[1].dataType = 'int'),
  },
  {
    name: 'component name with upper case',
    code: 'SPEC_INVALID_COMPONENT_NAME',
    bad: true,
    mutate: (d) => (d.deploymentProfiles[0].components[0].name = 'Hello'),
  },
  // components
  {
    name: 'duplicate component names in a profile',
    code: 'SPEC_DUPLICATE_COMPONENT',
    bad: true,
    path: '/deploymentProfiles/0/components/1/name',
    mutate: (d) => d.deploymentProfiles[0].components.push(clone(d.deploymentProfiles[0].components[0])),
  },
  {
    name: 'same component name in two profiles',
    code: 'SPEC_DUPLICATE_COMPONENT',
    bad: false,
    mutate: (d) => {
      d.deploymentProfiles[1].components[0].name = 'hello';
      d.parameters.greeting.targets[1].components = ['hello'];
      d.parameters.debug.targets[0].components = ['hello'];
    },
  },
  {
    name: 'duplicate profile ids',
    code: 'SPEC_DUPLICATE_PROFILE_ID',
    bad: true,
    mutate: (d) => (d.deploymentProfiles[1].id = 'hello-helm'),
  },
  {
    name: 'helm component without revision',
    code: 'SPEC_COMPONENT_PROPERTY_MISSING',
    bad: true,
    mutate: (d) => delete d.deploymentProfiles[0].components[0].properties.revision,
  },
  {
    name: 'compose component without packageLocation or repository',
    code: 'SPEC_COMPONENT_PROPERTY_MISSING',
    bad: true,
    mutate: (d) =>
      (d.deploymentProfiles[1].components[0].properties = { keyLocation: 'https://example.com/k.asc' }),
  },
  {
    name: 'rc.3 compose component with repository + revision',
    code: 'SPEC_COMPONENT_PROPERTY_MISSING',
    bad: false,
    mutate: (d) =>
      (d.deploymentProfiles[1].components[0].properties = {
        repository: 'oci://registry.local/hello',
        revision: '1.0.0',
      }),
  },
  {
    name: 'timeout 8m',
    code: 'SPEC_INVALID_TIMEOUT',
    bad: true,
    mutate: (d) => (d.deploymentProfiles[0].components[0].properties.timeout = '8m'),
  },
  {
    name: 'timeout 8m30s',
    code: 'SPEC_INVALID_TIMEOUT',
    bad: false,
    mutate: (d) => (d.deploymentProfiles[0].components[0].properties.timeout = '8m30s'),
  },
  {
    name: 'wait "yes"',
    code: 'SPEC_INVALID_WAIT',
    bad: true,
    mutate: (d) => (d.deploymentProfiles[0].components[0].properties.wait = 'yes'),
  },
  {
    name: 'wait "true" (G24 string)',
    code: 'SPEC_INVALID_WAIT',
    bad: false,
    mutate: (d) => (d.deploymentProfiles[0].components[0].properties.wait = 'true'),
  },
  // targets and pointers
  {
    name: 'target naming a missing component',
    code: 'SPEC_UNKNOWN_TARGET_COMPONENT',
    bad: true,
    path: '/parameters/replicas/targets/0/components/0',
    mutate: (d) => (d.parameters.replicas.targets[0].components = ['nope']),
  },
  {
    name: 'Helm pointer with list index',
    code: 'SPEC_INVALID_POINTER',
    bad: false,
    mutate: (d) => (d.parameters.replicas.targets[0].pointer = 'env[0].value'),
  },
  {
    name: 'Helm pointer with escaped dot',
    code: 'SPEC_INVALID_POINTER',
    bad: false,
    mutate: (d) => (d.parameters.replicas.targets[0].pointer = 'annotations.example\\.com/x'),
  },
  {
    name: 'Helm pointer with a space',
    code: 'SPEC_INVALID_POINTER',
    bad: true,
    mutate: (d) => (d.parameters.replicas.targets[0].pointer = 'a b'),
  },
  {
    name: 'Helm pointer with an empty segment',
    code: 'SPEC_INVALID_POINTER',
    bad: true,
    mutate: (d) => (d.parameters.replicas.targets[0].pointer = 'a..b'),
  },
  {
    name: 'Helm pointer with a bad index',
    code: 'SPEC_INVALID_POINTER',
    bad: true,
    mutate: (d) => (d.parameters.replicas.targets[0].pointer = 'a[x]'),
  },
  {
    name: 'Compose pointer as bare name (DM-C)',
    code: 'SPEC_INVALID_POINTER',
    bad: false,
    mutate: (d) => (d.parameters.greeting.targets[1].pointer = 'GREETING'),
  },
  {
    name: 'Compose pointer with a dotted path',
    code: 'SPEC_INVALID_POINTER',
    bad: true,
    path: '/parameters/greeting/targets/1/pointer',
    mutate: (d) => (d.parameters.greeting.targets[1].pointer = 'config.greeting'),
  },
  {
    name: 'Compose pointer starting with a digit',
    code: 'SPEC_INVALID_POINTER',
    bad: true,
    mutate: (d) => (d.parameters.greeting.targets[1].pointer = 'ENV.1ABC'),
  },
  // configuration references
  {
    name: 'setting naming a missing parameter',
    code: 'SPEC_UNKNOWN_SETTING_PARAMETER',
    bad: true,
    mutate: (d) => (d.configuration.sections[0].settings[0].parameter = 'nope'),
  },
  {
    name: 'setting naming a missing schema',
    code: 'SPEC_UNKNOWN_SETTING_SCHEMA',
    bad: true,
    path: '/configuration/sections/0/settings/1/schema',
    mutate: (d) => (d.configuration.sections[0].settings[1].schema = 'nope'),
  },
  {
    name: 'two settings for one parameter',
    code: 'SPEC_DUPLICATE_SETTING',
    bad: true,
    mutate: (d) =>
      d.configuration.sections.push({
        name: 'More',
        settings: [{ parameter: 'greeting', name: 'Again', schema: 'text' }],
      }),
  },
  {
    name: 'duplicate schema rule names',
    code: 'SPEC_DUPLICATE_SCHEMA_RULE',
    bad: true,
    mutate: (d) => d.configuration.schema.push({ name: 'text', dataType: 'string' }),
  },
  // schema rules fit their dataType
  {
    name: 'minLength on an integer',
    code: 'SPEC_RULE_DATATYPE_MISMATCH',
    bad: true,
    path: '/configuration/schema/1/minLength',
    mutate: (d) => (d.configuration.schema[1].minLength = 2),
  },
  {
    name: 'regexMatch on a boolean',
    code: 'SPEC_RULE_DATATYPE_MISMATCH',
    bad: true,
    mutate: (d) => (d.configuration.schema[3].regexMatch = '^t'),
  },
  {
    name: 'minValue on a string',
    code: 'SPEC_RULE_DATATYPE_MISMATCH',
    bad: true,
    mutate: (d) => (d.configuration.schema[0].minValue = 1),
  },
  {
    name: 'maxPrecision on an integer',
    code: 'SPEC_RULE_DATATYPE_MISMATCH',
    bad: true,
    mutate: (d) => (d.configuration.schema[1].maxPrecision = 1),
  },
  {
    name: 'fractional bounds on an integer',
    code: 'SPEC_RULE_DATATYPE_MISMATCH',
    bad: true,
    mutate: (d) => (d.configuration.schema[1].minValue = 0.5),
  },
  {
    name: 'minLength on array[string]',
    code: 'SPEC_RULE_DATATYPE_MISMATCH',
    bad: false,
    mutate: (d) => {
      d.configuration.schema[5].dataType = 'array[string]';
    },
  },
  {
    name: 'minValue > maxValue',
    code: 'SPEC_RULE_RANGE_INVERTED',
    bad: true,
    mutate: (d) => (d.configuration.schema[1].minValue = 11),
  },
  {
    name: 'minLength > maxLength',
    code: 'SPEC_RULE_RANGE_INVERTED',
    bad: true,
    mutate: (d) => (d.configuration.schema[0].minLength = 21),
  },
  {
    name: 'minValue == maxValue',
    code: 'SPEC_RULE_RANGE_INVERTED',
    bad: false,
    mutate: (d) => {
      d.configuration.schema[1].minValue = 2;
      d.configuration.schema[1].maxValue = 2;
    },
  },
  {
    name: 'regex with a backreference',
    code: 'SPEC_REGEX_INVALID',
    bad: true,
    path: '/configuration/schema/0/regexMatch',
    mutate: (d) => (d.configuration.schema[0].regexMatch = '^(a)\\1$'),
  },
  {
    name: 'regex with lookahead',
    code: 'SPEC_REGEX_INVALID',
    bad: true,
    mutate: (d) => (d.configuration.schema[0].regexMatch = '^(?=a)'),
  },
  {
    name: 'regex that does not parse',
    code: 'SPEC_REGEX_INVALID',
    bad: true,
    mutate: (d) => (d.configuration.schema[0].regexMatch = '([a-z'),
  },
  {
    name: 'the URL regex of the Margo examples',
    code: 'SPEC_REGEX_INVALID',
    bad: false,
    mutate: (d) => {
      d.configuration.schema[0].regexMatch =
        '^(http(s):\\/\\/.)[-a-zA-Z0-9@:%._\\+~#=]{2,256}\\.[a-z]{2,6}\\b([-a-zA-Z0-9@:%_\\+.~#?&//=]*)$';
      d.configuration.schema[0].maxLength = 100;
      d.parameters.greeting.value = 'https://example.com';
    },
  },
  // defaults satisfy their schema
  {
    name: 'default too long',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: true,
    path: '/parameters/greeting/value',
    mutate: (d) => (d.parameters.greeting.value = 'x'.repeat(21)),
  },
  {
    name: 'default failing the regex',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: true,
    mutate: (d) => (d.parameters.greeting.value = 'Hello!'),
  },
  {
    name: 'default out of range',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: true,
    mutate: (d) => (d.parameters.replicas.value = 11),
  },
  {
    name: 'default quoted integer',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: false,
    mutate: (d) => (d.parameters.replicas.value = '3'),
  },
  {
    name: 'default not an integer',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: true,
    mutate: (d) => (d.parameters.replicas.value = 2.5),
  },
  {
    name: 'default with too many decimals',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: true,
    mutate: (d) => (d.parameters.ratio.value = 0.125),
  },
  {
    name: 'default not an option',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: true,
    mutate: (d) => (d.parameters.colour.value = 'pink'),
  },
  {
    name: 'default "true" for a boolean',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: false,
    mutate: (d) => (d.parameters.debug.value = 'true'),
  },
  {
    name: 'default "yes" for a boolean',
    code: 'SPEC_DEFAULT_VALUE_INVALID',
    bad: true,
    mutate: (d) => (d.parameters.debug.value = 'yes'),
  },
  // select options match the dataType
  {
    name: 'integer select with a text option',
    code: 'SPEC_SELECT_OPTION_TYPE',
    bad: true,
    path: '/configuration/schema/1/options/1',
    mutate: (d) => (d.configuration.schema[1].options = [1, 'two']),
  },
  {
    name: 'integer select with quoted numbers',
    code: 'SPEC_SELECT_OPTION_TYPE',
    bad: false,
    mutate: (d) => (d.configuration.schema[1].options = [1, '2']),
  },
  {
    name: 'multiselect without options',
    code: 'SPEC_RULE_DATATYPE_MISMATCH',
    bad: true,
    mutate: (d) => (d.configuration.schema[0].multiselect = true),
  },
  // version
  {
    name: 'version written as a number',
    code: 'SPEC_VERSION_NOT_STRING',
    bad: true,
    mutate: (d) => (d.metadata.version = 1.5),
  },
  {
    name: 'version written as a string',
    code: 'SPEC_VERSION_NOT_STRING',
    bad: false,
    mutate: (d) => (d.metadata.version = '1.5'),
  },
]);

/** The base deployment turned into the rc.3 shape with one OCI Compose component. */
function rc3(d: Doc, revision: unknown): void {
  delete d.apiVersion;
  delete d.kind;
  d.id = d.metadata.annotations.id;
  d.spec.applicationId = d.metadata.annotations.applicationId;
  d.metadata.annotations = {};
  d.metadata.deviceId = 'edge-1';
  d.spec.deploymentProfile.components[0].properties = {
    repository: 'oci://registry.example/hello/hello-compose',
    revision,
  };
}

run('deployment', [
  {
    name: 'rc.3 shape without apiVersion/kind, revision with _ build metadata',
    code: 'SPEC_INVALID_REVISION',
    bad: false,
    mutate: (d) => rc3(d, '1.0.0-rc.1_build.7'),
  },
  {
    name: 'rc.3 revision with + (not an OCI tag)',
    code: 'SPEC_INVALID_REVISION',
    bad: true,
    path: '/spec/deploymentProfile/components/0/properties/revision',
    mutate: (d) => rc3(d, '1.0.0+build.7'),
  },
  {
    name: 'rc.3 revision with a leading v',
    code: 'SPEC_INVALID_REVISION',
    bad: true,
    mutate: (d) => rc3(d, 'v1.0.0'),
  },
  {
    name: 'deviceConstraints cpu architectures [riscv]',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: true,
    path: '/spec/deploymentProfile/deviceConstraints/capacityRequirements/cpu/architectures/0',
    mutate: (d) => {
      rc3(d, '1.0.0');
      d.spec.deploymentProfile.deviceConstraints = {
        capacityRequirements: { cpu: { cores: 1, architectures: ['riscv', 'riscv64'] } },
      };
    },
  },
  {
    name: 'annotations.id not a UUID',
    code: 'SPEC_INVALID_DEPLOYMENT_ID',
    bad: true,
    path: '/metadata/annotations/id',
    mutate: (d) => (d.metadata.annotations.id = 'nope'),
  },
  {
    name: 'top-level id (DM-B)',
    code: 'SPEC_ID_MISSING',
    bad: false,
    mutate: (d) => {
      d.id = d.metadata.annotations.id;
      delete d.metadata.annotations.id;
    },
  },
  {
    name: 'top-level id not a UUID',
    code: 'SPEC_INVALID_DEPLOYMENT_ID',
    bad: true,
    path: '/id',
    mutate: (d) => {
      d.id = 'x';
      delete d.metadata.annotations.id;
    },
  },
  {
    name: 'no deployment id',
    code: 'SPEC_ID_MISSING',
    bad: true,
    mutate: (d) => delete d.metadata.annotations.id,
  },
  {
    name: 'two different deployment ids',
    code: 'SPEC_ID_CONFLICT',
    bad: true,
    mutate: (d) => (d.id = '00000000-0000-0000-0000-000000000000'),
  },
  {
    name: 'applicationId with upper case',
    code: 'SPEC_INVALID_APPLICATION_ID',
    bad: true,
    mutate: (d) => (d.metadata.annotations.applicationId = 'Com-Example'),
  },
  {
    name: 'rc.3 spec.applicationId and deviceId',
    code: 'SPEC_REQUIRED_FIELD',
    bad: false,
    mutate: (d) => {
      d.spec.applicationId = d.metadata.annotations.applicationId;
      delete d.metadata.annotations.applicationId;
      d.metadata.deviceId = 'gw-1/child-2';
    },
  },
  {
    name: 'no applicationId',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    mutate: (d) => delete d.metadata.annotations.applicationId,
  },
  {
    name: 'two different applicationIds',
    code: 'SPEC_ID_CONFLICT',
    bad: true,
    mutate: (d) => (d.spec.applicationId = 'other'),
  },
  {
    name: 'bad deviceId',
    code: 'SPEC_PATTERN_MISMATCH',
    bad: true,
    mutate: (d) => (d.metadata.deviceId = 'a b'),
  },
  {
    name: 'missing namespace',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    path: '/metadata/namespace',
    mutate: (d) => delete d.metadata.namespace,
  },
  {
    name: 'parameter without value',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    mutate: (d) => delete d.spec.parameters.greeting.value,
  },
  {
    name: 'target naming a missing component',
    code: 'SPEC_UNKNOWN_TARGET_COMPONENT',
    bad: true,
    mutate: (d) => (d.spec.parameters.greeting.targets[0].components = ['x']),
  },
  {
    name: 'Compose pointer with a dotted path',
    code: 'SPEC_INVALID_POINTER',
    bad: true,
    mutate: (d) => (d.spec.parameters.greeting.targets[0].pointer = 'a.b'),
  },
  {
    name: 'duplicate components',
    code: 'SPEC_DUPLICATE_COMPONENT',
    bad: true,
    mutate: (d) => d.spec.deploymentProfile.components.push(clone(d.spec.deploymentProfile.components[0])),
  },
  {
    name: 'wrong kind',
    code: 'SPEC_UNKNOWN_KIND',
    bad: true,
    mutate: (d) => (d.kind = 'SomethingErroneous'),
  },
]);

run('status', [
  {
    name: 'N shape: no apiVersion/kind, deviceId, adoptedManifestVersion beyond 2^53, error.source',
    code: 'SPEC_INVALID_MANIFEST_VERSION',
    bad: false,
    mutate: (d) => {
      delete d.apiVersion;
      delete d.kind;
      d.deviceId = 'edge-1';
      d.adoptedManifestVersion = 18446744073709551615n;
      d.status = { state: 'failed', error: { code: 'X', message: 'm', source: 'web' } };
    },
  },
  {
    name: 'adoptedManifestVersion 0',
    code: 'SPEC_INVALID_MANIFEST_VERSION',
    bad: true,
    path: '/adoptedManifestVersion',
    mutate: (d) => (d.adoptedManifestVersion = 0),
  },
  {
    name: 'capitalised states (G24)',
    code: 'SPEC_UNKNOWN_STATE',
    bad: false,
    mutate: (d) => {
      d.status.state = 'Installing';
      d.components[0].state = 'Installed';
    },
  },
  {
    name: 'Success/Failure (G24 workflow page)',
    code: 'SPEC_UNKNOWN_STATE',
    bad: false,
    mutate: (d) => {
      d.status.state = 'Failure';
      d.components[0].state = 'Success';
    },
  },
  {
    name: 'an unknown overall state',
    code: 'SPEC_UNKNOWN_STATE',
    bad: true,
    path: '/status/state',
    mutate: (d) => (d.status.state = 'running'),
  },
  {
    name: 'an unknown component state',
    code: 'SPEC_UNKNOWN_STATE',
    bad: true,
    path: '/components/1/state',
    mutate: (d) => (d.components[1].state = 'done'),
  },
  {
    name: 'a component reported twice',
    code: 'SPEC_DUPLICATE_COMPONENT',
    bad: true,
    path: '/components/1/name',
    mutate: (d) => (d.components[1].name = 'db'),
  },
  {
    name: 'a deploymentId that is not a UUID',
    code: 'SPEC_INVALID_DEPLOYMENT_ID',
    bad: true,
    mutate: (d) => (d.deploymentId = 'x'),
  },
  {
    name: 'no apiVersion/kind (N drafts) with deviceId and error.source',
    code: 'SPEC_REQUIRED_FIELD',
    bad: false,
    mutate: (d) => {
      delete d.apiVersion;
      delete d.kind;
      d.deviceId = 'gw/child';
      d.status.error = { code: '102', message: 'unreachable', source: 'gw' };
    },
  },
  {
    name: 'no components list',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    path: '/components',
    mutate: (d) => delete d.components,
  },
  {
    name: 'G24 kind DeploymentStatus',
    code: 'SPEC_UNKNOWN_KIND',
    bad: false,
    mutate: (d) => {
      d.kind = 'DeploymentStatus';
      d.apiVersion = 'deployment.margo/v1';
    },
  },
]);

run('capabilities', [
  {
    name: 'lower-case roles (gateway draft)',
    code: 'SPEC_UNKNOWN_ROLE',
    bad: false,
    mutate: (d) => (d.properties.roles = ['standalone cluster', 'cluster leader', 'Gateway']),
  },
  {
    name: 'an unknown role',
    code: 'SPEC_UNKNOWN_ROLE',
    bad: true,
    path: '/properties/roles/0',
    mutate: (d) => (d.properties.roles = ['Edge Box']),
  },
  {
    name: 'fractional cores under cpu',
    code: 'SPEC_WRONG_TYPE',
    bad: true,
    path: '/properties/resources/cpu/cores',
    mutate: (d) => (d.properties.resources.cpu.cores = 2.5),
  },
  {
    name: 'cpu as a list (gateway draft)',
    code: 'SPEC_WRONG_TYPE',
    bad: false,
    mutate: (d) => (d.properties.resources.cpu = [{ cores: 4, architecture: 'x86_64' }]),
  },
  {
    name: 'an unknown architecture under cpu',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: true,
    mutate: (d) => (d.properties.resources.cpu.architecture = 'riscv'),
  },
  {
    name: 'no resources (gateway-only device)',
    code: 'SPEC_REQUIRED_FIELD',
    bad: false,
    mutate: (d) => {
      delete d.properties.resources;
      d.properties.roles = ['Gateway'];
    },
  },
  {
    name: 'no serialNumber',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    path: '/properties/serialNumber',
    mutate: (d) => delete d.properties.serialNumber,
  },
  {
    name: 'an id with a space',
    code: 'SPEC_PATTERN_MISMATCH',
    bad: true,
    mutate: (d) => (d.properties.id = 'edge 1'),
  },
  {
    name: 'a gateway path id',
    code: 'SPEC_PATTERN_MISMATCH',
    bad: false,
    mutate: (d) => (d.properties.id = 'gw-1/child-2'),
  },
  { name: 'wrong kind', code: 'SPEC_UNKNOWN_KIND', bad: true, mutate: (d) => (d.kind = 'SomeIncorrectKind') },
]);

run('capabilities', [
  {
    name: 'a free-text architecture under cpus that cannot be mapped',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: true,
    path: '/properties/resources/cpus/0/architecture',
    mutate: (d) => {
      d.properties.resources = { cpus: [{ architecture: 'PowerPC', cores: 4 }], memory: '8 GB' };
    },
  },
  {
    name: 'G24 free-text architecture Intel x64',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: false,
    mutate: (d) => {
      d.properties.resources = { cpus: [{ architecture: 'Intel x64', cores: 4 }] };
    },
  },
  {
    name: 'N properties.cpus[].architecture riscv (riscv64 is the name)',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: true,
    path: '/properties/cpus/1/architecture',
    mutate: (d) => {
      delete d.properties.resources;
      d.properties.cpus = [
        { cores: 2, architecture: 'arm64' },
        { cores: 2, architecture: 'riscv' },
      ];
    },
  },
  {
    name: 'DM resources.cpu.architectures [riscv]',
    code: 'SPEC_UNKNOWN_ARCHITECTURE',
    bad: true,
    path: '/properties/resources/cpu/architectures/0',
    mutate: (d) => (d.properties.resources.cpu = { cores: 4, architectures: ['riscv'] }),
  },
  {
    name: 'N supportedDeploymentTypes helmchart',
    code: 'SPEC_UNKNOWN_PROFILE_TYPE',
    bad: true,
    path: '/properties/supportedDeploymentTypes/0',
    mutate: (d) => (d.properties.supportedDeploymentTypes = ['helmchart']),
  },
]);

run(
  'capabilities',
  [
    {
      name: 'a memory quantity that cannot be read (warning)',
      code: 'SPEC_INVALID_QUANTITY',
      bad: true,
      path: '/properties/resources/memory',
      mutate: (d) => (d.properties.resources.memory = 'lots'),
    },
    {
      name: 'memory "64.0 GB" (G24)',
      code: 'SPEC_INVALID_QUANTITY',
      bad: false,
      mutate: (d) => (d.properties.resources.memory = '64.0 GB'),
    },
  ],
  'warning',
);

run('manifest', [
  {
    name: 'bundle null (no deployments)',
    code: 'SPEC_REQUIRED_FIELD',
    bad: false,
    mutate: (d) => {
      d.bundle = null;
      d.deployments = [];
    },
  },
  {
    name: 'a digest without algorithm',
    code: 'SPEC_PATTERN_MISMATCH',
    bad: true,
    path: '/deployments/0/digest',
    mutate: (d) => (d.deployments[0].digest = 'abc'),
  },
  {
    name: 'manifestVersion 0',
    code: 'SPEC_INVALID_MANIFEST_VERSION',
    bad: true,
    path: '/manifestVersion',
    mutate: (d) => (d.manifestVersion = 0),
  },
  {
    name: 'manifestVersion 2^64 (one too many)',
    code: 'SPEC_INVALID_MANIFEST_VERSION',
    bad: true,
    path: '/manifestVersion',
    mutate: (d) => (d.manifestVersion = '18446744073709551616'),
  },
  {
    name: 'manifestVersion 2^64-1',
    code: 'SPEC_INVALID_MANIFEST_VERSION',
    bad: false,
    mutate: (d) => (d.manifestVersion = '18446744073709551615'),
  },
  {
    name: 'a bad bundle media type: the first finding is the media type, not the null branch',
    code: 'SPEC_VALUE_NOT_ALLOWED',
    bad: true,
    path: '/bundle/mediaType',
    mutate: (d) => (d.bundle.mediaType = 'application/json'),
  },
  {
    name: 'manifestVersion as a decimal string',
    code: 'SPEC_SCHEMA_VIOLATION',
    bad: false,
    mutate: (d) => (d.manifestVersion = '18446744073709551615'),
  },
  {
    name: 'a deployment without url',
    code: 'SPEC_REQUIRED_FIELD',
    bad: true,
    mutate: (d) => delete d.deployments[0].url,
  },
]);

run(
  'app',
  [
    {
      name: 'a misspelt top-level field (warning)',
      code: 'SPEC_UNKNOWN_FIELD',
      bad: true,
      path: '/parameter',
      mutate: (d) => (d.parameter = {}),
    },
    {
      name: 'a misspelt component property (warning)',
      code: 'SPEC_UNKNOWN_FIELD',
      bad: true,
      path: '/deploymentProfiles/0/components/0/properties/revison',
      mutate: (d) => (d.deploymentProfiles[0].components[0].properties.revison = '1'),
    },
    {
      name: 'vendor extension fields',
      code: 'SPEC_UNKNOWN_FIELD',
      bad: false,
      mutate: (d) => {
        d['x-acme-extensions'] = { a: 1 };
        d.deploymentProfiles[0].components[0].properties['x-acme-extensions'] = {};
      },
    },
  ],
  'warning',
);
run(
  'deployment',
  [
    {
      name: 'an unknown field in spec (warning)',
      code: 'SPEC_UNKNOWN_FIELD',
      bad: true,
      path: '/spec/parameter',
      mutate: (d) => (d.spec.parameter = {}),
    },
  ],
  'warning',
);
