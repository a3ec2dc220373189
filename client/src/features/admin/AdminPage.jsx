import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link } from 'react-router';
import Field from '../../components/Field';
import FormActions from '../../components/FormActions';
import Loading from '../../components/Loading';
import Pagination from '../../components/Pagination';
import TableHead from '../../components/TableHead';
import { countsText, dateTime, money, statusLabel } from '../../app/format';
import { usePagedFilters } from '../../app/usePagedFilters';
import { selectUser, userUpdated } from '../auth/authSlice';
import {
  fetchAdminEvents,
  fetchAttentionPayments,
  fetchPlatformStats,
  fetchUsers,
  refundPayment,
  ROLES,
  saveRoles,
  selectAdmin,
  setUserActive,
} from './adminSlice';

function PlatformStats() {
  const dispatch = useDispatch();
  const { data, status } = useSelector(selectAdmin).stats;
  useEffect(() => {
    dispatch(fetchPlatformStats());
  }, [dispatch]);
  if (!data) return status === 'loading' ? <Loading label="Loading platform stats" /> : null;
  const revenue = Object.entries(data.revenue ?? {});
  return (
    <section aria-labelledby="stats-heading">
      <h2 id="stats-heading">Platform</h2>
      <dl className="figures">
        <div>
          <dt>Users</dt>
          <dd>{data.users.total}</dd>
          <dd className="meta">{countsText(data.users.by_role)}</dd>
        </div>
        <div>
          <dt>Events</dt>
          <dd>{data.events.total}</dd>
          <dd className="meta">{countsText(data.events.by_status)}</dd>
        </div>
        <div>
          <dt>Orders</dt>
          <dd>{data.orders.total}</dd>
          <dd className="meta">{countsText(data.orders.by_status)}</dd>
        </div>
        <div>
          <dt>Revenue</dt>
          <dd>{revenue.length ? revenue.map(([cur, amount]) => money(amount, cur)).join(', ') : money(0)}</dd>
        </div>
        <div>
          <dt>Tickets</dt>
          <dd>{data.tickets.issued}</dd>
          <dd className="meta">{data.tickets.checked_in} checked in</dd>
        </div>
      </dl>
    </section>
  );
}

function RolesEditor({ user, onClose }) {
  const dispatch = useDispatch();
  const me = useSelector(selectUser);
  const saving = useSelector(selectAdmin).savingUserId === user.id;
  const [roles, setRoles] = useState(user.roles ?? []);
  const toggle = (role) => setRoles((rs) => (rs.includes(role) ? rs.filter((r) => r !== role) : [...rs, role]));
  async function onSave(e) {
    e.preventDefault();
    const result = await dispatch(saveRoles({ id: user.id, roles: ROLES.filter((r) => roles.includes(r)) }));
    if (saveRoles.fulfilled.match(result)) {
      if (me?.id === user.id) dispatch(userUpdated(result.payload));
      onClose(`Roles of ${user.name} saved: ${result.payload.roles.join(', ')}.`);
    }
  }
  return (
    <form className="roles-editor" onSubmit={onSave}>
      <fieldset>
        <legend>Roles of {user.name}</legend>
        {ROLES.map((role) => (
          <Field key={role} type="checkbox" label={role} name={`role-${role}`} checked={roles.includes(role)} onChange={() => toggle(role)} />
        ))}
      </fieldset>
      <FormActions submitLabel={saving ? 'Saving…' : 'Save roles'} submitDisabled={saving} onCancel={() => onClose('')} />
    </form>
  );
}

function Users({ announce }) {
  const dispatch = useDispatch();
  const me = useSelector(selectUser);
  const users = useSelector(selectAdmin).users;
  const [{ q, role, page }, setFilter, setPage] = usePagedFilters({ q: '', role: '' });
  const [editing, setEditing] = useState(null);

  useEffect(() => {
    const timer = setTimeout(() => dispatch(fetchUsers({ q: q.trim(), role, page })), 250);
    return () => clearTimeout(timer);
  }, [dispatch, q, role, page]);

  async function onActive(user) {
    const verb = user.is_active ? 'Deactivate' : 'Activate';
    if (!window.confirm(`${verb} ${user.name}?`)) return;
    const result = await dispatch(setUserActive({ id: user.id, isActive: !user.is_active }));
    if (setUserActive.fulfilled.match(result)) announce(`${user.name} is now ${result.payload.is_active ? 'active' : 'deactivated'}.`);
  }

  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <div className="filters">
        <Field label="Search users" name="q" type="search" value={q} placeholder="Name or email" onChange={setFilter('q')} />
        <Field label="Role" name="role" as="select" value={role} onChange={setFilter('role')}>
          <option value="">Any role</option>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </Field>
      </div>
      {users.status === 'loading' && users.items.length === 0 && <Loading label="Loading users" />}
      <div className="table-wrap">
        <table className="users-table" aria-busy={users.status === 'loading'}>
          <caption className="sr-only">Users ({users.total})</caption>
          <TableHead columns={['Name', 'Email', 'Roles', 'Status', 'Actions']} />
          <tbody>
            {users.items.map((u) => (
              <tr key={u.id}>
                <th scope="row">{u.name}</th>
                <td>{u.email}</td>
                <td data-testid="user-roles">{u.roles.join(', ')}</td>
                <td>{u.is_active ? 'Active' : 'Deactivated'}</td>
                <td>
                  {editing === u.id ? (
                    <RolesEditor
                      user={u}
                      onClose={(msg) => {
                        setEditing(null);
                        if (msg) announce(msg);
                      }}
                    />
                  ) : (
                    <div className="actions">
                      <button type="button" className="secondary" onClick={() => setEditing(u.id)} aria-label="Edit roles" title={`Edit roles of ${u.name}`}>
                        Edit roles
                      </button>
                      {u.id !== me?.id && (
                        <button type="button" className="link" onClick={() => onActive(u)}>
                          {u.is_active ? 'Deactivate' : 'Activate'}
                        </button>
                      )}
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {users.status === 'succeeded' && users.items.length === 0 && <p>No users match.</p>}
      <Pagination page={users.page} pages={users.pages} onPage={setPage} label="User pages" />
    </section>
  );
}

function Events() {
  const dispatch = useDispatch();
  const events = useSelector(selectAdmin).events;
  const [{ status, page }, setFilter, setPage] = usePagedFilters({ status: '' });
  useEffect(() => {
    dispatch(fetchAdminEvents({ status, page }));
  }, [dispatch, status, page]);
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">All events</h2>
      <div className="filters">
        <Field label="Event status" name="event-status" as="select" value={status} onChange={setFilter('status')}>
          <option value="">Any status</option>
          <option value="draft">Draft</option>
          <option value="published">Published</option>
          <option value="cancelled">Cancelled</option>
        </Field>
      </div>
      {events.status === 'loading' && events.items.length === 0 && <Loading label="Loading events" />}
      <div className="table-wrap">
        <table>
          <caption className="sr-only">All events ({events.total})</caption>
          <TableHead columns={['Event', 'Starts', 'Organizer', 'Status', 'Sold']} />
          <tbody>
            {events.items.map((e) => (
              <tr key={e.id}>
                <th scope="row">
                  <Link to={`/events/${e.id}`}>{e.title}</Link>
                </th>
                <td>{dateTime(e.starts_at)}</td>
                <td>{e.organizer?.name}</td>
                <td>{statusLabel(e.status)}</td>
                <td>
                  {e.tickets_total - e.tickets_available}/{e.tickets_total}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pagination page={events.page} pages={events.pages} onPage={setPage} label="Event pages" />
    </section>
  );
}

function PaymentTable({ caption, items, onRefund }) {
  if (!items.length) return <p>{caption}: none.</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption>{caption}</caption>
        <TableHead columns={['Payment', 'Order', 'Provider', 'Amount', 'Status', 'Flag', 'Updated', 'Action']} />
        <tbody>
          {items.map((p) => (
            <tr key={p.id}>
              <th scope="row">#{p.id}</th>
              <td>#{p.order_id}</td>
              <td>{p.provider}</td>
              <td>{money(p.amount, p.currency)}</td>
              <td>
                {p.status}
                {p.result_desc ? <span className="meta"> — {p.result_desc}</span> : null}
              </td>
              <td>{p.flag ?? '—'}</td>
              <td>{dateTime(p.updated_at)}</td>
              <td>
                {p.needs_refund && (
                  <button type="button" className="secondary" onClick={() => onRefund(p)}>
                    Refund
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Payments({ announce }) {
  const dispatch = useDispatch();
  const payments = useSelector(selectAdmin).payments;
  useEffect(() => {
    dispatch(fetchAttentionPayments());
  }, [dispatch]);
  async function onRefund(p) {
    if (!window.confirm(`Refund payment #${p.id} (${money(p.amount, p.currency)})?`)) return;
    const result = await dispatch(refundPayment(p.id));
    if (refundPayment.fulfilled.match(result)) {
      announce(
        p.provider === 'mpesa'
          ? `Refund of payment #${p.id} recorded: execute the M-Pesa reversal, then complete it.`
          : `Payment #${p.id} refunded.`,
      );
    }
  }
  return (
    <section aria-labelledby="payments-heading">
      <h2 id="payments-heading">Payments needing attention</h2>
      {payments.status === 'loading' && <Loading label="Loading payments" />}
      {payments.status === 'succeeded' && (
        <>
          <PaymentTable caption="Money to give back (needs refund)" items={payments.needsRefund} onRefund={onRefund} />
          <PaymentTable caption="Flagged by reconciliation" items={payments.flagged} onRefund={onRefund} />
        </>
      )}
      <button type="button" className="secondary" onClick={() => dispatch(fetchAttentionPayments())}>
        Refresh payments
      </button>
    </section>
  );
}

export default function AdminPage() {
  const [message, setMessage] = useState('');
  return (
    <section className="page admin-page">
      <h1>Admin</h1>
      <p role="status" aria-live="polite" className={message ? 'notice' : 'sr-only'}>
        {message}
      </p>
      <PlatformStats />
      <Users announce={setMessage} />
      <Payments announce={setMessage} />
      <Events />
    </section>
  );
}
