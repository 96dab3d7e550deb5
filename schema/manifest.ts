// The Kubernetes form of a token: Teleport's operator declares tokens as TeleportProvisionToken
// custom resources (apiVersion resources.teleport.dev/v2), and the EC2 guide creates its token
// that way too. Joinery has no operator yet, but reads the manifest wherever it reads a token
// document, mapping it to the same token: the Kubernetes object's name and labels are the token's,
// its spec is the token spec. Kubernetes bookkeeping (namespace, annotations, uid, status, ...)
// has no meaning for a token and is dropped.

import { TOKEN_KIND, TOKEN_VERSION, TokenValidationError } from './token';
import { isObject, type Obj } from './values';

export const KUBERNETES_API_VERSION = 'resources.teleport.dev/v2';
export const KUBERNETES_KIND = 'TeleportProvisionToken';

/** Kubernetes metadata fields that a kubectl export carries and that mean nothing to a token. */
const KUBERNETES_ONLY_METADATA = ['namespace', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'finalizers', 'ownerReferences', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generateName'];


/** Whether a document is a TeleportProvisionToken manifest (of any apiVersion: checked on mapping). */
export function isKubernetesManifest(doc: unknown): boolean {
  return isObject(doc) && doc.kind === KUBERNETES_KIND;
}

/**
 * The token document a manifest stands for; other documents are returned unchanged. A manifest of
 * another apiVersion, or with metadata Joinery cannot map, is refused with the field.
 */
export function fromKubernetesManifest(doc: unknown): unknown {
  if (!isKubernetesManifest(doc)) return doc;
  const m = doc as Obj;
  const errors: { field: string; message: string }[] = [];
  if (m.apiVersion !== KUBERNETES_API_VERSION) {
    errors.push({ field: 'apiVersion', message: `a ${KUBERNETES_KIND} must have apiVersion ${KUBERNETES_API_VERSION} (got ${JSON.stringify(m.apiVersion)})` });
  }
  for (const key of Object.keys(m)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(key)) errors.push({ field: key, message: 'unknown field; expected one of apiVersion, kind, metadata, spec' });
  }
  const metadata: Obj = {};
  if (!isObject(m.metadata)) errors.push({ field: 'metadata', message: 'is required and must be an object with at least a name' });
  else {
    for (const [key, value] of Object.entries(m.metadata)) {
      if (key === 'name' || key === 'labels') metadata[key] = value;
      else if (!KUBERNETES_ONLY_METADATA.includes(key)) errors.push({ field: `metadata.${key}`, message: 'unknown field; expected one of name, labels (and Kubernetes bookkeeping such as namespace or annotations)' });
    }
  }
  if (errors.length) throw new TokenValidationError(errors);
  return { kind: TOKEN_KIND, version: TOKEN_VERSION, metadata, spec: m.spec };
}
