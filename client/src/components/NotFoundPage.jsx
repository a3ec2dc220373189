import { Link } from 'react-router';

export default function NotFoundPage() {
  return (
    <section className="page narrow">
      <h1>Page not found</h1>
      <p>There is nothing at this address. It may have moved, or the link may be mistyped.</p>
      <p>
        <Link className="button" to="/events">
          Browse events
        </Link>
      </p>
    </section>
  );
}
