import { useEffect, useState } from 'react';
import { fetchTicketQr } from './ticketsSlice';

/** An object URL for a ticket's QR image, revoked when the ticket (or its code) changes. */
export function useTicketQr(ticketId, code) {
  const [state, setState] = useState({ url: null, error: null });

  useEffect(() => {
    const controller = new AbortController();
    let url = null;
    setState({ url: null, error: null });
    fetchTicketQr(ticketId, { signal: controller.signal })
      .then((blob) => {
        url = URL.createObjectURL(blob);
        setState({ url, error: null });
      })
      .catch((err) => {
        if (err?.code !== 'aborted') setState({ url: null, error: err?.message || 'QR code unavailable.' });
      });
    return () => {
      controller.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [ticketId, code]);

  return state;
}
