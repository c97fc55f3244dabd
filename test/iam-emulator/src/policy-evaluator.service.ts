import { AwsError } from './aws-error.model.js';

/**
 * Identity-based policy evaluation, the subset Keyturn relies on: Allow/Deny, Action /
 * NotAction, Resource / NotResource with `*` and `?` wildcards and `${...}` policy
 * variables, explicit deny wins, default deny.
 *
 * Conditions are not evaluated. To fail closed, an Allow statement with a Condition
 * never applies and a Deny statement with a Condition always applies.
 */
type EvalDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface NamedPolicy {
  name: string;
  document: string;
}

interface MatchedStatement {
  policyName: string;
  statementIndex: number;
}

export interface Evaluation {
  decision: EvalDecision;
  matched: MatchedStatement[];
  missingContextValues: string[];
}

/** Context keys that policy variables may name, e.g. `aws:username`; keys are lowercase. */
export type PolicyContext = ReadonlyMap<string, string>;

interface Statement {
  Sid?: unknown;
  Effect?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
  Principal?: unknown;
}

interface ParsedPolicy {
  version: string | undefined;
  statements: Statement[];
}

const malformed = (message: string): AwsError => new AwsError('MalformedPolicyDocument', message, 400);

function asStringList(value: unknown, field: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw malformed(`Syntax errors in policy. ${field} must be a string or an array of strings.`);
}

/** Validates a policy document the way PutUserPolicy must; throws MalformedPolicyDocument. */
export function parsePolicy(document: string): ParsedPolicy {
  let json: unknown;
  try {
    json = JSON.parse(document);
  } catch {
    throw malformed('Syntax errors in policy.');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw malformed('Syntax errors in policy.');
  const root = json as { Version?: unknown; Statement?: unknown };
  if (root.Version !== undefined && root.Version !== '2012-10-17' && root.Version !== '2008-10-17') {
    throw malformed('The policy failed legacy parsing');
  }
  if (root.Statement === undefined) throw malformed('Syntax errors in policy.');
  const statements = (Array.isArray(root.Statement) ? root.Statement : [root.Statement]) as unknown[];
  for (const raw of statements) {
    if (typeof raw !== 'object' || raw === null) throw malformed('Syntax errors in policy.');
    const s = raw as Statement;
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(`Invalid effect: ${String(s.Effect)}`);
    if ((s.Action === undefined) === (s.NotAction === undefined)) throw malformed('Policy statement must contain actions.');
    if ((s.Resource === undefined) === (s.NotResource === undefined)) throw malformed('Policy statement must contain resources.');
    if (s.Principal !== undefined) throw malformed('Policy document should not specify a principal.');
    if (s.Action !== undefined) asStringList(s.Action, 'Action');
    if (s.NotAction !== undefined) asStringList(s.NotAction, 'NotAction');
    if (s.Resource !== undefined) asStringList(s.Resource, 'Resource');
    if (s.NotResource !== undefined) asStringList(s.NotResource, 'NotResource');
  }
  return { version: typeof root.Version === 'string' ? root.Version : undefined, statements: statements as Statement[] };
}

function globToRegExp(pattern: string, flags: string): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, flags);
}

export function actionMatches(pattern: string, action: string): boolean {
  return globToRegExp(pattern, 'i').test(action);
}

/** The literal characters that the `${*}`, `${?}` and `${$}` variables stand for. */
const LITERAL_PLACEHOLDERS: Record<string, string> = { '*': '\u0000STAR\u0000', '?': '\u0000QM\u0000', $: '$' };

/**
 * Matches a Resource pattern. Policy variables are only substituted in 2012-10-17 policies
 * (in older ones they are literal text); substituted values never act as wildcards.
 */
export function resourceMatches(
  pattern: string,
  resource: string,
  version: string | undefined,
  context: PolicyContext,
  missing: Set<string>,
): boolean {
  let resolved = pattern;
  let unresolved = false;
  const substitutions: string[] = [];
  if (version === '2012-10-17') {
    resolved = pattern.replace(/\$\{([^}]*)\}/g, (_whole, rawName: string) => {
      const name = rawName.trim();
      if (name in LITERAL_PLACEHOLDERS) return LITERAL_PLACEHOLDERS[name]!;
      const value = context.get(name.toLowerCase());
      if (value === undefined) {
        missing.add(name);
        unresolved = true;
        return '';
      }
      substitutions.push(value);
      return `\u0000SUB${substitutions.length - 1}\u0000`;
    });
  }
  if (unresolved) return false;
  const parts = resolved.split(/(\u0000[^\u0000]*\u0000)/);
  const body = parts
    .map((part) => {
      if (part === LITERAL_PLACEHOLDERS['*']) return '\\*';
      if (part === LITERAL_PLACEHOLDERS['?']) return '\\?';
      const sub = /^\u0000SUB(\d+)\u0000$/.exec(part);
      if (sub) return substitutions[Number(sub[1])]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      return part
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
        .join('');
    })
    .join('');
  return new RegExp(`^${body}$`).test(resource);
}

function statementApplies(
  statement: Statement,
  version: string | undefined,
  action: string,
  resource: string,
  context: PolicyContext,
  missing: Set<string>,
): boolean {
  const actionHit =
    statement.Action !== undefined
      ? asStringList(statement.Action, 'Action').some((p) => actionMatches(p, action))
      : !asStringList(statement.NotAction, 'NotAction').some((p) => actionMatches(p, action));
  if (!actionHit) return false;
  const resourceHit =
    statement.Resource !== undefined
      ? asStringList(statement.Resource, 'Resource').some((p) => resourceMatches(p, resource, version, context, missing))
      : !asStringList(statement.NotResource, 'NotResource').some((p) => resourceMatches(p, resource, version, context, missing));
  if (!resourceHit) return false;
  if (statement.Condition !== undefined) return statement.Effect === 'Deny';
  return true;
}

export function evaluate(policies: readonly NamedPolicy[], action: string, resource: string, context: PolicyContext): Evaluation {
  const missing = new Set<string>();
  const allows: MatchedStatement[] = [];
  const denies: MatchedStatement[] = [];
  for (const policy of policies) {
    const parsed = parsePolicy(policy.document);
    parsed.statements.forEach((statement, statementIndex) => {
      if (!statementApplies(statement, parsed.version, action, resource, context, missing)) return;
      (statement.Effect === 'Deny' ? denies : allows).push({ policyName: policy.name, statementIndex });
    });
  }
  if (denies.length > 0) return { decision: 'explicitDeny', matched: denies, missingContextValues: [...missing] };
  if (allows.length > 0) return { decision: 'allowed', matched: allows, missingContextValues: [...missing] };
  return { decision: 'implicitDeny', matched: [], missingContextValues: [...missing] };
}
