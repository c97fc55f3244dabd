import { createHash } from 'node:crypto';
import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { namedSql, rowsOf, type NamedSql } from './returning.js';

/**
 * Hand-written SQL for the worker's hot paths (issue 14), with the entity
 * classes kept as the one description of each table: a table's column names,
 * JSON columns and update-date column are read from TypeORM's metadata once,
 * then rows are read and updated with plain SQL and mapped by a loop. TypeORM
 * built each of these statements anew (query building, property renaming,
 * entity hydration): about a sixth of the worker's CPU per rotation.
 */
interface Shape {
  table: string;
  /** [column, property] of every column the entity maps. */
  columns: [string, string][];
  byProperty: Map<string, { column: string; json: boolean }>;
  updateDate: string | null;
}

const shapes = new Map<unknown, Shape>();

function shapeOf(m: EntityManager, entity: EntityTarget<ObjectLiteral>): Shape {
  let s = shapes.get(entity);
  if (!s) {
    const meta = m.connection.getMetadata(entity);
    s = {
      table: meta.tableName,
      columns: meta.columns.map((c) => [c.databaseName, c.propertyName]),
      byProperty: new Map(meta.columns.map((c) => [c.propertyName, { column: c.databaseName, json: c.type === 'jsonb' || c.type === 'json' }])),
      updateDate: meta.updateDateColumn?.databaseName ?? null,
    };
    shapes.set(entity, s);
  }
  return s;
}

/** A row as the entity (properties named as the entity names them); `prefix`: its columns were selected as `<prefix><column>`. */
export function toEntity<T extends ObjectLiteral>(m: EntityManager, entity: EntityTarget<T>, row: Record<string, unknown>, prefix = ''): T {
  const out: Record<string, unknown> = {};
  for (const [column, property] of shapeOf(m, entity).columns) out[property] = row[prefix + column];
  return out as T;
}

/** The entity's table name. */
export function tableOf(m: EntityManager, entity: EntityTarget<ObjectLiteral>): string {
  return shapeOf(m, entity).table;
}

/** `<alias>.<column> AS <prefix><column>, …` for every column of the entity (a joined table's, told apart by `prefix`). */
export function prefixedColumns(m: EntityManager, entity: EntityTarget<ObjectLiteral>, alias: string, prefix: string): string {
  return shapeOf(m, entity)
    .columns.map(([column]) => `${alias}.${column} AS ${prefix}${column}`)
    .join(', ');
}

/**
 * `<alias>.<column>, …` (no alias: `<column>, …`) for every column of the entity: what a named statement
 * selects or returns instead of `*`, so its result type stays the same when a later migration adds a column
 * while processes keep it prepared.
 */
export function columnList(m: EntityManager, entity: EntityTarget<ObjectLiteral>, alias?: string): string {
  return shapeOf(m, entity)
    .columns.map(([column]) => (alias ? `${alias}.${column}` : column))
    .join(', ');
}

/**
 * A NamedSql whose text is built once from the entities' metadata (column lists), on first use: the
 * metadata is the same for every data source of the process (see shapeOf).
 */
export function namedFromMetadata(name: string, build: (m: EntityManager) => string): (m: EntityManager) => NamedSql {
  let sql: NamedSql | undefined;
  return (m) => (sql ??= namedSql(name, build(m)));
}

/** `SELECT * FROM <table> WHERE <where>` (a trusted SQL fragment with $n parameters), as entities. */
export async function selectEntities<T extends ObjectLiteral>(m: EntityManager, entity: EntityTarget<T>, where: string, params: unknown[]): Promise<T[]> {
  const rows = await rowsOf(m, `SELECT * FROM ${shapeOf(m, entity).table} WHERE ${where}`, params);
  return rows.map((r) => toEntity(m, entity, r));
}

/** The named statements of updateById's `named` callers, by text. */
const namedUpdates = new Map<string, NamedSql>();

/**
 * Updates the entity's columns named in `changes` (and its update-date column) on the row with this id.
 * `named`: the statement is a named one (NamedSql), named after its table and a digest of its text, so each
 * set of columns is its own statement. Only for callers whose `changes` name a fixed set of properties (an
 * object literal at each call site, as the rotation's journal writes are): every text is kept once per
 * connection.
 */
export async function updateById<T extends ObjectLiteral>(m: EntityManager, entity: EntityTarget<T>, id: string, changes: Partial<T>, named = false): Promise<void> {
  const s = shapeOf(m, entity);
  const sets: string[] = [];
  const params: unknown[] = [id];
  for (const [property, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    const col = s.byProperty.get(property);
    if (!col) throw new Error(`${s.table} has no column for ${property}`);
    params.push(col.json && value !== null ? JSON.stringify(value) : value);
    sets.push(`${col.column} = $${params.length}`);
  }
  if (s.updateDate) sets.push(`${s.updateDate} = now()`);
  if (!sets.length) return;
  const text = `UPDATE ${s.table} SET ${sets.join(', ')} WHERE id = $1`;
  await rowsOf(m, named ? namedUpdate(s.table, text) : text, params);
}

function namedUpdate(table: string, text: string): NamedSql {
  let sql = namedUpdates.get(text);
  if (!sql) {
    sql = namedSql(`${table}_set_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text);
    namedUpdates.set(text, sql);
  }
  return sql;
}
