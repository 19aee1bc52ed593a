import { html, render } from './lib.js';
render(html`<p>Console</p>`, document.getElementById('app'));
