// Talking to `commons serve`: the same API key rules as every other client. With
// `--api-key`, the page asks for the key once, keeps it in sessionStorage (gone when the
// tab closes) and sends it as `Authorization: Bearer KEY`. Errors arrive in the OpenAI
// shape, {"error": {"message", "type", "param", "code"}}, and become ApiError.

const KEY = "commons.apiKey";

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly code: string | null = null) {
    super(message);
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

let unauthorized: () => void = () => {};

/** Called on every 401: the shell opens the key dialog. */
export function onUnauthorized(f: () => void): void {
  unauthorized = f;
}

export function apiKey(): string {
  return sessionStorage.getItem(KEY) ?? "";
}

export function setApiKey(key: string): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

function headers(json: boolean): Headers {
  const hd = new Headers();
  if (json) hd.set("Content-Type", "application/json");
  const key = apiKey();
  if (key) hd.set("Authorization", `Bearer ${key}`);
  return hd;
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let code: string | null = null;
  try {
    const body = await res.json();
    const err = body?.error;
    if (typeof err === "string") message = err;
    else if (err?.message) {
      message = err.message;
      code = err.code ?? null;
    }
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) unauthorized();
  return new ApiError(message, res.status, code);
}

async function request(path: string, body?: unknown, signal?: AbortSignal, method?: string): Promise<Response> {
  const res = await fetch(path, {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function getJSON<T>(path: string, params: Record<string, string | number> = {}, signal?: AbortSignal): Promise<T> {
  const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return (await request(q ? `${path}?${q}` : path, undefined, signal)).json();
}

export async function postJSON<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return (await request(path, body, signal)).json();
}

/** A binary resource (a report's chart) fetched with the key, as an object URL. */
export async function objectURL(path: string, params: Record<string, string>): Promise<string> {
  const res = await request(`${path}?${new URLSearchParams(params)}`);
  return URL.createObjectURL(await res.blob());
}

/** POST with `stream: true` and yield each server-sent event's JSON until `[DONE]`.
 * Aborting `signal` closes the connection: the server cancels the generation. */
export async function* streamEvents(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<any> {
  const res = await request(path, body, signal);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let cut: number;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") return;
          const obj = JSON.parse(data);
          if (obj.error) throw new ApiError(obj.error.message ?? String(obj.error), 500, obj.error.code ?? null);
          yield obj;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Timing of one streamed generation, as the user sees it (network and queue included). */
export class Timing {
  private t0 = performance.now();
  private first: number | null = null;
  private last: number | null = null;
  tokens = 0;

  chunk(): void {
    const now = performance.now();
    if (this.first === null) this.first = now;
    this.last = now;
  }

  /** Seconds to the first token. */
  get ttft(): number | null {
    return this.first === null ? null : (this.first - this.t0) / 1000;
  }

  /** Decode speed after the first token (tokens from the usage chunk). */
  get tokensPerSecond(): number | null {
    if (this.first === null || this.last === null || this.tokens < 2 || this.last <= this.first) return null;
    return (this.tokens - 1) / ((this.last - this.first) / 1000);
  }
}
