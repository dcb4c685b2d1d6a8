/**
 * What herald counts as a usable email address: something@domain.tld, no
 * spaces. One definition for Node (list import, suppressions) and the same
 * pattern for PostgreSQL (the recipients query), so what can be imported,
 * suppressed and sent to always agree. An address with spaces around it fails
 * too, so the `lower(email)` that suppressions are matched on never needs
 * trimming.
 */
export const ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** ADDRESS as a PostgreSQL regular-expression literal. */
export const ADDRESS_SQL = `'^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'`;
