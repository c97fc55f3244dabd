import { ERRORS, IAM_REASONS, errorExamples, errorMessage, type ErrorCode, type ErrorGroup } from './error-catalogue.js';
import { WARNINGS, warningExamples, warningMessage, type WarningCode } from './warning-catalogue.js';

/** Where `npm run docs:errors` writes the table, relative to the repository root. */
export const ERROR_DOCS_PATH = 'docs/errors.md';

const GROUPS: Record<ErrorGroup, string> = {
  request: 'Requests and input',
  access: 'Authentication and authorization',
  vault: 'Secrets and associations',
  rotation: 'Changes (rotations)',
  heartbeat: 'Heartbeats',
  discovery: 'Discovery',
  iam: 'AWS IAM and STS',
  crypto: 'Keys and encryption',
  server: 'Server',
};

const SEEN = { api: 'API', rotation: 'rotation', heartbeat: 'heartbeat', discovery: 'discovery run', startup: 'start-up' } as const;

/** Markdown table cell text: "|" would end the cell, and "<key secret id>" would read as an HTML tag. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ');
const examplesCell = (messages: string[]) => messages.map((m) => cell(`«${m}»`)).join('<br>');

/** docs/errors.md, generated from the catalogues; a unit spec fails when the file is stale. */
export function renderErrorDocs(): string {
  const out: string[] = [
    '# Error codes',
    '',
    '<!-- Generated from libs/contracts/src/errors by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every error Keyturn answers or records has a stable code. The API answers `{"statusCode", "code", "message"}`',
    '(and `details` on some 4xx); a failed change or heartbeat keeps `errorCode` and `errorMessage`. Messages say',
    'what to do next and never hold a secret value. The example messages show each wording a code has.',
    '',
    'To add or change an error, edit `libs/contracts/src/errors/error-catalogue.ts` (or `warning-catalogue.ts`) and',
    'run `npm run docs:errors`. Code elsewhere names a code as `ErrorCode.X` and passes the parameters of its',
    'template to `new KeyturnError(ErrorCode.X, {…})`; status and retry rule come from the catalogue.',
    '',
    'Columns: **status** is the HTTP status the API answers with (for a code only a worker records, the one it',
    'would have); **retried** says whether a worker tries again by itself (throttling gets four times the attempts);',
    '**seen in** says where the code shows: an API answer, a rotation or heartbeat (`errorCode`), or a process that',
    'refuses to start.',
    '',
  ];
  const codes = Object.keys(ERRORS) as ErrorCode[];
  for (const [group, title] of Object.entries(GROUPS) as [ErrorGroup, string][]) {
    out.push(`## ${title}`, '', '| code | status | retried | seen in | when | example message |', '|---|---|---|---|---|---|');
    for (const code of codes.filter((c) => ERRORS[c].group === group)) {
      const e = ERRORS[code];
      const retried = e.retryable ? ((e as { throttling?: true }).throttling ? 'yes, slowly' : 'yes') : 'no';
      const examples = errorExamples(code).map((p) => errorMessage(code, p as never));
      out.push(
        `| \`${code}\` | ${e.status} | ${retried} | ${e.seen.map((s) => SEEN[s]).join(', ')} | ${cell(e.when)} | ${examplesCell(examples)} |`,
      );
    }
    out.push('');
  }
  out.push(
    '## IAM sub-codes',
    '',
    'An IAM error carries a `reason` where Keyturn needs to know exactly what AWS refused; its public code stays the',
    'broader one above. The IAM mapper decides it from the action and AWS\'s code (AWS\'s text is read there only).',
    '',
    '| reason | refines | when |',
    '|---|---|---|',
    ...Object.entries(IAM_REASONS).map(
      ([reason, r]) =>
        `| \`${reason}\` | ${r.codes.map((c) => `\`${c}\``).join(', ')}${'retryable' in r && r.retryable ? ' (retried)' : ''} | ${cell(r.when)} |`,
    ),
    '',
    '## Rotation warnings',
    '',
    'A change that goes on despite something a person may want to know records a warning (`warnings[]` on the',
    'rotation: `at`, `code`, `message`).',
    '',
    '| code | when | example message |',
    '|---|---|---|',
    ...(Object.keys(WARNINGS) as WarningCode[]).map(
      (code) =>
        `| \`${code}\` | ${cell(WARNINGS[code].when)} | ${examplesCell(warningExamples(code).map((p) => warningMessage(code, p as never)))} |`,
    ),
    '',
  );
  return out.join('\n');
}
