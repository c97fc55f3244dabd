/**
 * The operator commands' client for a running Keyturn API (KEYTURN_URL, KEYTURN_TOKEN).
 * An error answer becomes an ApiError with the API's code and message; nothing else of it is shown.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Not an answer from the API: a setting to fix or a server that does not answer. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export class KeyturnApi {
  private readonly base: string;

  constructor(
    url: string | undefined,
    private readonly token: string | undefined,
  ) {
    if (!url) throw new UsageError('KEYTURN_URL is not set (e.g. http://127.0.0.1:3000)');
    if (!token) throw new UsageError('KEYTURN_TOKEN is not set (an API key token, kt_…)');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`KEYTURN_URL is not a URL: ${url}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError('KEYTURN_URL must start with http:// or https://');
    this.base = parsed.toString().replace(/\/+$/, '');
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): KeyturnApi {
    return new KeyturnApi(env.KEYTURN_URL, env.KEYTURN_TOKEN);
  }

  get<T>(path: string): Promise<ApiAnswer<T>> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, json?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    return this.call<T>('POST', path, json, headers);
  }

  private async call<T>(method: string, path: string, json?: unknown, extra: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json', ...extra };
    if (json !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new UsageError(`cannot reach the Keyturn API at ${this.base} (${cause?.code ?? cause?.message ?? (e as Error).message})`, 69);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.status >= 400) {
      const b = (body ?? {}) as { code?: unknown; message?: unknown };
      throw new ApiError(
        res.status,
        typeof b.code === 'string' ? b.code : `HTTP_${res.status}`,
        typeof b.message === 'string' ? b.message : `the API answered ${res.status} ${res.statusText}`,
      );
    }
    return { status: res.status, body: body as T, headers: res.headers };
  }
}
