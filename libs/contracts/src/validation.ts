/** Input shapes AWS and Keyturn accept; shared by the API's DTOs and the use cases. */
export const IAM_USER_NAME = /^[\w+=,.@-]{1,64}$/;
export const AWS_ACCOUNT_ID = /^\d{12}$/;
/** Long-term IAM user keys: AKIA + 16 (temporary ASIA keys are not rotatable). */
export const ACCESS_KEY_ID = /^AKIA[A-Z0-9]{16}$/;
export const SECRET_ACCESS_KEY = /^[A-Za-z0-9/+]{40}$/;
/** AWS: any character from U+0020 to U+00FF, plus tab, line feed and carriage return; 1-128. */
export const CONSOLE_PASSWORD = /^[\u0009\u000A\u000D\u0020-\u00FF]{1,128}$/;
/** Printable, no control characters. */
export const SECRET_NAME = /^[^\u0000-\u001f\u007f]{1,128}$/;
/** "/", "/team", "/team/prod": slash-separated segments of letters, digits, space, _ . - */
export const FOLDER = /^\/(?:[\w .-]{1,64}(?:\/[\w .-]{1,64})*)?$/;
export const FOLDER_MAX = 512;
/**
 * FOLDER admits "." and ".." as segment names; they read like paths that climb
 * out of a folder (and out of an API key's folder scope), so they are refused.
 */
export const NO_DOT_SEGMENTS = /^(?!.*(?:^|\/)\.\.?(?:\/|$))/;
/**
 * An IAM path (ListUsers PathPrefix, a user's Path) as IAM's CreateUser pattern
 * `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)` accepts one: "/" or printable ASCII between a leading and a
 * trailing "/" ("/eng/", "/eng/team/"), at most 512 characters. The one check for the config schema,
 * the API's DTOs, the use cases and libs/iam.
 */
export const IAM_PATH = /^(?:\/|\/[\u0021-\u007E]+\/)$/;
export const IAM_PATH_MAX = 512;

export function isIamPath(value: unknown): value is string {
  return typeof value === 'string' && value.length <= IAM_PATH_MAX && IAM_PATH.test(value);
}
