import { useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';
import Field, { fieldErrors } from '../../components/Field';
import { login, selectAuthStatus, selectUser } from './authSlice';

/** Where to go after signing in: back to the protected page that sent the user here. */
export function returnPath(location) {
  const from = location.state?.from;
  if (!from?.pathname || from.pathname === '/login' || from.pathname === '/register') return '/events';
  return `${from.pathname}${from.search ?? ''}${from.hash ?? ''}`;
}

export default function LoginPage() {
  const dispatch = useDispatch();
  const navigate = useNavigate();
  const location = useLocation();
  const user = useSelector(selectUser);
  const status = useSelector(selectAuthStatus);
  const [form, setForm] = useState({ email: '', password: '' });
  const [error, setError] = useState(null);

  if (user && status !== 'loading') return <Navigate to={returnPath(location)} replace />;

  async function onSubmit(e) {
    e.preventDefault();
    setError(null);
    const result = await dispatch(login(form));
    if (login.fulfilled.match(result)) navigate(returnPath(location), { replace: true });
    else setError(result.payload);
  }

  const set = (name) => (e) => setForm((f) => ({ ...f, [name]: e.target.value }));

  return (
    <section className="page narrow">
      <h1>Log in</h1>
      <form onSubmit={onSubmit} noValidate className="card form">
        {error && (
          <p className="form-error" role="alert">
            {error.message}
          </p>
        )}
        <Field label="Email" name="email" type="email" autoComplete="email" required value={form.email} onChange={set('email')} errors={fieldErrors(error?.fields, 'email')} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={form.password}
          onChange={set('password')}
          errors={fieldErrors(error?.fields, 'password')}
        />
        <button type="submit" disabled={status === 'loading'}>
          {status === 'loading' ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p>
        New to Ticksy?{' '}
        <Link to="/register" state={location.state}>
          Create an account
        </Link>
      </p>
    </section>
  );
}
