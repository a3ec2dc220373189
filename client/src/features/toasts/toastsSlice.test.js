import { describe, expect, it } from 'vitest';
import reducer, { toastAdded, toastDismissed } from './toastsSlice';
import { makeStore } from '../../app/store';
import { createApiThunk } from '../../app/createApiThunk';
import { ApiError } from '../../api/client';

describe('toasts', () => {
  it('adds, de-duplicates and dismisses messages', () => {
    let state = reducer(undefined, toastAdded({ message: 'Sold out' }));
    state = reducer(state, toastAdded({ message: 'Sold out' }));
    expect(state.items).toHaveLength(1);
    expect(state.items[0]).toMatchObject({ message: 'Sold out', kind: 'error' });
    state = reducer(state, toastDismissed(state.items[0].id));
    expect(state.items).toEqual([]);
  });

  it('keeps the last four', () => {
    let state;
    for (let i = 0; i < 6; i += 1) state = reducer(state, toastAdded({ message: `m${i}` }));
    expect(state.items.map((t) => t.message)).toEqual(['m2', 'm3', 'm4', 'm5']);
  });

  it('a rejected API thunk shows its message; toast: false and aborted requests do not', async () => {
    const store = makeStore();
    const loud = createApiThunk('test/loud', async () => {
      throw new ApiError({ status: 502, code: 'upstream_error', message: 'M-Pesa did not answer.' });
    });
    const quiet = createApiThunk('test/quiet', async () => {
      throw new ApiError({ status: 500, code: 'internal_error', message: 'quiet' });
    }, { toast: false });
    const aborted = createApiThunk('test/aborted', async () => {
      throw new ApiError({ status: 0, code: 'aborted', message: 'cancelled' });
    });
    const plain = createApiThunk('test/plain', async () => {
      throw new Error('kaboom');
    });

    await store.dispatch(loud());
    await store.dispatch(quiet());
    await store.dispatch(aborted());
    const action = await store.dispatch(plain());

    expect(action.payload).toMatchObject({ status: 0, code: 'client_error', message: 'kaboom' });
    expect(store.getState().toasts.items.map((t) => t.message)).toEqual(['M-Pesa did not answer.', 'kaboom']);
  });
});
