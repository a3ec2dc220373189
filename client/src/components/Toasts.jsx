import { useEffect } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { selectToasts, toastDismissed } from '../features/toasts/toastsSlice';

function Toast({ toast }) {
  const dispatch = useDispatch();
  useEffect(() => {
    const timer = setTimeout(() => dispatch(toastDismissed(toast.id)), 8000);
    return () => clearTimeout(timer);
  }, [dispatch, toast.id]);
  return (
    <li className={`toast toast-${toast.kind}`}>
      <span>{toast.message}</span>
      <button type="button" className="link" aria-label="Dismiss message" onClick={() => dispatch(toastDismissed(toast.id))}>
        ×
      </button>
    </li>
  );
}

/** Error and info messages; the region is live so screen readers read them out. */
export default function Toasts() {
  const toasts = useSelector(selectToasts);
  return (
    <div className="toasts" role="alert" aria-live="assertive" aria-atomic="false">
      <ul>
        {toasts.map((t) => (
          <Toast key={t.id} toast={t} />
        ))}
      </ul>
    </div>
  );
}
