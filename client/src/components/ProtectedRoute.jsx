import { useSelector } from 'react-redux';
import { Navigate, Outlet, useLocation } from 'react-router';
import { hasRole, selectAuthStatus, selectUser } from '../features/auth/authSlice';
import Loading from './Loading';

/** Signed-in users (with one of `roles`, when given) see the page; others go to /login and back. */
export default function ProtectedRoute({ roles }) {
  const user = useSelector(selectUser);
  const status = useSelector(selectAuthStatus);
  const location = useLocation();

  if (!user && status === 'checking') return <Loading label="Checking your session" />;
  if (!user) return <Navigate to="/login" replace state={{ from: location }} />;
  if (roles && !hasRole(user, ...roles)) {
    return (
      <section className="page narrow">
        <h1>Not allowed</h1>
        <p>Your account does not have access to this page.</p>
      </section>
    );
  }
  return <Outlet />;
}
