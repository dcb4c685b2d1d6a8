import { sqlState } from '../db/db.js';
import { UserError } from '../errors.js';

/**
 * What herald says when a `sql:` condition fails. PostgreSQL's message text
 * can quote the rows the query read: a failed cast prints the value
 * (`invalid input syntax for type integer: "<the value>"`), and that is how
 * a sql: segment once printed herald's link secret. So the text is shown
 * only for errors raised while the query is analysed, before any row is read
 * (class 42: syntax, unknown table or column, permission denied) and for the
 * READ ONLY refusal, which names only the command. Every other error is
 * reported by its SQLSTATE and condition name, with the hint to run the
 * query in psql, where the person running it sees only what they may read.
 */

/** Condition names (PostgreSQL, Appendix A) of the errors a SELECT can raise while it runs. */
const CONDITIONS: Record<string, string> = {
  '21000': 'cardinality_violation',
  '22000': 'data_exception',
  '22001': 'string_data_right_truncation',
  '22003': 'numeric_value_out_of_range',
  '22004': 'null_value_not_allowed',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22009': 'invalid_time_zone_displacement_value',
  '2200B': 'escape_character_conflict',
  '22011': 'substring_error',
  '22012': 'division_by_zero',
  '22013': 'invalid_preceding_or_following_size',
  '22016': 'invalid_argument_for_nth_value_function',
  '2201B': 'invalid_regular_expression',
  '2201E': 'invalid_argument_for_logarithm',
  '2201F': 'invalid_argument_for_power_function',
  '2201G': 'invalid_argument_for_width_bucket_function',
  '22021': 'character_not_in_repertoire',
  '22022': 'indicator_overflow',
  '22023': 'invalid_parameter_value',
  '22025': 'invalid_escape_sequence',
  '2202E': 'array_subscript_error',
  '2202H': 'invalid_tablesample_argument',
  '22P02': 'invalid_text_representation',
  '22P05': 'untranslatable_character',
  '22030': 'duplicate_json_object_key_value',
  '22032': 'invalid_json_text',
  '22033': 'invalid_sql_json_subscript',
  '22034': 'more_than_one_sql_json_item',
  '22035': 'no_sql_json_item',
  '22036': 'non_numeric_sql_json_item',
  '22037': 'non_unique_keys_in_a_json_object',
  '22038': 'singleton_sql_json_item_required',
  '22039': 'sql_json_array_not_found',
  '2203A': 'sql_json_member_not_found',
  '2203B': 'sql_json_number_not_found',
  '2203C': 'sql_json_object_not_found',
  '2203F': 'sql_json_scalar_required',
  '23502': 'not_null_violation',
  '0A000': 'feature_not_supported',
  '53100': 'disk_full',
  '53200': 'out_of_memory',
  '54000': 'program_limit_exceeded',
  '54001': 'statement_too_complex',
  '55P03': 'lock_not_available',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  P0001: 'raise_exception',
  XX000: 'internal_error',
};

/** Classes by their first two characters, for codes not listed above. */
const CLASSES: Record<string, string> = {
  '22': 'data_exception',
  '23': 'integrity_constraint_violation',
  '53': 'insufficient_resources',
  '54': 'program_limit_exceeded',
  '55': 'object_not_in_prerequisite_state',
  XX: 'internal_error',
};

/** Errors from a sql: condition whose PostgreSQL message quotes no data. */
function textIsSafe(code: string): boolean {
  return code.startsWith('42') || code === '25006';
}

/** A lost connection is not the query's fault: thrown unchanged, so a caller that rides out outages sees it. */
function isConnectionState(code: string): boolean {
  return code.startsWith('08') || /^57P0[1-3]$/.test(code);
}

/**
 * The error a failed `sql:` condition becomes. `where` names it
 * (`segment/lapsed`); `timeoutSeconds` is the limit it ran under.
 */
export function sqlConditionError(err: unknown, where: string, timeoutSeconds: number): unknown {
  const code = sqlState(err);
  if (!code || isConnectionState(code)) return err;
  if (code === '57014') {
    return new UserError(`${where}: its sql: stopped at its timeout of ${timeoutSeconds} s`, 'make the query cheaper (the indexes in docs/shop-data-contract.md help), or raise source.sql_timeout in herald.yaml');
  }
  if (textIsSafe(code)) {
    return new UserError(`${where}: its sql: failed: ${(err as Error).message}`, code === '42501' ? 'a sql: condition reads only the shop\'s schema (docs/security.md)' : 'fix the query; `herald plan` checks it against the shop\'s database');
  }
  const name = CONDITIONS[code] ?? CLASSES[code.slice(0, 2)] ?? 'error';
  return new UserError(
    `${where}: its sql: failed with ${name} (SQLSTATE ${code})`,
    'herald does not print PostgreSQL\'s message for this error, as it can quote the shop\'s data; run the query in psql to see it',
  );
}
