import type { SqlFinding } from './sql-statement.js';

/**
 * What a `sql:` condition may name: layer 1 of its confinement
 * (docs/security.md). A query is read-only by construction when everything
 * it reads is a relation of the shop's schema and everything it calls is an
 * ordinary function that computes a value from its arguments. Both are
 * allowlists, checked on PostgreSQL's own parse tree: a node, function or
 * relation not listed here is refused, so a new PostgreSQL feature is refused
 * until someone decides it is harmless.
 *
 * The runtime (src/audience/sql-sandbox.ts) adds READ ONLY, a timeout, a
 * search_path of the shop schema and the reader role, but those cannot stop
 * everything on their own: `set_config('role', …)` undoes SET ROLE,
 * advisory locks and lo_import work in a READ ONLY transaction, and
 * pg_terminate_backend acts at once. Only this list refuses them.
 */

/**
 * Ordinary functions: string, date and time, math, conditional, array, JSON,
 * aggregates and window functions. Nothing here reads a setting, a file, a
 * catalog or a sequence, takes a lock, sleeps, or reaches another database.
 * SQL syntax such as EXTRACT, SUBSTRING … FROM, TRIM or AT TIME ZONE parses
 * into calls of pg_catalog functions, which are listed too.
 */
export const SQL_FUNCTIONS: ReadonlySet<string> = new Set([
  // strings
  'ascii', 'bit_length', 'btrim', 'casefold', 'char_length', 'character_length', 'chr', 'concat', 'concat_ws', 'decode', 'encode',
  'format', 'initcap', 'left', 'length', 'lower', 'lpad', 'ltrim', 'md5', 'normalize', 'is_normalized', 'octet_length', 'overlay',
  'position', 'regexp_count', 'regexp_instr', 'regexp_like', 'regexp_match', 'regexp_matches', 'regexp_replace',
  'regexp_split_to_array', 'regexp_split_to_table', 'regexp_substr', 'repeat', 'replace', 'reverse', 'right', 'rpad', 'rtrim',
  'sha224', 'sha256', 'sha384', 'sha512', 'similar_to_escape', 'split_part', 'starts_with', 'string_to_array', 'strpos', 'substr',
  'substring', 'to_hex', 'translate', 'upper', 'unistr',
  // dates and times
  'age', 'clock_timestamp', 'date_add', 'date_bin', 'date_part', 'date_subtract', 'date_trunc', 'extract', 'isfinite',
  'justify_days', 'justify_hours', 'justify_interval', 'make_date', 'make_interval', 'make_time', 'make_timestamp',
  'make_timestamptz', 'now', 'overlaps', 'statement_timestamp', 'timezone', 'to_char', 'to_date', 'to_number', 'to_timestamp',
  'transaction_timestamp',
  // math
  'abs', 'cbrt', 'ceil', 'ceiling', 'degrees', 'div', 'exp', 'factorial', 'floor', 'gcd', 'lcm', 'ln', 'log', 'log10', 'min_scale',
  'mod', 'pi', 'pow', 'power', 'radians', 'random', 'round', 'scale', 'sign', 'sqrt', 'trim_scale', 'trunc', 'width_bucket',
  // function-style casts
  'bool', 'date', 'float4', 'float8', 'int2', 'int4', 'int8', 'numeric', 'text', 'timestamp', 'timestamptz', 'varchar',
  // conditional
  'num_nonnulls', 'num_nulls',
  // arrays and sets
  'array_append', 'array_cat', 'array_dims', 'array_length', 'array_lower', 'array_ndims', 'array_position', 'array_positions',
  'array_prepend', 'array_remove', 'array_replace', 'array_reverse', 'array_sample', 'array_shuffle', 'array_sort',
  'array_to_string', 'array_upper', 'cardinality', 'generate_series', 'generate_subscripts', 'trim_array', 'unnest',
  // JSON
  'json_array_elements', 'json_array_elements_text', 'json_array_length', 'json_build_array', 'json_build_object', 'json_each',
  'json_each_text', 'json_extract_path', 'json_extract_path_text', 'json_object_keys', 'json_strip_nulls', 'json_typeof',
  'jsonb_array_elements', 'jsonb_array_elements_text', 'jsonb_array_length', 'jsonb_build_array', 'jsonb_build_object',
  'jsonb_each', 'jsonb_each_text', 'jsonb_extract_path', 'jsonb_extract_path_text', 'jsonb_object_keys', 'jsonb_path_exists',
  'jsonb_path_match', 'jsonb_path_query', 'jsonb_path_query_array', 'jsonb_path_query_first', 'jsonb_strip_nulls',
  'jsonb_typeof', 'to_json', 'to_jsonb',
  // aggregates
  'array_agg', 'avg', 'bit_and', 'bit_or', 'bool_and', 'bool_or', 'corr', 'count', 'covar_pop', 'covar_samp', 'every',
  'json_agg', 'json_object_agg', 'jsonb_agg', 'jsonb_object_agg', 'max', 'min', 'mode', 'percentile_cont', 'percentile_disc',
  'stddev', 'stddev_pop', 'stddev_samp', 'string_agg', 'sum', 'var_pop', 'var_samp', 'variance',
  // window functions
  'cume_dist', 'dense_rank', 'first_value', 'lag', 'last_value', 'lead', 'nth_value', 'ntile', 'percent_rank', 'rank',
  'row_number',
]);

/**
 * Parse-tree nodes a SELECT of the shop's data is made of. Anything else
 * (XMLPARSE and XMLTABLE, which parse documents; $n parameters, which would
 * read herald's own values) is refused by name.
 */
const NODES: ReadonlySet<string> = new Set([
  'SelectStmt', 'ResTarget', 'ColumnRef', 'String', 'Integer', 'Float', 'Boolean', 'BitString', 'A_Const', 'A_Star', 'A_Expr',
  'BoolExpr', 'FuncCall', 'TypeCast', 'TypeName', 'RangeVar', 'JoinExpr', 'RangeSubselect', 'RangeFunction', 'Alias', 'SubLink',
  'CaseExpr', 'CaseWhen', 'CoalesceExpr', 'MinMaxExpr', 'NullTest', 'BooleanTest', 'SortBy', 'WindowDef', 'WithClause',
  'CommonTableExpr', 'CTESearchClause', 'CTECycleClause', 'A_ArrayExpr', 'A_Indirection', 'A_Indices', 'RowExpr',
  'SQLValueFunction', 'CollateClause', 'List', 'GroupingSet', 'GroupingFunc', 'RangeTableSample', 'NamedArgExpr',
  'JsonObjectConstructor', 'JsonArrayConstructor', 'JsonArrayQueryConstructor', 'JsonObjectAgg', 'JsonArrayAgg',
  'JsonAggConstructor', 'JsonKeyValue', 'JsonValueExpr', 'JsonOutput', 'JsonReturning', 'JsonFormat', 'JsonIsPredicate',
  'JsonFuncExpr', 'JsonBehavior', 'JsonArgument', 'JsonParseExpr', 'JsonScalarExpr', 'JsonSerializeExpr', 'JsonTable',
  'JsonTablePathSpec', 'JsonTableColumn',
  // Reported by statementProblems with their own messages.
  'IntoClause', 'LockingClause', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt',
]);

/** The current date and time; not who is connected, nor to what. */
const VALUE_FUNCTIONS: ReadonlySet<string> = new Set([
  'SVFOP_CURRENT_DATE', 'SVFOP_CURRENT_TIME', 'SVFOP_CURRENT_TIME_N', 'SVFOP_CURRENT_TIMESTAMP', 'SVFOP_CURRENT_TIMESTAMP_N',
  'SVFOP_LOCALTIME', 'SVFOP_LOCALTIME_N', 'SVFOP_LOCALTIMESTAMP', 'SVFOP_LOCALTIMESTAMP_N',
]);

/** Object-identifier types: casting text to one looks objects up in the catalogs. */
const CATALOG_TYPES = /^reg[a-z]+$/;

const SAMPLING = new Set(['system', 'bernoulli']);

const FUNCTIONS_HINT =
  'a sql: condition may call ordinary functions only (text, date, math, array, JSON, aggregates; see docs/security.md): nothing that reads settings, files or catalogs, takes locks, uses sequences or changes anything';

/**
 * Every relation, function, operator, type and node in the query that a
 * `sql:` condition may not use, located by byte offset. `schema` is the shop
 * schema of herald.yaml, the only one a query may read.
 */
export function referenceProblems(stmt: unknown, schema: string): SqlFinding[] {
  const out: SqlFinding[] = [];
  const readsOnly = `a sql: condition reads only the shop's schema "${schema}"`;
  const refuse = (message: string, hint: string, byte: unknown) => out.push({ message, hint, ...(typeof byte === 'number' ? { byte } : {}) });
  /** A function's or operator's qualified name: unqualified, or in pg_catalog (where SQL syntax puts them). */
  const systemName = (names: string[]) => names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');

  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (/^[A-Z]/.test(key)) {
        const v = (value ?? {}) as Record<string, unknown>;
        if (!NODES.has(key)) {
          refuse(`the query uses ${nodeName(key)}, which a sql: condition may not`, 'a sql: condition is a plain SELECT of the shop\'s data', v.location);
          continue;
        }
        checkNode(key, v);
      } else if (key === 'typeName' && value && typeof value === 'object') {
        // A cast's type is a TypeName struct, not a node: the parse tree does not wrap it.
        checkNode('TypeName', value as Record<string, unknown>);
      }
      visit(value);
    }
  };

  const checkNode = (key: string, v: Record<string, unknown>): void => {
    switch (key) {
      case 'RangeVar': {
        const name = [v.catalogname, v.schemaname, v.relname].filter((x) => typeof x === 'string').join('.');
        if (v.catalogname !== undefined || (v.schemaname !== undefined && v.schemaname !== schema)) {
          refuse(`the query reads ${name}; ${readsOnly}`, `name the shop's tables and views as ${schema}.<name>, or without a schema`, v.location);
        } else if (v.schemaname === undefined && String(v.relname).startsWith('pg_')) {
          refuse(`the query reads ${name}, a system catalog; ${readsOnly}`, `name the shop's tables and views as ${schema}.<name>, or without a schema`, v.location);
        }
        return;
      }
      case 'FuncCall': {
        const names = strings(v.funcname);
        const fn = names.at(-1) ?? '';
        if (!systemName(names) || !SQL_FUNCTIONS.has(fn)) refuse(`the query calls ${names.join('.')}, which a sql: condition may not call`, FUNCTIONS_HINT, v.location);
        return;
      }
      // An operator is a function by another name. Every node that names one: an expression, ANY/ALL with a subquery (its operator is the SubLink's, not an A_Expr's).
      case 'A_Expr':
      case 'SubLink': {
        const names = strings(key === 'A_Expr' ? v.name : v.operName);
        if (names.length > 0 && !systemName(names)) refuse(`the query uses the operator ${names.join('.')}, which a sql: condition may not`, 'use the built-in operators', v.location);
        return;
      }
      case 'SortBy': {
        const names = strings(v.useOp);
        if (names.length > 0 && !systemName(names)) refuse(`the query sorts with the operator ${names.join('.')}, which a sql: condition may not`, 'use the built-in operators', v.location);
        return;
      }
      case 'TypeName': {
        const names = strings(v.names);
        const type = names.at(-1) ?? '';
        if (names.length > 2 || (names.length === 2 && names[0] !== 'pg_catalog' && names[0] !== schema)) {
          refuse(`the query uses the type ${names.join('.')}; ${readsOnly}`, 'use built-in types, or types of the shop\'s schema', v.location);
        } else if (CATALOG_TYPES.test(type)) {
          refuse(`the query uses the type ${type}, which looks objects up in the system catalogs`, readsOnly, v.location);
        }
        return;
      }
      // PostgreSQL reads c.regclass, or (x).regclass, as a cast when it is not a column (sql-fields.ts).
      case 'ColumnRef':
      case 'A_Indirection': {
        const names = strings(key === 'ColumnRef' ? v.fields : v.indirection);
        const byte = key === 'ColumnRef' ? v.location : indirectionByte(v);
        for (const name of key === 'ColumnRef' ? names.slice(1).slice(-1) : names) {
          if (CATALOG_TYPES.test(name)) refuse(`the query selects the field ${name}, which PostgreSQL may read as a cast to ${name}, a type that looks objects up in the system catalogs`, readsOnly, byte);
        }
        return;
      }
      case 'SQLValueFunction':
        if (!VALUE_FUNCTIONS.has(String(v.op))) {
          refuse(`the query reads ${String(v.op).replace(/^SVFOP_/, '')}, which a sql: condition may not`, 'a sql: condition may read the current date and time, not who or where herald is connected', v.location);
        }
        return;
      case 'RangeTableSample': {
        const method = strings(v.method);
        if (method.length !== 1 || !SAMPLING.has(method[0]!)) refuse(`the query samples with ${method.join('.')}, which a sql: condition may not`, 'use TABLESAMPLE SYSTEM or BERNOULLI', v.location);
        return;
      }
    }
  };

  visit(stmt);
  return out;
}

/** Where a field selection `(x).name` is written: an A_Indirection has no location of its own, its argument's is used. */
export function indirectionByte(indirection: { arg?: unknown }): unknown {
  return Object.values((indirection.arg ?? {}) as Record<string, { location?: unknown }>)[0]?.location;
}

/** The names in a list of String nodes: ["pg_catalog", "lower"]. */
export function strings(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((n) => (n as { String?: { sval?: string } }).String?.sval ?? '');
}

/** "XmlExpr" → "an XML expression"; "ParamRef" → "a $n parameter"; others by their node name. */
function nodeName(key: string): string {
  if (key === 'ParamRef') return 'a $n parameter';
  if (key.startsWith('Xml') || key === 'RangeTableFunc') return 'XML functions';
  return key.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}
