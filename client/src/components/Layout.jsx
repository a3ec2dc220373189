import { useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link, NavLink, useLocation, useNavigate } from 'react-router';
import { hasRole, logout, selectUser } from '../features/auth/authSlice';
import Toasts from './Toasts';

function navItems(user) {
  const items = [{ to: '/events', label: 'Events' }];
  if (!user) return items;
  items.push({ to: '/tickets', label: 'My tickets' }, { to: '/orders', label: 'My orders' });
  if (hasRole(user, 'organizer', 'admin')) items.push({ to: '/dashboard', label: 'Dashboard' }, { to: '/checkin', label: 'Check-in' });
  if (hasRole(user, 'admin')) items.push({ to: '/admin', label: 'Admin' });
  return items;
}

export default function Layout({ children }) {
  const user = useSelector(selectUser);
  const dispatch = useDispatch();
  const navigate = useNavigate();
  const location = useLocation();
  const [open, setOpen] = useState(false);
  const [lastPath, setLastPath] = useState(location.pathname);

  // The mobile menu closes when the page changes.
  if (lastPath !== location.pathname) {
    setLastPath(location.pathname);
    setOpen(false);
  }

  async function onLogout() {
    await dispatch(logout());
    navigate('/login');
  }

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="bar">
          <Link to="/events" className="brand" aria-label="Ticksy home">
            <svg className="brand-mark" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">
              <path d="M4 9h24v5a2.5 2.5 0 0 0 0 5v5H4v-5a2.5 2.5 0 0 0 0-5z" fill="#f1c40f" />
            </svg>
            Ticksy
          </Link>
          <button
            type="button"
            className="menu-toggle secondary"
            aria-expanded={open}
            aria-controls="site-nav"
            onClick={() => setOpen((o) => !o)}
          >
            Menu
          </button>
        </div>
        <nav id="site-nav" className={open ? 'site-nav open' : 'site-nav'} aria-label="Main">
          <ul>
            {navItems(user).map((item) => (
              <li key={item.to}>
                <NavLink to={item.to}>{item.label}</NavLink>
              </li>
            ))}
          </ul>
          <div className="session">
            {user ? (
              <>
                <span className="who" title={user.email}>
                  {user.name}
                </span>
                <button type="button" className="secondary" onClick={onLogout}>
                  Log out
                </button>
              </>
            ) : (
              <>
                <NavLink to="/login">Log in</NavLink>
                <NavLink to="/register">Sign up</NavLink>
              </>
            )}
          </div>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <Toasts />
    </>
  );
}
