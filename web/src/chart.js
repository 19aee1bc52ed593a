// A small SVG line chart (no library): values left to right, the y axis from 0 to the largest value.
import { html } from './lib.js';

export function Chart({ values, label, width = 600, height = 180 }) {
  const max = Math.max(1, ...values);
  const n = Math.max(values.length, 2);
  const x = (i) => 30 + (i * (width - 40)) / (n - 1);
  const y = (v) => height - 20 - (v / max) * (height - 40);
  const pts = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const lastV = values.length ? values[values.length - 1] : 0;
  return html`<svg class="chart" viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`${label}: now ${lastV.toFixed(1)}, peak ${max.toFixed(1)}`}>
    <line x1="30" y1=${height - 20} x2=${width - 10} y2=${height - 20} stroke="#9aa3b5" />
    <line x1="30" y1="20" x2="30" y2=${height - 20} stroke="#9aa3b5" />
    <text x="26" y="24" text-anchor="end" font-size="11" fill="#5b6475">${max.toFixed(0)}</text>
    <text x="26" y=${height - 20} text-anchor="end" font-size="11" fill="#5b6475">0</text>
    ${values.length > 1 && html`<polyline points=${pts} fill="none" stroke="#1d4ed8" stroke-width="2" />`}
  </svg>`;
}
