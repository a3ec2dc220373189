import { createSlice, isAnyOf } from '@reduxjs/toolkit';
import { api, tokens } from '../../api/client';
import { createApiThunk } from '../../app/createApiThunk';

/** Stores both tokens from a login or registration answer and returns the user. */
function startSession(data) {
  tokens.set({ access: data.access_token, refresh: data.refresh_token });
  return data.user;
}

export const login = createApiThunk('auth/login', async ({ email, password }) =>
  startSession(await api.post('/api/auth/login', { email, password }, { auth: false })),
  { toast: false }, // the form shows the message
);

export const register = createApiThunk('auth/register', async ({ name, email, password, phone, role }) => {
  const body = { name, email, password, role };
  if (phone) body.phone = phone;
  return startSession(await api.post('/api/auth/register', body, { auth: false }));
}, { toast: false });

/** Loads the signed-in user when a token survived a reload. */
export const fetchMe = createApiThunk('auth/fetchMe', async () => api.get('/api/auth/me'), { toast: false });

export const logout = createApiThunk(
  'auth/logout',
  async () => {
    const refresh = tokens.refresh;
    try {
      await api.post('/api/auth/logout');
      if (refresh) await api.post('/api/auth/logout', undefined, { bearer: refresh });
    } finally {
      tokens.clear();
    }
    return null;
  },
  { toast: false },
);

const initialState = {
  user: null,
  // 'checking' while a stored token is being turned back into a user
  status: tokens.access || tokens.refresh ? 'checking' : 'idle',
  error: null,
};

const authSlice = createSlice({
  name: 'auth',
  initialState,
  reducers: {
    sessionEnded(state) {
      state.user = null;
      state.status = 'idle';
    },
    userUpdated(state, action) {
      if (state.user && state.user.id === action.payload.id) state.user = action.payload;
    },
  },
  extraReducers: (builder) => {
    builder
      .addCase(fetchMe.fulfilled, (state, action) => {
        state.user = action.payload;
        state.status = 'idle';
      })
      .addCase(fetchMe.rejected, (state) => {
        state.status = 'idle';
      })
      .addCase(logout.pending, (state) => {
        state.user = null;
        state.status = 'idle';
      })
      .addMatcher(isAnyOf(login.pending, register.pending), (state) => {
        state.status = 'loading';
        state.error = null;
      })
      .addMatcher(isAnyOf(login.fulfilled, register.fulfilled), (state, action) => {
        state.user = action.payload;
        state.status = 'idle';
      })
      .addMatcher(isAnyOf(login.rejected, register.rejected), (state, action) => {
        state.status = 'idle';
        state.error = action.payload;
      });
  },
});

export const { sessionEnded, userUpdated } = authSlice.actions;
export default authSlice.reducer;

/** Actions after which another person's data must not stay on screen. */
export const isSessionChange = isAnyOf(sessionEnded, logout.pending, login.fulfilled, register.fulfilled);

export const selectUser = (state) => state.auth.user;
export const selectAuthStatus = (state) => state.auth.status;
export const hasRole = (user, ...roles) => Boolean(user && roles.some((r) => user.roles?.includes(r)));
