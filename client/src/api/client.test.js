import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, request, setLogoutHandler, tokens } from './client';

function json(status, body, headers = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

const authOf = (call) => call[1].headers.Authorization;

describe('api client', () => {
  let fetchMock;
  let logout;

  beforeEach(() => {
    localStorage.clear();
    fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    logout = vi.fn();
    setLogoutHandler(logout);
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('sends the access token as a bearer header and parses JSON', async () => {
    tokens.set({ access: 'acc-1', refresh: 'ref-1' });
    fetchMock.mockResolvedValueOnce(json(200, { id: 7, name: 'Wanjiku' }));

    const user = await api.get('/api/auth/me');

    expect(user).toEqual({ id: 7, name: 'Wanjiku' });
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/auth/me');
    expect(init.method).toBe('GET');
    expect(init.headers.Authorization).toBe('Bearer acc-1');
  });

  it('sends no Authorization header for auth: false calls and encodes JSON bodies and queries', async () => {
    tokens.set({ access: 'acc-1' });
    fetchMock.mockResolvedValueOnce(json(200, { ok: true }));
    fetchMock.mockResolvedValueOnce(json(200, { items: [] }));

    await api.post('/api/auth/login', { email: 'a@b.c', password: 'pw' }, { auth: false });
    await api.get('/api/events', { query: { q: 'jazz night', city: '', page: 2, category: undefined } });

    const [, loginInit] = fetchMock.mock.calls[0];
    expect(loginInit.headers.Authorization).toBeUndefined();
    expect(loginInit.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(loginInit.body)).toEqual({ email: 'a@b.c', password: 'pw' });
    expect(fetchMock.mock.calls[1][0]).toBe('/api/events?q=jazz+night&page=2');
  });

  it('returns null for 204 and a Blob for responseType blob', async () => {
    tokens.set({ access: 'acc-1' });
    fetchMock.mockResolvedValueOnce(new Response(null, { status: 204 }));
    fetchMock.mockResolvedValueOnce(new Response('<svg/>', { status: 200, headers: { 'Content-Type': 'image/svg+xml' } }));

    expect(await api.del('/api/reviews/3')).toBeNull();
    const blob = await api.get('/api/tickets/1/qr', { responseType: 'blob' });
    expect(blob.type).toBe('image/svg+xml');
    expect(await blob.text()).toBe('<svg/>');
  });

  it('refreshes once on 401 and retries the call with the new token', async () => {
    tokens.set({ access: 'old', refresh: 'ref-1' });
    fetchMock
      .mockResolvedValueOnce(json(401, { error: { code: 'unauthorized', message: 'Token has expired.' } }))
      .mockResolvedValueOnce(json(200, { access_token: 'new' }))
      .mockResolvedValueOnce(json(200, { items: [1] }));

    const body = await api.get('/api/tickets');

    expect(body).toEqual({ items: [1] });
    expect(fetchMock).toHaveBeenCalledTimes(3);
    const [refreshUrl, refreshInit] = fetchMock.mock.calls[1];
    expect(refreshUrl).toBe('/api/auth/refresh');
    expect(refreshInit.method).toBe('POST');
    expect(refreshInit.headers.Authorization).toBe('Bearer ref-1');
    expect(authOf(fetchMock.mock.calls[2])).toBe('Bearer new');
    expect(tokens.access).toBe('new');
    expect(logout).not.toHaveBeenCalled();
  });

  it('shares one refresh between concurrent 401s and retries each call once', async () => {
    tokens.set({ access: 'old', refresh: 'ref-1' });
    let refreshCalls = 0;
    let releaseRefresh;
    fetchMock.mockImplementation((url, init) => {
      if (url === '/api/auth/refresh') {
        refreshCalls += 1;
        return new Promise((resolve) => {
          releaseRefresh = () => resolve(json(200, { access_token: 'new' }));
        });
      }
      if (init.headers.Authorization === 'Bearer old') {
        return Promise.resolve(json(401, { error: { code: 'unauthorized', message: 'expired' } }));
      }
      return Promise.resolve(json(200, { url }));
    });

    const calls = [api.get('/api/orders'), api.get('/api/tickets'), api.get('/api/dashboard')];
    await vi.waitFor(() => expect(releaseRefresh).toBeTypeOf('function'));
    // Let every call reach its 401 before the refresh answers.
    await new Promise((r) => setTimeout(r, 0));
    releaseRefresh();
    const results = await Promise.all(calls);

    expect(refreshCalls).toBe(1);
    expect(results.map((r) => r.url)).toEqual(['/api/orders', '/api/tickets', '/api/dashboard']);
    const retried = fetchMock.mock.calls.filter((c) => c[0] !== '/api/auth/refresh' && authOf(c) === 'Bearer new');
    expect(retried).toHaveLength(3);
  });

  it('retries only once: a second 401 after the refresh is an error, not a loop', async () => {
    tokens.set({ access: 'old', refresh: 'ref-1' });
    fetchMock
      .mockResolvedValueOnce(json(401, { error: { code: 'unauthorized', message: 'expired' } }))
      .mockResolvedValueOnce(json(200, { access_token: 'new' }))
      .mockResolvedValueOnce(json(401, { error: { code: 'unauthorized', message: 'Token has been revoked.' } }));

    await expect(api.get('/api/tickets')).rejects.toMatchObject({ status: 401, message: 'Token has been revoked.' });
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it('logs out and clears the tokens when the refresh is refused', async () => {
    tokens.set({ access: 'old', refresh: 'revoked' });
    fetchMock
      .mockResolvedValueOnce(json(401, { error: { code: 'unauthorized', message: 'expired' } }))
      .mockResolvedValueOnce(json(401, { error: { code: 'unauthorized', message: 'Token has been revoked.' } }));

    const err = await api.get('/api/orders').catch((e) => e);

    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('session_expired');
    expect(logout).toHaveBeenCalledTimes(1);
    expect(tokens.access).toBeNull();
    expect(tokens.refresh).toBeNull();
    expect(localStorage.getItem('ticksy.refresh_token')).toBeNull();
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('does not try to refresh a 401 from a call without a token (a wrong password)', async () => {
    fetchMock.mockResolvedValueOnce(
      json(401, { error: { code: 'invalid_credentials', message: 'The email or password is wrong.' } }),
    );

    const err = await api.post('/api/auth/login', { email: 'x', password: 'y' }, { auth: false }).catch((e) => e);

    expect(err.code).toBe('invalid_credentials');
    expect(err.message).toBe('The email or password is wrong.');
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(logout).not.toHaveBeenCalled();
  });

  it('maps the error envelope to an ApiError with fields and details', async () => {
    tokens.set({ access: 'acc' });
    fetchMock.mockResolvedValueOnce(
      json(422, {
        error: {
          code: 'validation_error',
          message: 'The request contains invalid fields.',
          fields: { email: ['Not a valid email address.'], password: ['Use between 8 and 72 characters.'] },
        },
      }),
    );
    fetchMock.mockResolvedValueOnce(
      json(409, { error: { code: 'sold_out', message: 'Only 2 left.', details: { ticket_type_id: 4, available: 2 } } }),
    );

    const invalid = await api.post('/api/auth/register', {}).catch((e) => e);
    expect(invalid).toBeInstanceOf(ApiError);
    expect(invalid).toMatchObject({
      status: 422,
      code: 'validation_error',
      message: 'The request contains invalid fields.',
      fields: { email: ['Not a valid email address.'], password: ['Use between 8 and 72 characters.'] },
      details: null,
    });

    const soldOut = await api.post('/api/orders', {}).catch((e) => e);
    expect(soldOut.toJSON()).toEqual({
      status: 409,
      code: 'sold_out',
      message: 'Only 2 left.',
      fields: null,
      details: { ticket_type_id: 4, available: 2 },
    });
  });

  it('maps a non-JSON error (a proxy page) to an ApiError with a readable message', async () => {
    fetchMock.mockResolvedValueOnce(new Response('<html>Bad gateway</html>', { status: 502, headers: { 'Content-Type': 'text/html' } }));

    const err = await request('/api/health', { auth: false }).catch((e) => e);

    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(502);
    expect(err.code).toBe('http_502');
    expect(err.message).toMatch(/did not answer/);
  });

  it('maps a network failure to an ApiError with status 0 and code network_error', async () => {
    fetchMock.mockRejectedValueOnce(new TypeError('Failed to fetch'));

    const err = await api.get('/api/events').catch((e) => e);

    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(err.code).toBe('network_error');
    expect(err.message).toMatch(/Could not reach Ticksy/);
  });

  it('reports an aborted request as code aborted', async () => {
    const abort = new DOMException('The operation was aborted.', 'AbortError');
    fetchMock.mockRejectedValueOnce(abort);

    await expect(api.get('/api/tickets/1/qr')).rejects.toMatchObject({ status: 0, code: 'aborted' });
  });

  it('sends an explicit bearer token as is, without refreshing', async () => {
    tokens.set({ access: 'acc', refresh: 'ref' });
    fetchMock.mockResolvedValueOnce(json(401, { error: { code: 'unauthorized', message: 'revoked' } }));

    await expect(api.post('/api/auth/logout', undefined, { bearer: 'ref' })).rejects.toMatchObject({ status: 401 });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(authOf(fetchMock.mock.calls[0])).toBe('Bearer ref');
    expect(logout).not.toHaveBeenCalled();
  });
});
