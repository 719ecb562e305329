/**
 * A modal dialog (role=dialog, aria-modal) that keeps focus inside while open (Tab and Shift+Tab
 * wrap), closes on Escape, and gives focus back to what opened it.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Dialog({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const el = box.current;
    const first =
      el?.querySelector<HTMLElement>('[data-autofocus]') ?? el?.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    const onKey = (e: KeyboardEvent): void => {
      if (!el) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
        return;
      }
      if (e.key !== 'Tab') return;
      const items = [...el.querySelectorAll<HTMLElement>(FOCUSABLE)];
      if (!items.length) return;
      const a = items[0]!;
      const z = items[items.length - 1]!;
      const inside = el.contains(document.activeElement);
      if (e.shiftKey && (document.activeElement === a || !inside)) {
        e.preventDefault();
        z.focus();
      } else if (!e.shiftKey && (document.activeElement === z || !inside)) {
        e.preventDefault();
        a.focus();
      }
    };
    document.addEventListener('keydown', onKey, true);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      if (opener && document.contains(opener)) opener.focus();
    };
  }, []);
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title" ref={box}>
        <h2 id="dialog-title">{title}</h2>
        {children}
      </div>
    </div>
  );
}

/**
 * A dialog asking before a change: its text, the (danger) button making the change, and Cancel,
 * which has focus first. While busy the change cannot be made again nor the dialog closed other
 * than with Cancel; `busyNote` is shown meanwhile.
 */
export function ConfirmDialog({
  title,
  action,
  busy,
  busyNote,
  onConfirm,
  onCancel,
  children,
}: {
  title: string;
  action: string;
  busy: boolean;
  busyNote?: string;
  onConfirm: () => void;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  return (
    <Dialog title={title} onClose={() => !busy && onCancel()}>
      {children}
      <div class="actions">
        <button type="button" class="button danger" disabled={busy} onClick={onConfirm}>
          {action}
        </button>
        <button type="button" class="button secondary" data-autofocus onClick={onCancel}>
          Cancel
        </button>
      </div>
      {busy && busyNote ? <p class="muted">{busyNote}</p> : null}
    </Dialog>
  );
}
