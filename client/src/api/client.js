// The one module that talks HTTP to the Ticksy API. It owns the base URL, the bearer token,
// the refresh-on-401 dance and the mapping of every failure to an ApiError.

export const BASE_URL = import.meta.env.VITE_API_BASE ?? '';

const ACCESS_KEY = 'ticksy.access_token';
const REFRESH_KEY = 'ticksy.refresh_token';

/** Every failure the client sees: HTTP errors from the envelope, and network failures (status 0). */
export class ApiError extends Error {
  constructor({ status = 0, code = 'unknown_error', message = 'Something went wrong.', fields = null, details = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.details = details;
  }

  /** A plain, serializable copy for Redux actions. */
  toJSON() {
    const { status, code, message, fields, details } = this;
    return { status, code, message, fields, details };
  }
}

/** Tokens persisted in localStorage so a reload keeps the session. */
export const tokens = {
  get access() {
    return readStorage(ACCESS_KEY);
  },
  get refresh() {
    return readStorage(REFRESH_KEY);
  },
  set({ access, refresh }) {
    if (access !== undefined) writeStorage(ACCESS_KEY, access);
    if (refresh !== undefined) writeStorage(REFRESH_KEY, refresh);
  },
  clear() {
    writeStorage(ACCESS_KEY, null);
    writeStorage(REFRESH_KEY, null);
  },
};

function readStorage(key) {
  try {
    return globalThis.localStorage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function writeStorage(key, value) {
  try {
    if (value == null) globalThis.localStorage?.removeItem(key);
    else globalThis.localStorage?.setItem(key, value);
  } catch {
    // Private mode or full storage: the session then lasts as long as the page.
  }
}

let logoutHandler = () => {};

/** Called once the session cannot be renewed (the store dispatches its logout then). */
export function setLogoutHandler(handler) {
  logoutHandler = handler;
}

let refreshing = null;

/** One refresh at a time: concurrent 401s all wait for the same request. */
function refreshAccessToken() {
  if (!refreshing) {
    refreshing = (async () => {
      const refresh = tokens.refresh;
      if (!refresh) throw new ApiError({ status: 401, code: 'unauthorized', message: 'Please log in again.' });
      const res = await send(buildUrl('/api/auth/refresh'), { method: 'POST', token: refresh });
      if (!res.ok) throw await toApiError(res);
      const body = await res.json();
      tokens.set({ access: body.access_token });
      return body.access_token;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function buildUrl(path, query) {
  let url = BASE_URL + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') params.append(key, String(value));
    }
    const qs = params.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  return url;
}

async function send(url, { method = 'GET', body, token, headers = {}, signal }) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(url, init);
  } catch (err) {
    if (err?.name === 'AbortError') throw new ApiError({ status: 0, code: 'aborted', message: 'The request was cancelled.' });
    throw new ApiError({
      status: 0,
      code: 'network_error',
      message: 'Could not reach Ticksy. Check your connection and try again.',
    });
  }
}

const FALLBACK_MESSAGES = {
  400: 'The request was not understood.',
  401: 'Please log in.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  409: 'That conflicts with the current state.',
  422: 'Please correct the highlighted fields.',
  429: 'Too many requests. Wait a moment and try again.',
  502: 'The payment provider did not answer. Try again.',
  503: 'The service is unavailable. Try again shortly.',
};

/** Maps a failed response to an ApiError, from the `{"error": {...}}` envelope when there is one. */
export async function toApiError(res) {
  let envelope = null;
  try {
    envelope = await res.json();
  } catch {
    envelope = null;
  }
  const error = envelope && typeof envelope === 'object' ? envelope.error : null;
  if (error && typeof error === 'object') {
    return new ApiError({
      status: res.status,
      code: error.code || `http_${res.status}`,
      message: error.message || FALLBACK_MESSAGES[res.status] || `Request failed (${res.status}).`,
      fields: error.fields ?? null,
      details: error.details ?? null,
    });
  }
  return new ApiError({
    status: res.status,
    code: `http_${res.status}`,
    message: FALLBACK_MESSAGES[res.status] || `Request failed (${res.status}).`,
  });
}

async function parse(res, responseType) {
  if (responseType === 'blob') return res.blob();
  if (responseType === 'text') return res.text();
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError({ status: res.status, code: 'bad_response', message: 'The server sent an unreadable answer.' });
  }
}

/**
 * One API call. `auth: false` sends no token (login, register); `bearer` sends that token as it
 * is, with no renewal (revoking the refresh token on logout). A 401 on an authenticated call
 * renews the access token once (shared by concurrent calls) and retries once; when renewal fails
 * the session ends.
 */
export async function request(path, { method = 'GET', body, query, headers, auth = true, bearer, responseType = 'json', signal } = {}) {
  const url = buildUrl(path, query);
  const usedToken = bearer ?? (auth ? tokens.access : null);
  let res = await send(url, { method, body, headers, signal, token: usedToken });

  if (res.status === 401 && auth && !bearer && (usedToken || tokens.refresh)) {
    let fresh;
    try {
      // Another call may have renewed the token while this one was in flight.
      fresh = tokens.access && tokens.access !== usedToken ? tokens.access : await refreshAccessToken();
    } catch (err) {
      tokens.clear();
      logoutHandler();
      throw err instanceof ApiError && err.status !== 0
        ? new ApiError({ status: 401, code: 'session_expired', message: 'Your session has expired. Please log in again.' })
        : err;
    }
    res = await send(url, { method, body, headers, signal, token: fresh });
  }

  if (!res.ok) throw await toApiError(res);
  return parse(res, responseType);
}

/** A fresh key for `Idempotency-Key`: one per user action, so a retried click creates nothing twice. */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export const api = {
  get: (path, opts) => request(path, { ...opts, method: 'GET' }),
  post: (path, body, opts) => request(path, { ...opts, method: 'POST', body }),
  put: (path, body, opts) => request(path, { ...opts, method: 'PUT', body }),
  patch: (path, body, opts) => request(path, { ...opts, method: 'PATCH', body }),
  del: (path, opts) => request(path, { ...opts, method: 'DELETE' }),
};

export default api;
