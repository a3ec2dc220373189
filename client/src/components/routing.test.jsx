import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { Provider } from 'react-redux';
import { MemoryRouter, Route, Routes } from 'react-router';
import { api } from '../api/client';
import { makeStore } from '../app/store';
import LoginPage from '../features/auth/LoginPage';
import Layout from './Layout';
import ProtectedRoute from './ProtectedRoute';

vi.mock('../api/client', async (importOriginal) => (await import('../test/mockApi')).mockApiModule(importOriginal));

function renderAt(path, store) {
  return render(
    <Provider store={store}>
      <MemoryRouter initialEntries={[path]}>
        <Layout>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/events" element={<h1>Events page</h1>} />
            <Route element={<ProtectedRoute />}>
              <Route path="/tickets" element={<h1>Tickets page</h1>} />
            </Route>
            <Route element={<ProtectedRoute roles={['admin']} />}>
              <Route path="/admin" element={<h1>Admin page</h1>} />
            </Route>
          </Routes>
        </Layout>
      </MemoryRouter>
    </Provider>,
  );
}

const signedIn = (roles) => makeStore({ auth: { user: { id: 1, name: 'Amani', email: 'a@x.ke', roles }, status: 'idle', error: null } });

describe('routing and navigation', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    localStorage.clear();
  });
  afterEach(cleanup);

  it('a protected page sends a visitor to /login, and back there after logging in', async () => {
    api.post.mockResolvedValueOnce({ user: { id: 4, name: 'Wanjiku', roles: ['attendee'] }, access_token: 'a', refresh_token: 'r' });
    renderAt('/tickets', makeStore());

    expect(screen.getByRole('heading', { name: 'Log in' })).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'attendee@ticksy.test' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'attendee-demo-pass' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));

    expect(await screen.findByRole('heading', { name: 'Tickets page' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Log out' })).toBeTruthy();
  });

  it('shows the login error from the API', async () => {
    const { ApiError } = await import('../api/client');
    api.post.mockRejectedValueOnce(new ApiError({ status: 401, code: 'invalid_credentials', message: 'The email or password is wrong.' }));
    renderAt('/login', makeStore());

    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'x@y.z' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong-pass' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));

    expect((await screen.findAllByText('The email or password is wrong.')).length).toBeGreaterThan(0);
  });

  it('shows only the links the roles allow', () => {
    renderAt('/events', signedIn(['attendee']));
    const names = screen.getAllByRole('link').map((a) => a.textContent);
    expect(names).toEqual(expect.arrayContaining(['Events', 'My tickets', 'My orders']));
    expect(names).not.toContain('Dashboard');
    expect(names).not.toContain('Admin');
    cleanup();

    renderAt('/events', signedIn(['organizer', 'admin']));
    const all = screen.getAllByRole('link').map((a) => a.textContent);
    expect(all).toEqual(expect.arrayContaining(['Dashboard', 'Check-in', 'Admin']));
  });

  it('a role-restricted page tells a signed-in user without the role', () => {
    renderAt('/admin', signedIn(['attendee']));
    expect(screen.getByRole('heading', { name: 'Not allowed' })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Admin page' })).toBeNull();
  });
});
