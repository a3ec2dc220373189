import TableHead from '../../components/TableHead';
import { shortDate } from '../../app/format';

const WIDTH = 600;
const HEIGHT = 220;
const PAD = { top: 16, right: 12, bottom: 40, left: 40 };

/** Tickets sold per day as an inline SVG bar chart, with the same figures as a table for screen readers. */
export default function SalesChart({ days = [], title = 'Sales per day (tickets)' }) {
  if (!days.length) return <p className="hint">No sales yet, so there is nothing to chart.</p>;
  const max = Math.max(1, ...days.map((d) => d.tickets));
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const slot = innerW / days.length;
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  const labelEvery = Math.ceil(days.length / 8);
  const ticks = [0, Math.ceil(max / 2), max].filter((v, i, a) => a.indexOf(v) === i);

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}: bar chart over ${days.length} day${days.length === 1 ? '' : 's'}`}>
        {ticks.map((t) => {
          const y = PAD.top + innerH - (t / max) * innerH;
          return (
            <g key={t}>
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} className="chart-grid" />
              <text x={PAD.left - 6} y={y + 4} textAnchor="end" className="chart-label">
                {t}
              </text>
            </g>
          );
        })}
        {days.map((d, i) => {
          const h = (d.tickets / max) * innerH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={d.date}>
              <rect x={x} y={PAD.top + innerH - h} width={barW} height={h} className="chart-bar">
                <title>{`${shortDate(d.date)}: ${d.tickets} ticket${d.tickets === 1 ? '' : 's'}`}</title>
              </rect>
              {i % labelEvery === 0 && (
                <text x={x + barW / 2} y={HEIGHT - PAD.bottom + 16} textAnchor="middle" className="chart-label">
                  {shortDate(d.date)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>{title}</figcaption>
      <table className="sr-only">
        <caption>{title}</caption>
        <TableHead columns={['Day', 'Tickets', 'Revenue']} />
        <tbody>
          {days.map((d) => (
            <tr key={d.date}>
              <td>{d.date}</td>
              <td>{d.tickets}</td>
              <td>{d.revenue}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
