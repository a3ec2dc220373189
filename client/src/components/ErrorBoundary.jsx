import { Component } from 'react';

/** Catches render errors (and failed lazy chunks) so the page never goes blank. */
export default class ErrorBoundary extends Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }

  static getDerivedStateFromError(error) {
    return { error };
  }

  componentDidCatch(error, info) {
    console.error('Ticksy client error', error, info?.componentStack);
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <section className="page narrow" role="alert">
        <h1>Something went wrong</h1>
        <p>This page could not be shown. Reloading usually helps; your tickets and orders are safe.</p>
        <p className="error-text">{String(this.state.error?.message || this.state.error)}</p>
        <div className="actions">
          <button type="button" onClick={() => window.location.reload()}>
            Reload
          </button>
          <button type="button" className="secondary" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </div>
      </section>
    );
  }
}
