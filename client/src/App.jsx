import { lazy, Suspense, useEffect } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Navigate, Route, Routes } from 'react-router';
import Layout from './components/Layout';
import ErrorBoundary from './components/ErrorBoundary';
import ProtectedRoute from './components/ProtectedRoute';
import Loading from './components/Loading';
import { fetchMe, selectAuthStatus } from './features/auth/authSlice';

const LoginPage = lazy(() => import('./features/auth/LoginPage'));
const RegisterPage = lazy(() => import('./features/auth/RegisterPage'));
const EventsPage = lazy(() => import('./features/events/EventsPage'));
const EventPage = lazy(() => import('./features/events/EventPage'));
const PayPage = lazy(() => import('./features/orders/PayPage'));
const OrdersPage = lazy(() => import('./features/orders/OrdersPage'));
const TicketsPage = lazy(() => import('./features/tickets/TicketsPage'));
const DashboardPage = lazy(() => import('./features/dashboard/DashboardPage'));
const CheckinPage = lazy(() => import('./features/checkin/CheckinPage'));
const AdminPage = lazy(() => import('./features/admin/AdminPage'));
const NotFoundPage = lazy(() => import('./components/NotFoundPage'));

export default function App() {
  const dispatch = useDispatch();
  const authStatus = useSelector(selectAuthStatus);

  useEffect(() => {
    if (authStatus === 'checking') dispatch(fetchMe());
    // Only on start: a stored token is turned back into a user once.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <Layout>
      <ErrorBoundary>
        <Suspense fallback={<Loading label="Loading page" />}>
          <Routes>
            <Route path="/" element={<Navigate to="/events" replace />} />
            <Route path="/login" element={<LoginPage />} />
            <Route path="/register" element={<RegisterPage />} />
            <Route path="/events" element={<EventsPage />} />
            <Route path="/events/:id" element={<EventPage />} />
            <Route element={<ProtectedRoute />}>
              <Route path="/orders" element={<OrdersPage />} />
              <Route path="/orders/:id/pay" element={<PayPage />} />
              {/* Stripe Checkout returns to /orders/:id?payment=…; the same page follows the payment. */}
              <Route path="/orders/:id" element={<PayPage />} />
              <Route path="/tickets" element={<TicketsPage />} />
              {/* Gate staff are named per event, not by role: any signed-in user may open it. */}
              <Route path="/checkin" element={<CheckinPage />} />
            </Route>
            <Route element={<ProtectedRoute roles={['organizer', 'admin']} />}>
              <Route path="/dashboard" element={<DashboardPage />} />
            </Route>
            <Route element={<ProtectedRoute roles={['admin']} />}>
              <Route path="/admin" element={<AdminPage />} />
            </Route>
            <Route path="*" element={<NotFoundPage />} />
          </Routes>
        </Suspense>
      </ErrorBoundary>
    </Layout>
  );
}
