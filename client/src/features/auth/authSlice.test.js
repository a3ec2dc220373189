import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, tokens } from '../../api/client';
import { makeStore } from '../../app/store';
import reducer, { fetchMe, hasRole, login, logout, register, sessionEnded } from './authSlice';

vi.mock('../../api/client', async (importOriginal) => (await import('../../test/mockApi')).mockApiModule(importOriginal));

const USER = { id: 4, name: 'Wanjiku Kamau', email: 'attendee@ticksy.test', roles: ['attendee'] };

describe('auth slice', () => {
  beforeEach(() => {
    localStorage.clear();
    vi.clearAllMocks();
  });

  it('logs in: stores both tokens and the user', async () => {
    api.post.mockResolvedValueOnce({ user: USER, access_token: 'acc', refresh_token: 'ref' });
    const store = makeStore();

    const action = await store.dispatch(login({ email: USER.email, password: 'secret-pass' }));

    expect(action.type).toBe('auth/login/fulfilled');
    expect(api.post).toHaveBeenCalledWith('/api/auth/login', { email: USER.email, password: 'secret-pass' }, { auth: false });
    expect(store.getState().auth.user).toEqual(USER);
    expect(store.getState().auth.status).toBe('idle');
    expect(tokens.access).toBe('acc');
    expect(tokens.refresh).toBe('ref');
    expect(localStorage.getItem('ticksy.access_token')).toBe('acc');
  });

  it('a refused login keeps no user, stores the error and shows no toast (the form shows it)', async () => {
    api.post.mockRejectedValueOnce(new ApiError({ status: 401, code: 'invalid_credentials', message: 'Wrong email or password.' }));
    const store = makeStore();

    const action = await store.dispatch(login({ email: 'x@y.z', password: 'nope-nope' }));

    expect(action.payload).toMatchObject({ status: 401, code: 'invalid_credentials', message: 'Wrong email or password.', toast: false });
    expect(store.getState().auth.user).toBeNull();
    expect(store.getState().auth.error.code).toBe('invalid_credentials');
    expect(store.getState().toasts.items).toEqual([]);
    expect(tokens.access).toBeNull();
  });

  it('registers with the chosen role and leaves out an empty phone', async () => {
    api.post.mockResolvedValueOnce({ user: { ...USER, roles: ['organizer'] }, access_token: 'a', refresh_token: 'r' });
    const store = makeStore();

    await store.dispatch(register({ name: 'Baraka', email: 'b@x.ke', password: 'long-password', phone: '', role: 'organizer' }));

    expect(api.post).toHaveBeenCalledWith(
      '/api/auth/register',
      { name: 'Baraka', email: 'b@x.ke', password: 'long-password', role: 'organizer' },
      { auth: false },
    );
    expect(hasRole(store.getState().auth.user, 'organizer')).toBe(true);
  });

  it('keeps 422 field errors from a refused registration', async () => {
    api.post.mockRejectedValueOnce(
      new ApiError({ status: 422, code: 'validation_error', message: 'The request contains invalid fields.', fields: { email: ['Not a valid email address.'] } }),
    );
    const store = makeStore();

    await store.dispatch(register({ name: 'A', email: 'bad', password: 'x', role: 'attendee' }));

    expect(store.getState().auth.error.fields).toEqual({ email: ['Not a valid email address.'] });
  });

  it('fetchMe turns a stored token back into the user; a failure ends the check quietly', async () => {
    api.get.mockResolvedValueOnce(USER);
    const store = makeStore({ auth: { user: null, status: 'checking', error: null } });
    await store.dispatch(fetchMe());
    expect(api.get).toHaveBeenCalledWith('/api/auth/me');
    expect(store.getState().auth).toMatchObject({ user: USER, status: 'idle' });

    api.get.mockRejectedValueOnce(new ApiError({ status: 401, code: 'session_expired', message: 'expired' }));
    const other = makeStore({ auth: { user: null, status: 'checking', error: null } });
    await other.dispatch(fetchMe());
    expect(other.getState().auth.status).toBe('idle');
    expect(other.getState().toasts.items).toEqual([]);
  });

  it('logout revokes both tokens, clears storage and forgets the user even when the API fails', async () => {
    tokens.set({ access: 'acc', refresh: 'ref' });
    api.post.mockResolvedValueOnce(null).mockRejectedValueOnce(new ApiError({ status: 0, code: 'network_error', message: 'offline' }));
    const store = makeStore({ auth: { user: USER, status: 'idle', error: null } });

    await store.dispatch(logout());

    expect(api.post).toHaveBeenNthCalledWith(1, '/api/auth/logout');
    expect(api.post).toHaveBeenNthCalledWith(2, '/api/auth/logout', undefined, { bearer: 'ref' });
    expect(store.getState().auth.user).toBeNull();
    expect(tokens.access).toBeNull();
    expect(tokens.refresh).toBeNull();
  });

  it('sessionEnded (the API module could not refresh) forgets the user and per-user data', () => {
    const store = makeStore({ auth: { user: USER, status: 'idle', error: null } });
    store.dispatch({ type: 'tickets/fetchList/fulfilled', payload: { items: [{ id: 1 }], total: 1 }, meta: {} });
    expect(store.getState().tickets.items).toHaveLength(1);

    store.dispatch(sessionEnded());

    expect(store.getState().auth.user).toBeNull();
    expect(store.getState().tickets.items).toEqual([]);
  });

  it('reducer: hasRole reads the roles array', () => {
    const state = reducer(undefined, { type: 'auth/login/fulfilled', payload: { ...USER, roles: ['attendee', 'admin'] } });
    expect(hasRole(state.user, 'admin')).toBe(true);
    expect(hasRole(state.user, 'organizer')).toBe(false);
    expect(hasRole(null, 'attendee')).toBe(false);
  });
});
