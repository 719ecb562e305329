import type { CodeTable } from './types.js';

/**
 * Stable error codes owned by the validation area (packages/spec): every finding of
 * `margo validate`, the document parsers and the parameter-value checks. Add entries; never
 * rename or remove one.
 */
export const validationCodes = {
  // --- input / YAML level -------------------------------------------------------------------
  SPEC_EMPTY_DOCUMENT: {
    summary: 'The file holds no document (empty, or only comments).',
    hint: 'Write a Margo document into the file or remove it.',
  },
  SPEC_NOT_UTF8: { summary: 'The file is not valid UTF-8 text.', hint: 'Save the file as UTF-8.' },
  SPEC_BINARY: {
    summary: 'The file looks binary (it contains NUL bytes).',
    hint: 'Only YAML or JSON text documents can be validated.',
  },
  SPEC_FILE_TOO_LARGE: {
    summary: 'The file is larger than the size limit for Margo documents.',
    hint: 'Margo documents are small; check that this is the right file.',
  },
  SPEC_TOO_DEEP: {
    summary: 'The document is nested deeper than the limit.',
    hint: 'Margo documents are shallow; flatten the structure.',
  },
  SPEC_MULTI_DOCUMENT: {
    summary: 'The file holds more than one YAML document (`---`).',
    hint: 'Put each document into its own file.',
  },
  SPEC_YAML_SYNTAX: {
    summary: 'The file is not well-formed YAML/JSON.',
    hint: 'Fix the syntax at the reported position.',
  },
  SPEC_YAML_DUPLICATE_KEY: {
    summary: 'A mapping has the same key twice.',
    hint: 'Remove or rename one of the keys.',
  },
  SPEC_YAML_ALIAS_LIMIT: {
    summary: 'The document uses too many YAML aliases (possible "billion laughs" attack).',
    hint: 'Write values out instead of using anchors and aliases.',
  },
  SPEC_NOT_AN_OBJECT: {
    summary: 'The document is not a mapping/object at the top level.',
    hint: 'A Margo document is a YAML mapping or JSON object.',
  },
  SPEC_UNKNOWN_KIND: {
    summary: 'The document kind is not a Margo kind that margo-gitops knows.',
    hint: 'Use kind ApplicationDescription, ApplicationDeployment, DeploymentStatus or DeviceCapabilities(Manifest).',
  },
  // --- schema level -------------------------------------------------------------------------
  SPEC_REQUIRED_FIELD: {
    summary: 'A required field is missing.',
    hint: 'Add the field named in the message.',
  },
  SPEC_WRONG_TYPE: { summary: 'A field has the wrong type.', hint: 'Use the type named in the message.' },
  SPEC_VALUE_NOT_ALLOWED: {
    summary: 'A field has a value outside the allowed set.',
    hint: 'Use one of the values named in the message.',
  },
  SPEC_PATTERN_MISMATCH: { summary: 'A field does not match its required pattern.' },
  SPEC_UNKNOWN_FIELD: {
    summary: 'A field is not part of the Margo document and is ignored (a warning).',
    hint: 'Check the spelling; vendor extensions start with x-.',
  },
  SPEC_SCHEMA_VIOLATION: { summary: 'The document breaks its JSON Schema.' },
  SPEC_INVALID_APPLICATION_ID: {
    summary: 'An application id breaks the id rule: only a-z, 0-9 and "-", 1 to 200 characters.',
    hint: 'Use lower-case letters, digits and dashes only, e.g. com-example-hello-world.',
  },
  SPEC_INVALID_DEPLOYMENT_ID: {
    summary: 'A deployment id is not a UUID.',
    hint: 'Use a UUID such as a3e2f5dc-912e-494f-8395-52cf3769bc06.',
  },
  SPEC_ID_MISSING: {
    summary: 'The document has no id (neither top-level `id` nor the id inside `metadata`).',
  },
  SPEC_ID_CONFLICT: {
    summary: 'The document gives two different ids (top-level and inside metadata).',
    hint: 'Keep one id placement.',
  },
  SPEC_UNKNOWN_PROFILE_TYPE: {
    summary: 'A deployment profile type is not helm.v3, helm, docker-compose or compose.',
  },
  SPEC_INVALID_COMPONENT_NAME: {
    summary: 'A component name breaks the rule: lower-case letters, digits and dashes.',
  },
  SPEC_UNKNOWN_ARCHITECTURE: {
    summary: 'A CPU architecture is not one Margo knows (amd64, x86_64, arm64, arm, riscv64, other).',
  },
  SPEC_INVALID_QUANTITY: {
    summary: 'A memory or storage quantity is not a number with a binary unit (e.g. 512Mi, 4Gi).',
  },
  SPEC_UNKNOWN_DATA_TYPE: { summary: 'A configuration schema names an unknown dataType.' },
  // --- rules beyond the schema --------------------------------------------------------------
  SPEC_DUPLICATE_PROFILE_ID: { summary: 'Two deployment profiles have the same id.' },
  SPEC_DUPLICATE_COMPONENT: { summary: 'Two components of one deployment profile have the same name.' },
  SPEC_COMPONENT_PROPERTY_MISSING: {
    summary:
      'A component lacks a property its profile type requires (Helm: repository + revision; Compose: packageLocation or repository).',
  },
  SPEC_INVALID_TIMEOUT: { summary: 'A component timeout is not in the form ##m##s (e.g. 8m30s).' },
  SPEC_INVALID_WAIT: { summary: 'A component `wait` is neither true nor false.' },
  SPEC_UNKNOWN_TARGET_COMPONENT: {
    summary: 'A parameter target names a component that no deployment profile has.',
    hint: 'Use the name of a component listed under deploymentProfiles.',
  },
  SPEC_INVALID_POINTER: {
    summary:
      'A parameter target pointer does not fit its profile (Helm: dotted values path; Compose: ENV.NAME or NAME).',
  },
  SPEC_UNKNOWN_SETTING_PARAMETER: {
    summary: 'A configuration setting names a parameter that does not exist.',
  },
  SPEC_UNKNOWN_SETTING_SCHEMA: {
    summary: 'A configuration setting names a schema rule that does not exist.',
  },
  SPEC_DUPLICATE_SETTING: { summary: 'Two configuration settings configure the same parameter.' },
  SPEC_DUPLICATE_SCHEMA_RULE: { summary: 'Two configuration schema rules have the same name.' },
  SPEC_RULE_DATATYPE_MISMATCH: {
    summary:
      'A schema rule uses a constraint that does not apply to its dataType (e.g. minLength on an integer).',
  },
  SPEC_RULE_RANGE_INVERTED: { summary: 'A schema rule has a minimum greater than its maximum.' },
  SPEC_DEFAULT_VALUE_INVALID: {
    summary: 'A parameter default value does not satisfy its configuration schema.',
  },
  SPEC_SELECT_OPTION_TYPE: { summary: 'A select option does not match the schema dataType.' },
  SPEC_VERSION_NOT_STRING: {
    summary: 'The application version was written as a YAML number; it is read as a string.',
    hint: 'Quote the version, e.g. version: "1.0".',
  },
  SPEC_REGEX_INVALID: {
    summary:
      'A regexMatch pattern is invalid or uses syntax the safe (RE2) engine does not support (backreferences, lookaround).',
    hint: 'Rewrite the pattern without backreferences or lookaround.',
  },
  SPEC_UNKNOWN_ROLE: { summary: 'A device role is not one Margo knows.' },
  SPEC_UNKNOWN_STATE: {
    summary: 'A deployment state is not one of pending, installing, installed, failed, removing, removed.',
  },
  SPEC_UNKNOWN_PARAMETER: { summary: 'A deployment sets a parameter the application does not declare.' },
  SPEC_INVALID_REVISION: {
    summary: 'An OCI component revision (rc.2/rc.3 type helm or compose) is not a SemVer 2.0 tag.',
    hint: 'Write the version without a leading v, e.g. 1.2.3 or 1.2.3-rc.1; build metadata follows "_" (1.2.3_build.7), since OCI tags cannot hold "+".',
  },
  SPEC_INVALID_MANIFEST_VERSION: {
    summary:
      'A state manifest version (manifestVersion, adoptedManifestVersion) is not an integer from 1 to 2^64-1.',
    hint: 'Write a whole number of at least 1 (a JSON number or a decimal string); the first manifest is 1.',
  },
  // --- parameter values ---------------------------------------------------------------------
  SPEC_VALUE_REQUIRED: { summary: 'A configuration value is required but empty or missing.' },
  SPEC_VALUE_TYPE: { summary: 'A configuration value does not match the dataType of its schema.' },
  SPEC_VALUE_TOO_SHORT: { summary: 'A text value is shorter than minLength.' },
  SPEC_VALUE_TOO_LONG: { summary: 'A text value is longer than maxLength.' },
  SPEC_VALUE_REGEX_MISMATCH: { summary: 'A text value does not match the regexMatch of its schema.' },
  SPEC_VALUE_OUT_OF_RANGE: { summary: 'A number is outside minValue..maxValue.' },
  SPEC_VALUE_PRECISION: {
    summary: 'A decimal value has fewer or more decimal places than min/maxPrecision allow.',
  },
  SPEC_VALUE_NOT_AN_OPTION: { summary: 'A select value is not one of the options.' },
  SPEC_VALUE_IMMUTABLE: {
    summary: 'An immutable setting was changed after the first install.',
    hint: 'Remove and re-install the application to change it.',
  },
  SPEC_VALUE_NOT_CONFIGURABLE: {
    summary: 'A value was given for a parameter that no configuration setting exposes.',
  },
  // --- application packages -----------------------------------------------------------------
  SPEC_PACKAGE_NO_DESCRIPTION: { summary: 'An application package folder has no margo.yaml.' },
  SPEC_PACKAGE_RESOURCE_MISSING: {
    summary: 'The catalog refers to a file that is not in the application package.',
    hint: 'Add the file under the package folder or fix the path.',
  },
} as const satisfies CodeTable;
