import { createAsyncThunk } from '@reduxjs/toolkit';
import { ApiError } from '../api/client';

/** A serializable copy of any thrown error, shaped like ApiError. */
export function toPlainError(err) {
  if (err instanceof ApiError) return err.toJSON();
  return { status: 0, code: 'client_error', message: err?.message || 'Something went wrong.', fields: null, details: null };
}

/**
 * createAsyncThunk whose rejections carry a plain ApiError as payload. The toast listener shows
 * `payload.message` unless `toast` is false (or a function of the error that returns false).
 */
export function createApiThunk(type, payloadCreator, { toast = true } = {}) {
  return createAsyncThunk(type, async (arg, thunkApi) => {
    try {
      return await payloadCreator(arg, thunkApi);
    } catch (err) {
      const error = toPlainError(err);
      const wantsToast = typeof toast === 'function' ? toast(error, arg) : toast;
      return thunkApi.rejectWithValue({ ...error, toast: wantsToast && error.code !== 'aborted' });
    }
  });
}
