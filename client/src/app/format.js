/** "KES 1,500" (no cents when whole). */
export function money(amount, currency = 'KES') {
  if (amount === null || amount === undefined || amount === '') return '—';
  const n = Number(amount);
  if (Number.isNaN(n)) return `${currency ?? ''} ${amount}`.trim();
  const digits = Number.isInteger(n) ? 0 : 2;
  return `${currency ?? 'KES'} ${n.toLocaleString('en-KE', { minimumFractionDigits: digits, maximumFractionDigits: 2 })}`;
}

/** "Fri 4 Dec 2026, 19:00" in the viewer's time zone. */
export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

export function shortDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
}

/** ISO string → value for <input type="datetime-local"> in local time. */
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** <input type="datetime-local"> value (local time) → ISO 8601 UTC, or '' when empty. */
export function fromLocalInput(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** "7 attendee · 2 organizer" from `{ attendee: 7, organizer: 2 }` (nothing for none). */
export function countsText(counts) {
  return Object.entries(counts ?? {})
    .map(([key, n]) => `${n} ${key}`)
    .join(' · ');
}

export const STATUS_LABELS = {
  pending: 'Awaiting payment',
  paid: 'Paid',
  cancelled: 'Cancelled',
  expired: 'Expired',
  refunded: 'Refunded',
  valid: 'Valid',
  used: 'Used',
  void: 'Void',
  draft: 'Draft',
  published: 'Published',
};

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}
