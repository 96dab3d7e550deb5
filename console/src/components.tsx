// Shared pieces: the confirmation dialog, error and notice boxes, the pager.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

/** A modal confirmation on the native <dialog> (focus trapping and Escape come with it). */
export function Confirm(props: { title: string; children: ComponentChildren; confirmLabel: string; onConfirm: () => void; onCancel: () => void; busy?: boolean; /** A dialog that only informs: one button, not styled as a danger. */ informOnly?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); props.onCancel(); }}>
      <h2 id="confirm-title">{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      <div class="actions">
        {props.informOnly ? null : <button type="button" onClick={props.onCancel}>Cancel</button>}
        <button type="button" class={props.informOnly ? 'primary' : 'danger'} disabled={props.busy} onClick={props.onConfirm}>{props.confirmLabel}</button>
      </div>
    </dialog>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as Error;
  return (
    <div class="error" role="alert">
      {error instanceof ApiError ? <code>{error.body.code}</code> : null} {e.message ?? String(error)}
    </div>
  );
}

export function Notice({ kind = 'info', children }: { kind?: 'info' | 'warn' | 'ok'; children: ComponentChildren }) {
  return <div class={`notice ${kind}`} role={kind === 'warn' ? 'alert' : 'status'}>{children}</div>;
}

export function Loading() {
  return <p class="muted" role="status">Loading…</p>;
}

export function Badge({ kind, children }: { kind: string; children: ComponentChildren }) {
  return <span class={`badge ${kind}`}>{children}</span>;
}

/** The item a confirmation dialog is open for, and the confirmed change, run once with its errors reported. */
export function useConfirmation<T>(onError: (e: unknown) => void) {
  const [target, setTarget] = useState<T>();
  const [busy, setBusy] = useState(false);
  const confirm = async (change: (t: T) => Promise<void>) => {
    if (target === undefined) return;
    setBusy(true);
    try {
      await change(target);
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
      setTarget(undefined);
    }
  };
  return { target, busy, ask: (t: T) => setTarget(t), cancel: () => setTarget(undefined), confirm };
}
