// The tfplugin6.Provider service: decodes requests, runs the provider logic, encodes answers.
// Every failure is answered with diagnostics; a gRPC error would make Terraform print a stack
// of transport messages instead of the problem.

import type * as grpc from '@grpc/grpc-js';
import { JoineryClient } from '../client/api-client';
import { decodeDynamic, decodeJson, dynamic, type CtyObject, type CtyType, type CtyValue, typeJson } from './cty';
import { resolveProviderConfig, validateProviderConfig } from './config';
import { error, toProto, type Diagnostic } from './diagnostics';
import { applyToken, importName, importToken, planToken, readToken, readTokenDataSource, tokenIdentity } from './resource';
import { LOCK_T, lockProtocol } from './lock-protocol';
import { encodePrivate, privateField } from './private-state';
import { DATA_SOURCE_SCHEMA, DATA_SOURCE_TYPE, IDENTITY_TYPE, LOCK_RESOURCE_TYPE, LOCK_SCHEMA, PROVIDER_SCHEMA, RESOURCE_IDENTITY, RESOURCE_SCHEMA, RESOURCE_TYPE, schemaType, type Attr, type Schema } from './schema';
import { validateResourceConfig } from './token-state';

const PROVIDER_T = schemaType(PROVIDER_SCHEMA);
const RESOURCE_T = schemaType(RESOURCE_SCHEMA);
const DATA_T = schemaType(DATA_SOURCE_SCHEMA);

type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Handler = (req: Req) => Promise<Record<string, unknown>> | Record<string, unknown>;

function attrProto(a: Attr): Record<string, unknown> {
  return {
    name: a.name,
    type: a.type ? Buffer.from(JSON.stringify(typeJson(a.type))) : Buffer.alloc(0),
    nested_type: a.nested ? { attributes: a.nested.attributes.map(attrProto), nesting: a.nested.nesting.toUpperCase() } : undefined,
    description: a.description,
    description_kind: 'PLAIN',
    required: !!a.required,
    optional: !!a.optional,
    computed: !!a.computed,
    sensitive: !!a.sensitive,
  };
}

function schemaProto(s: Schema): Record<string, unknown> {
  return { version: s.version, block: { version: s.version, attributes: s.attributes.map(attrProto), block_types: [], description: s.description, description_kind: 'PLAIN' } };
}

function diagList(diags: Diagnostic[]): Record<string, unknown>[] {
  return diags.map(toProto);
}

function identitySchemaProto(): Record<string, unknown> {
  return {
    version: RESOURCE_IDENTITY.version,
    identity_attributes: RESOURCE_IDENTITY.attributes.map((a) => ({
      name: a.name,
      type: Buffer.from(JSON.stringify(typeJson(a.type))),
      required_for_import: a.requiredForImport,
      optional_for_import: !a.requiredForImport,
      description: a.description,
    })),
  };
}

/** ResourceIdentityData on the wire; absent (not an empty message) when there is no identity. */
function identityData(identity: CtyObject | null): { identity_data: { msgpack: Buffer } } | undefined {
  return identity ? { identity_data: dynamic(identity, IDENTITY_TYPE) } : undefined;
}

function decodeIdentity(data: { identity_data?: Req } | null | undefined): CtyObject | null {
  return decodeDynamic(data?.identity_data, IDENTITY_TYPE) as CtyObject | null;
}

export class ProviderService {
  private client?: JoineryClient;
  private configureDiagnostics: Diagnostic[] = [error('Provider not configured', 'Terraform did not configure the teleport provider before using it.')];

  constructor(private readonly onStop: () => void = () => {}) {}

  private typeFor(typeName: string, kind: 'resource' | 'data'): CtyType {
    if (kind === 'resource' && typeName === LOCK_RESOURCE_TYPE) return LOCK_T;
    const expected = kind === 'resource' ? RESOURCE_TYPE : DATA_SOURCE_TYPE;
    if (typeName !== expected) throw new UnknownTypeError(`this provider has no ${kind === 'resource' ? 'resource' : 'data source'} type ${JSON.stringify(typeName)}`);
    return kind === 'resource' ? RESOURCE_T : DATA_T;
  }

  private requireClient(): JoineryClient | Diagnostic[] {
    return this.client ?? this.configureDiagnostics;
  }

  readonly handlers: Record<string, Handler> = {
    GetMetadata: () => ({
      server_capabilities: { plan_destroy: false, get_provider_schema_optional: false },
      diagnostics: [],
      resources: [{ type_name: RESOURCE_TYPE }, { type_name: LOCK_RESOURCE_TYPE }],
      data_sources: [{ type_name: DATA_SOURCE_TYPE }],
    }),

    GetProviderSchema: () => ({
      provider: schemaProto(PROVIDER_SCHEMA),
      resource_schemas: { [RESOURCE_TYPE]: schemaProto(RESOURCE_SCHEMA), [LOCK_RESOURCE_TYPE]: schemaProto(LOCK_SCHEMA) },
      data_source_schemas: { [DATA_SOURCE_TYPE]: schemaProto(DATA_SOURCE_SCHEMA) },
      diagnostics: [],
      server_capabilities: { plan_destroy: false, get_provider_schema_optional: false },
    }),

    // Terraform 1.12+ asks for identity schemas beside GetProviderSchema; older clients never do.
    GetResourceIdentitySchemas: () => ({ identity_schemas: { [RESOURCE_TYPE]: identitySchemaProto() }, diagnostics: [] }),

    UpgradeResourceIdentity: (req) => {
      // One identity version so far: nothing older to upgrade from. A lock has no identity.
      if (req.type_name !== RESOURCE_TYPE) throw new UnknownTypeError(`${JSON.stringify(req.type_name)} has no resource identity`);
      if (Number(req.version) !== RESOURCE_IDENTITY.version) {
        return { diagnostics: diagList([error('Cannot upgrade resource identity', `identity version ${req.version} is unknown to this provider (it writes version ${RESOURCE_IDENTITY.version}); use the provider version that wrote the state`)]) };
      }
      return { upgraded_identity: identityData(decodeJson(req.raw_identity?.json, IDENTITY_TYPE) as CtyObject | null), diagnostics: [] };
    },

    ValidateProviderConfig: (req) => ({ diagnostics: diagList(validateProviderConfig(decodeDynamic(req.config, PROVIDER_T) as CtyObject)) }),

    ConfigureProvider: (req) => {
      const { options, diagnostics } = resolveProviderConfig(decodeDynamic(req.config, PROVIDER_T) as CtyObject);
      this.configureDiagnostics = diagnostics;
      // Named in every request, so the tokens it writes are recorded as Terraform's.
      this.client = options ? new JoineryClient({ ...options, client: 'terraform' }) : undefined;
      return { diagnostics: diagList(diagnostics) };
    },

    ValidateResourceConfig: (req) => {
      if (req.type_name === LOCK_RESOURCE_TYPE) return lockProtocol.validate(req);
      const config = decodeDynamic(req.config, this.typeFor(req.type_name, 'resource')) as CtyObject;
      return { diagnostics: diagList(validateResourceConfig(config)) };
    },

    ValidateDataResourceConfig: (req) => {
      this.typeFor(req.type_name, 'data');
      return { diagnostics: [] };
    },

    UpgradeResourceState: (req) => {
      // One schema version so far: re-encoding the JSON state with the current type adds
      // attributes that are new (as null) and drops ones that no longer exist.
      const t = this.typeFor(req.type_name, 'resource');
      const json = req.raw_state?.json;
      if (!json || json.length === 0) {
        return { diagnostics: diagList([error('Cannot upgrade state', 'the state of this resource is in the legacy flatmap format, which this provider never wrote')]) };
      }
      return { upgraded_state: dynamic(decodeDynamic({ json }, t), t), diagnostics: [] };
    },

    ReadResource: async (req) => {
      if (req.type_name === LOCK_RESOURCE_TYPE) return lockProtocol.read(req, this.requireClient());
      const t = this.typeFor(req.type_name, 'resource');
      const prior = decodeDynamic(req.current_state, t) as CtyObject | null;
      if (!prior) return { new_state: dynamic(null, t), diagnostics: [] };
      const client = this.requireClient();
      if (Array.isArray(client)) return { new_state: req.current_state, diagnostics: diagList(client), new_identity: req.current_identity };
      const { newState, diagnostics, revision } = await readToken(client, prior);
      return { new_state: dynamic(newState, t), diagnostics: diagList(diagnostics), private: revision ? revisionPrivate(revision) : req.private, new_identity: identityData(tokenIdentity(newState)) };
    },

    PlanResourceChange: (req) => {
      if (req.type_name === LOCK_RESOURCE_TYPE) return lockProtocol.plan(req);
      const t = this.typeFor(req.type_name, 'resource');
      const prior = decodeDynamic(req.prior_state, t) as CtyObject | null;
      const proposed = decodeDynamic(req.proposed_new_state, t) as CtyObject | null;
      const config = decodeDynamic(req.config, t) as CtyObject | null;
      const { planned, requiresReplace, diagnostics } = planToken(prior, proposed, config);
      return {
        planned_state: dynamic(planned, t),
        requires_replace: requiresReplace.map((p) => toProto(error('', '', p)).attribute),
        planned_private: req.prior_private,
        diagnostics: diagList(diagnostics),
        planned_identity: identityData(tokenIdentity(planned)),
      };
    },

    ApplyResourceChange: async (req) => {
      if (req.type_name === LOCK_RESOURCE_TYPE) return lockProtocol.apply(req, this.requireClient());
      const t = this.typeFor(req.type_name, 'resource');
      const prior = decodeDynamic(req.prior_state, t) as CtyObject | null;
      const planned = decodeDynamic(req.planned_state, t) as CtyObject | null;
      const client = this.requireClient();
      if (Array.isArray(client)) return { new_state: dynamic(prior, t), diagnostics: diagList(client) };
      const { newState, diagnostics, revision } = await applyToken(client, prior, planned, privateRevision(req.planned_private));
      return { new_state: dynamic(newState, t), diagnostics: diagList(diagnostics), private: revision ? revisionPrivate(revision) : req.planned_private, new_identity: identityData(tokenIdentity(newState)) };
    },

    ImportResourceState: async (req) => {
      if (req.type_name === LOCK_RESOURCE_TYPE) return lockProtocol.import(req, this.requireClient());
      const t = this.typeFor(req.type_name, 'resource');
      const client = this.requireClient();
      if (Array.isArray(client)) return { imported_resources: [], diagnostics: diagList(client) };
      const name = importName(String(req.id ?? ''), decodeIdentity(req.identity));
      if (typeof name !== 'string') return { imported_resources: [], diagnostics: diagList([name]) };
      const { newState, diagnostics, revision } = await importToken(client, name);
      return {
        imported_resources: newState
          ? [{ type_name: RESOURCE_TYPE, state: dynamic(newState, t), private: revision ? revisionPrivate(revision) : undefined, identity: identityData(tokenIdentity(newState)) }]
          : [],
        diagnostics: diagList(diagnostics),
      };
    },

    ReadDataSource: async (req) => {
      const t = this.typeFor(req.type_name, 'data');
      const config = decodeDynamic(req.config, t) as CtyObject;
      const client = this.requireClient();
      if (Array.isArray(client)) return { state: dynamic(null, t), diagnostics: diagList(client) };
      const { newState, diagnostics } = await readTokenDataSource(client, config);
      return { state: dynamic(newState ?? (config as CtyValue), t), diagnostics: diagList(diagnostics) };
    },

    StopProvider: () => {
      this.onStop();
      return { Error: '' };
    },
  };

  /** grpc-js unary handlers for every RPC above. */
  grpcImplementation(): grpc.UntypedServiceImplementation {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(this.handlers)) {
      impl[name] = (call: grpc.ServerUnaryCall<Req, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        Promise.resolve()
          .then(() => handler(call.request))
          .then(
            (res) => callback(null, res),
            (e: unknown) => {
              // Bugs and malformed requests still reach the user as one diagnostic.
              const summary = e instanceof UnknownTypeError ? 'Unsupported type' : 'Internal error in the teleport provider';
              process.stderr.write(`[ERROR] ${name}: ${e instanceof Error ? e.stack : String(e)}\n`);
              callback(null, { diagnostics: [toProto(error(summary, e instanceof Error ? e.message : String(e)))] });
            },
          );
      };
    }
    return impl;
  }
}

class UnknownTypeError extends Error {}

// The token's private state is its server revision, so updates are conditional on the token being
// as Terraform last saw it (absent: written by another provider version, update unconditionally).
const revisionPrivate = (revision: string) => encodePrivate({ revision });
const privateRevision = (bytes: Uint8Array | undefined | null) => privateField(bytes, 'revision');
