// Flash sales in the storefront (filled in below).
import { html } from './lib.js';
export function FlashSales() { return html`<p>…</p>`; }
export function FlashSale() { return html`<p>…</p>`; }
