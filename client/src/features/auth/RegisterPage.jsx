import { useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';
import Field, { fieldErrors } from '../../components/Field';
import { register, selectAuthStatus, selectUser } from './authSlice';
import { returnPath } from './LoginPage';

export default function RegisterPage() {
  const dispatch = useDispatch();
  const navigate = useNavigate();
  const location = useLocation();
  const user = useSelector(selectUser);
  const status = useSelector(selectAuthStatus);
  const [form, setForm] = useState({ name: '', email: '', password: '', phone: '', role: 'attendee' });
  const [error, setError] = useState(null);

  if (user && status !== 'loading') return <Navigate to={returnPath(location)} replace />;

  async function onSubmit(e) {
    e.preventDefault();
    setError(null);
    const result = await dispatch(register(form));
    if (register.fulfilled.match(result)) {
      const next = form.role === 'organizer' && !location.state?.from ? '/dashboard' : returnPath(location);
      navigate(next, { replace: true });
    } else setError(result.payload);
  }

  const set = (name) => (e) => setForm((f) => ({ ...f, [name]: e.target.value }));
  const errs = (name) => fieldErrors(error?.fields, name);

  return (
    <section className="page narrow">
      <h1>Create your account</h1>
      <form onSubmit={onSubmit} noValidate className="card form">
        {error && (
          <p className="form-error" role="alert">
            {error.message}
          </p>
        )}
        <Field label="Name" name="name" autoComplete="name" required value={form.name} onChange={set('name')} errors={errs('name')} />
        <Field label="Email" name="email" type="email" autoComplete="email" required value={form.email} onChange={set('email')} errors={errs('email')} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint="At least 8 characters."
          value={form.password}
          onChange={set('password')}
          errors={errs('password')}
        />
        <Field
          label="Phone (optional)"
          name="phone"
          type="tel"
          autoComplete="tel"
          inputMode="tel"
          placeholder="07XX XXX XXX"
          value={form.phone}
          onChange={set('phone')}
          errors={errs('phone')}
        />
        <Field label="Account type" name="role" as="select" value={form.role} onChange={set('role')} errors={errs('role')}>
          <option value="attendee">Attendee</option>
          <option value="organizer">Organizer</option>
        </Field>
        <button type="submit" disabled={status === 'loading'}>
          {status === 'loading' ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account?{' '}
        <Link to="/login" state={location.state}>
          Log in
        </Link>
      </p>
    </section>
  );
}
