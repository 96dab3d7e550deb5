// A new token, from a form per join method or from YAML. The server validates (schema/token.ts);
// its field-level errors are shown at the input they name.

import { useState } from 'preact/hooks';
import { LOCAL_SERVICE_ROLES } from '../../../schema/roles';
import { api, ApiError } from '../api';
import { ErrorBox, Notice } from '../components';
import type { AllowRule, Token } from '../tokens-model';

type Method = 'ec2' | 'iam' | 'token';
const EXPIRY_CHOICES = [
  { label: '30 minutes', ms: 30 * 60_000 },
  { label: '1 hour', ms: 3600_000 },
  { label: '1 day', ms: 24 * 3600_000 },
  { label: '7 days', ms: 7 * 24 * 3600_000 },
];
const YAML_EXAMPLE = `kind: token
version: v2
metadata:
  name: iam-token
spec:
  roles: [Node]
  join_method: iam
  allow:
    - aws_account: "333333333333"
      aws_arn: "arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*"
`;

interface RuleRow {
  aws_account: string;
  aws_regions: string;
  aws_role: string;
  aws_arn: string;
}
const emptyRule = (): RuleRow => ({ aws_account: '', aws_regions: '', aws_role: '', aws_arn: '' });

function toRule(r: RuleRow, method: Method): AllowRule {
  const rule: AllowRule = {};
  if (r.aws_account.trim()) rule.aws_account = r.aws_account.trim();
  if (method === 'ec2') {
    const regions = r.aws_regions.split(/[\s,]+/).filter(Boolean);
    if (regions.length) rule.aws_regions = regions;
    if (r.aws_role.trim()) rule.aws_role = r.aws_role.trim();
  }
  if (method === 'iam' && r.aws_arn.trim()) rule.aws_arn = r.aws_arn.trim();
  return rule;
}

/** An input with its label and the server's error for its field path. */
function Field(props: { id: string; label: string; field: string; errors: Record<string, string>; value: string; onInput: (v: string) => void; hint?: string; placeholder?: string; required?: boolean }) {
  const err = props.errors[props.field];
  const describedBy = [props.hint ? `${props.id}-hint` : '', err ? `${props.id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input id={props.id} type="text" value={props.value} placeholder={props.placeholder} required={props.required} aria-invalid={err ? 'true' : undefined} aria-describedby={describedBy} onInput={(e) => props.onInput(e.currentTarget.value)} data-field={props.field} />
      {props.hint ? <p id={`${props.id}-hint`} class="hint">{props.hint}</p> : null}
      {err ? <p id={`${props.id}-error`} class="field-error">{err}</p> : null}
    </div>
  );
}

export function TokenForm({ onDone, onCancel }: { onDone: (message: string) => void; onCancel: () => void }) {
  const [source, setSource] = useState<'form' | 'yaml'>('form');
  const [method, setMethod] = useState<Method>('iam');
  const [name, setName] = useState('');
  const [roles, setRoles] = useState<string[]>(['Node']);
  const [rules, setRules] = useState<RuleRow[]>([emptyRule()]);
  const [ttl, setTtl] = useState(EXPIRY_CHOICES[1].ms);
  const [yaml, setYaml] = useState(YAML_EXAMPLE);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Token>();

  const body = (): Token => {
    const allow = method === 'token' ? undefined : rules.map((r) => toRule(r, method));
    return {
      kind: 'token',
      version: 'v2',
      // An empty name for the token method: the server generates the secret.
      metadata: { name: method === 'token' ? '' : name.trim(), ...(method === 'token' ? { expires: new Date(Date.now() + ttl).toISOString() } : {}) },
      spec: { roles, join_method: method, ...(allow ? { allow } : {}) },
    };
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError(undefined);
    try {
      const t = source === 'yaml' ? await api<Token>('POST', '/v1/tokens', yaml, { yaml: true }) : await api<Token>('POST', '/v1/tokens', body());
      if (t.spec.join_method === 'token') setCreated(t);
      else onDone(`Created ${t.spec.join_method} token ${t.metadata.name}.`);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fieldErrors()).length && source === 'form') {
        setErrors(err.fieldErrors());
        const first = document.querySelector<HTMLInputElement>(`[data-field="${CSS.escape(Object.keys(err.fieldErrors())[0])}"]`);
        if (first) first.focus();
        else setError(err);
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    return (
      <section class="card" aria-labelledby="created-h">
        <h1 id="created-h">Token created</h1>
        <Notice kind="warn">This is the only time the console shows the secret without being asked: copy it now.</Notice>
        <p>Secret: <code class="secret">{created.metadata.name}</code></p>
        <p>Expires {relativeTime(created.metadata.expires)}. Join a host with <code>joinery join --method token --token &lt;secret&gt; …</code></p>
        <button type="button" class="primary" onClick={() => onDone('Created a token-method token.')}>Done</button>
      </section>
    );
  }

  const setRule = (i: number, k: keyof RuleRow, v: string) => setRules(rules.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  return (
    <form onSubmit={submit} class="token-form" aria-labelledby="new-token-h" noValidate>
      <div class="page-head">
        <h1 id="new-token-h">New token</h1>
      </div>
      <fieldset class="segmented">
        <legend>Write it as</legend>
        <label><input type="radio" name="source" checked={source === 'form'} onChange={() => setSource('form')} /> Form</label>
        <label><input type="radio" name="source" checked={source === 'yaml'} onChange={() => setSource('yaml')} /> YAML</label>
      </fieldset>
      {source === 'yaml' ? (
        <div class="field">
          <label for="token-yaml">Token resource (YAML, as <code>joinery create -f</code> takes it)</label>
          <textarea id="token-yaml" rows={14} spellcheck={false} value={yaml} onInput={(e) => setYaml(e.currentTarget.value)} />
        </div>
      ) : (
        <>
          <fieldset class="segmented">
            <legend>Join method</legend>
            {(['ec2', 'iam', 'token'] as Method[]).map((m) => (
              <label key={m}><input type="radio" name="method" value={m} checked={method === m} onChange={() => setMethod(m)} /> {m}</label>
            ))}
          </fieldset>
          {method === 'token' ? (
            <div class="field">
              <label for="token-ttl">Expires after</label>
              <select id="token-ttl" value={String(ttl)} onChange={(e) => setTtl(Number(e.currentTarget.value))}>
                {EXPIRY_CHOICES.map((c) => <option key={c.ms} value={String(c.ms)}>{c.label}</option>)}
              </select>
              <p class="hint">The server generates the secret (32 hex characters). Short lifetimes limit what a leaked secret can do.</p>
              {errors['metadata.expires'] ? <p class="field-error">{errors['metadata.expires']}</p> : null}
            </div>
          ) : (
            <Field id="token-name" label="Name" field="metadata.name" errors={errors} value={name} onInput={setName} placeholder={`${method}-token`} required />
          )}
          <fieldset class="roles" aria-describedby={errors['spec.roles'] ? 'roles-error' : undefined}>
            <legend>Roles</legend>
            {LOCAL_SERVICE_ROLES.map((r) => (
              <label key={r}>
                <input type="checkbox" checked={roles.includes(r)} data-field={r === 'Node' ? 'spec.roles' : undefined} onChange={(e) => setRoles(e.currentTarget.checked ? [...roles, r] : roles.filter((x) => x !== r))} /> {r}
              </label>
            ))}
            {errors['spec.roles'] ? <p id="roles-error" class="field-error">{errors['spec.roles']}</p> : null}
          </fieldset>
          {method !== 'token' ? (
            <fieldset class="rules">
              <legend>Allow rules (a host joins when it matches any one)</legend>
              {errors['spec.allow'] ? <p class="field-error">{errors['spec.allow']}</p> : null}
              {rules.map((r, i) => (
                <div class="rule" key={i}>
                  <Field id={`rule-${i}-account`} label="AWS account" field={`spec.allow[${i}].aws_account`} errors={errors} value={r.aws_account} onInput={(v) => setRule(i, 'aws_account', v)} placeholder="111111111111" />
                  {method === 'ec2' ? (
                    <>
                      <Field id={`rule-${i}-regions`} label="Regions" field={`spec.allow[${i}].aws_regions`} errors={errors} value={r.aws_regions} onInput={(v) => setRule(i, 'aws_regions', v)} placeholder="us-west-2, eu-west-1" hint="Comma or space separated; empty allows every region." />
                      <Field id={`rule-${i}-role`} label="Role to assume (other accounts)" field={`spec.allow[${i}].aws_role`} errors={errors} value={r.aws_role} onInput={(v) => setRule(i, 'aws_role', v)} placeholder="arn:aws:iam::222222222222:role/teleport-DescribeInstances-role" />
                    </>
                  ) : (
                    <Field id={`rule-${i}-arn`} label="Caller ARN (glob)" field={`spec.allow[${i}].aws_arn`} errors={errors} value={r.aws_arn} onInput={(v) => setRule(i, 'aws_arn', v)} placeholder="arn:aws:sts::111111111111:assumed-role/teleport-node-role/*" />
                  )}
                  {rules.length > 1 ? <button type="button" onClick={() => setRules(rules.filter((_, j) => j !== i))} aria-label={`Remove rule ${i + 1}`}>Remove rule</button> : null}
                </div>
              ))}
              <button type="button" onClick={() => setRules([...rules, emptyRule()])}>Add rule</button>
            </fieldset>
          ) : null}
        </>
      )}
      <ErrorBox error={error} />
      <div class="actions">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Creating…' : 'Create token'}</button>
      </div>
    </form>
  );
}

function relativeTime(iso?: string): string {
  return iso ? `at ${new Date(iso).toISOString().replace('T', ' ').slice(0, 16)} UTC` : 'never';
}
