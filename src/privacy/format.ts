import { printable } from '../errors.js';
import { describeGiven } from './person.js';
import type { Erasure } from './erase.js';
import type { PersonRecord } from './record.js';

/** `herald customer show`: what herald holds about a person, for a person to read. Values from outside are printed escaped. */
export function formatRecord(r: PersonRecord): string {
  const p = r.person;
  const lines: string[] = [];
  const who = [
    p.customerIds.length ? `customer${p.customerIds.length > 1 ? 's' : ''} ${p.customerIds.join(', ')}` : undefined,
    p.contactIds.length ? `list contact${p.contactIds.length > 1 ? 's' : ''} ${p.contactIds.join(', ')}` : undefined,
    p.addresses.length ? `address${p.addresses.length > 1 ? 'es' : ''} ${p.addresses.join(', ')}` : undefined,
  ].filter(Boolean);
  lines.push(printable(`${describeGiven(p.given)}: ${who.length ? who.join('; ') : 'herald holds nothing about this person'}`));
  const section = (title: string, rows: Record<string, unknown>[], line: (x: Record<string, unknown>) => string) => {
    lines.push('', `${title} (${rows.length})`);
    // Each line escaped on its own: a note or an SMTP reply with a line break cannot fake another line.
    for (const x of rows) lines.push(`  ${printable(line(x))}`);
  };
  const at = (v: unknown) => (typeof v === 'string' ? v.replace('T', ' ').slice(0, 16) : '—');
  section('Messages', r.messages, (m) =>
    [`#${m.id}`, at(m.sent_at ?? m.created_at), `${m.source_kind} ${m.source}`, m.status, m.address ?? '(no address)', `site ${m.site}`, m.reason ? `(${m.reason})` : ''].filter(Boolean).join('  '),
  );
  section('Events', r.events, (e) => [at(e.at), `${e.kind}${e.class ? ` (${e.class})` : ''}`, `message #${e.message_id}`, e.origin ? `via ${e.origin}` : ''].filter(Boolean).join('  '));
  section('Suppressions', r.suppressions, (s) => [s.email, s.site ?? 'all sites', s.reason, at(s.created_at), `by ${s.created_by} via ${s.source}`, s.note ? `: ${s.note}` : ''].filter(Boolean).join('  '));
  section('Suppression log', r.suppressionEvents, (s) => [at(s.at), s.action, s.email, s.site ?? 'all sites', s.reason, `by ${s.actor} via ${s.source}`].join('  '));
  section('List contacts', r.contacts, (k) => [`#${k.id}`, k.email, [k.first_name, k.last_name].filter(Boolean).join(' '), k.site ? `site ${k.site}` : ''].filter(Boolean).join('  '));
  section('List memberships', r.listMembers, (l) => [`list ${l.list}`, l.email, `line ${l.line}`, Object.keys((l.tokens as object) ?? {}).length ? `columns ${JSON.stringify(l.tokens)}` : ''].filter(Boolean).join('  '));
  return lines.join('\n');
}

/** `herald customer erase --yes`: what was erased. */
export function formatErasure(e: Erasure): string {
  const p = e.person;
  const lines = [
    `Erased ${describeGiven(p.given)} (customer ids: ${p.customerIds.join(', ') || 'none'}; list contacts: ${p.contactIds.join(', ') || 'none'}; ${p.addresses.length} address${p.addresses.length === 1 ? '' : 'es'}):`,
    `  ledger rows without address, event data or SMTP reply: ${e.messages}${e.settled ? ` (${e.settled} not yet sent, settled as suppressed)` : ''}`,
    `  event details removed: ${e.eventDetails}`,
    `  list memberships deleted: ${e.listMemberships}`,
    `  list contacts deleted: ${e.contactsDeleted}${e.contactsBlanked ? `, kept without name or address (the ledger names them): ${e.contactsBlanked}` : ''}`,
    `  suppressions replaced by the address's hash: ${e.suppressionsReplaced}; log entries now holding the hash: ${e.suppressionEventsHashed}`,
    ...e.hashesAdded.map((h) => `  never mailed again, on every site: ${h}`),
  ];
  if (p.addresses.length === 0) lines.push('  herald knew no address of this person: nothing could be put on the suppression list');
  return printable(lines.join('\n'), { newlines: true });
}
