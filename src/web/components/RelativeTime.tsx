import { formatDate, formatRelative } from '../format.js';

/** "3 minutes ago", with the full date on hover; `never` stands in for a missing date. */
export function RelativeTime({ value, never = '—' }: { value: string | null | undefined; never?: string }) {
  if (!value) return <span className="muted">{never}</span>;
  return (
    <time dateTime={value} title={formatDate(value)}>
      {formatRelative(value)}
    </time>
  );
}
