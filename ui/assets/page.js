// slogate page: keeps the server-rendered page (ui/page.go, page_view.go,
// page.html) current. Every few seconds it fetches the JSON API and
// re-renders the services, the routes, the at-risk list and the
// maintenance windows with the same markup
// and the same formatting rules as page.go; the filter and sort work on the
// data already fetched. It also submits the "declare a window" form. The
// API token is kept in sessionStorage only (this tab, until it closes).
'use strict';
(function () {
  const REFRESH_MS = 5000;
  const BURN = ['5m', '1h', '6h', '1d', '3d'];
  const TOKEN_KEY = 'slogate.apiToken';
  const MAX_ENDED = 20;
  const $ = (id) => document.getElementById(id);

  let slos = null; // last /slogate/api/v1/slos "slos"
  let services = []; // and its "services"
  let windows = null; // last /slogate/api/v1/maintenance "windows", or null without maintenance
  let lastBody = '';

  // ---- formatting: the same rules as page.go ----
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function twoUnits(a, ua, b, ub) { return b === 0 ? `${a}${ua}` : `${a}${ua} ${b}${ub}`; }
  function fmtDuration(s) { // page.go's fmtDuration: "6d 2h", "2h 5m", "14m", "45s"
    const n = Math.round(Math.abs(s)), mins = Math.round(n / 60);
    let out;
    if (n < 60) out = `${n}s`;
    else if (mins < 60) out = `${mins}m`;
    else if (mins < 24 * 60) out = twoUnits(Math.floor(mins / 60), 'h', mins % 60, 'm');
    else {
      const hours = Math.round(n / 3600);
      out = twoUnits(Math.floor(hours / 24), 'd', hours % 24, 'h');
    }
    if (s < 0 && n > 0) out = '-' + out;
    return out;
  }
  function targetString(v) { return String(Math.round(v * 100 * 1e6) / 1e6); }
  function fmtTarget(v) { return targetString(v) + '%'; }
  function targetDecimals(v) {
    const s = targetString(v), i = s.indexOf('.');
    return i < 0 ? 2 : Math.max(2, s.length - i - 1);
  }
  function fmtAvailability(v, d) {
    if (v >= 1) return '100%';
    const scale = Math.pow(10, d);
    return (Math.floor(v * 100 * scale + 1e-7) / scale).toFixed(d) + '%';
  }
  function fmtBurn(v) {
    if (v === 0) return '0';
    if (v < 10) return v.toFixed(2);
    if (v < 100) return v.toFixed(1);
    return v.toFixed(0);
  }
  function burnClass(v) { return v >= 14.4 ? 'hot' : v > 1 ? 'warm' : ''; }
  function pad(n) { return String(n).padStart(2, '0'); }
  function fmtTime(iso) {
    const t = new Date(iso);
    if (isNaN(t)) return iso;
    return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())} UTC`;
  }
  function rowID(key) { // FNV-1a over UTF-8, as page.go
    let h = 2166136261;
    for (const b of new TextEncoder().encode(key)) {
      h ^= b;
      h = Math.imul(h, 16777619) >>> 0;
    }
    return 'r-' + h.toString(16).padStart(8, '0');
  }
  function sortedKeys(m) { return Object.keys(m || {}).sort(); }
  function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  // ---- model: page.go's view ----
  function groupTitle(st) {
    const parts = [];
    const c = st.contract || {};
    if (st.tenant !== '0:0') parts.push('tenant ' + st.tenant);
    if ('customer' in c) parts.push(c.customer);
    for (const k of sortedKeys(c)) if (k !== 'customer') parts.push(k + ' ' + c[k]);
    if (sortedKeys(c).length === 0) parts.push('no contract');
    return parts.join(' · ');
  }
  function budgetWarning(kind, b, timeLeft) {
    if (b.remainingRatio <= 0 && b.remainingSeconds < 0) return `${kind} budget exhausted: overspent by ${fmtDuration(-b.remainingSeconds)}`;
    if (b.remainingRatio <= 0) return `${kind} budget exhausted`;
    if (b.exhaustionSeconds != null && b.exhaustionSeconds < timeLeft) return `${kind} budget gone in ${fmtDuration(b.exhaustionSeconds)} at the current error rate`;
    return '';
  }
  const reCache = new Map();
  function anchored(p) { // RE2 patterns as JavaScript: anchored, (?i) as a flag; null if not expressible
    if (!reCache.has(p)) {
      let src = p, flags = '';
      if (src.startsWith('(?i)')) { src = src.slice(4); flags = 'i'; }
      let re = null;
      try { re = new RegExp('^(?:' + src + ')$', flags); } catch (e) { re = null; }
      reCache.set(p, re);
    }
    return reCache.get(p);
  }
  function windowMatches(w, labels) {
    for (const name of sortedKeys(w.match)) {
      const re = anchored(w.match[name]);
      if (!re || !re.test(labels[name] ?? '')) return false;
    }
    return true;
  }
  function routeMaintenance(st) {
    // Identity labels last: a name there wins, as in the engine.
    const labels = Object.assign({ source: st.source, slo: st.objective.name, route: st.route }, st.contract || {}, st.labels || {});
    const out = [];
    for (const w of windows || []) {
      if (!w.next || !windowMatches(w, labels)) continue;
      const reason = w.reason ? ': ' + w.reason : '';
      out.push(w.active ? `in maintenance until ${fmtTime(w.nextEnd)}${reason}` : `maintenance ${fmtTime(w.next)} – ${fmtTime(w.nextEnd)}${reason}`);
    }
    return out;
  }
  function objectiveMeta(o) {
    let m = `${o.name} · ${o.window}`;
    if (o.budgeting === 'timeslices') m += ` · ${fmtSliceLength(o.sliceSeconds)} slices`;
    return m;
  }
  function fmtSliceLength(s) { return s >= 3600 ? String(s / 3600) + 'h' : String(s / 60) + 'm'; }
  function budgetText(b) {
    const pct = Math.floor(b.remainingRatio * 100);
    if (b.allowedDowntimeSeconds != null) {
      return b.remainingSeconds < 0 ? 'downtime overspent by ' + fmtDuration(-b.remainingSeconds)
        : `${fmtDuration(b.remainingSeconds)} of ${fmtDuration(b.allowedDowntimeSeconds)} downtime left (${pct}%)`;
    }
    return b.remainingSeconds < 0 ? 'overspent by ' + fmtDuration(-b.remainingSeconds) : `${fmtDuration(b.remainingSeconds)} left (${pct}%)`;
  }
  function slicesText(c) {
    let t = `${c.good} good, ${c.bad} bad slices`;
    if (c.excluded > 0) t += `, ${c.excluded} left out`;
    return t;
  }
  // fill: what routes and services show alike (page_view.go's viewRow.fill).
  function fill(r, st) {
    const o = st.objective;
    let decimals = targetDecimals(o.slo);
    if (o.sla != null) decimals = Math.max(decimals, targetDecimals(o.sla));
    let timeLeft = o.windowSeconds;
    if (o.periodEnd) timeLeft = (Date.parse(o.periodEnd) - Date.parse(st.evaluatedAt)) / 1000;
    Object.assign(r, {
      slo: fmtTarget(o.slo), sla: o.sla != null ? fmtTarget(o.sla) : '',
      availability: st.availability != null ? fmtAvailability(st.availability, decimals) : 'no requests',
      slices: st.windowSlices ? slicesText(st.windowSlices) : '',
      budgets: [], warnings: [], burn: [], release: st.releaseState,
    });
    for (const kind of ['sla', 'slo']) {
      const b = (st.budgets || {})[kind];
      if (!b) continue;
      const name = kind.toUpperCase();
      r.budgets.push({ kind: name, meter: b.remainingRatio < 1e-6 ? 0 : Math.min(b.remainingRatio, 1), low: b.remainingRatio <= 0, text: budgetText(b) });
      const w = budgetWarning(name, b, timeLeft);
      if (w) r.warnings.push(w);
    }
    if (st.creditPercent > 0) r.warnings.push(`service credit of ${st.creditPercent}% due at the current availability`);
    r.budgetKey = ((st.budgets || {}).sla || (st.budgets || {}).slo || { remainingRatio: 1 }).remainingRatio;
    r.burnKey = 0;
    for (const name of BURN) {
      for (const w of st.windows || []) {
        if (w.window !== name) continue;
        r.burn.push({ text: fmtBurn(w.burnRate), cls: burnClass(w.burnRate) });
        if (name === '1h') r.burnKey = w.burnRate;
      }
    }
    return r;
  }
  function rowOf(st, terms) {
    const labels = sortedKeys(st.labels).map((k) => k + '=' + st.labels[k]).join(' ');
    const search = [st.tenant, st.source, st.route, st.objective.name, labels]
      .concat(sortedKeys(st.contract).map((k) => k + '=' + st.contract[k])).join(' ').toLowerCase();
    const r = fill({
      cls: 'route', id: rowID(`${st.tenant}|${st.source}|${st.route}|${st.objective.name}`),
      search, labels, route: st.route, meta: `${st.source} · ${objectiveMeta(st.objective)}`,
      hidden: !terms.every((t) => search.includes(t)),
    }, st);
    r.maintenance = routeMaintenance(st);
    r.inMaintenance = !!st.maintenanceActive;
    return r;
  }
  function serviceLabels(st) { return (st.by || []).map((k) => k + '=' + ((st.labels || {})[k] ?? '')).join(' '); }
  function serviceTitle(st) {
    let t = 'service ' + st.service;
    if (st.tenant !== '0:0') t = `tenant ${st.tenant} · ${t}`;
    const l = serviceLabels(st);
    return l ? t + ' ' + l : t;
  }
  function serviceRowOf(st, terms) {
    const labels = serviceLabels(st);
    const search = [st.tenant, 'service=' + st.service, st.objective.name, labels].join(' ').toLowerCase();
    const r = fill({
      cls: 'service', id: rowID(`service|${st.tenant}|${st.service}|${labels}`),
      search, labels, route: st.service,
      meta: `${st.routes === 1 ? '1 route' : st.routes + ' routes'} · ${objectiveMeta(st.objective)}`,
      hidden: !terms.every((t) => search.includes(t)),
    }, st);
    r.maintenance = [];
    r.inMaintenance = !!st.maintenanceActive;
    return r;
  }
  function sortRows(rows, by) {
    rows.sort((a, b) => {
      if (by === 'budget') return cmp(a.budgetKey, b.budgetKey) || cmp(a.route, b.route);
      if (by === 'burn') return cmp(b.burnKey, a.burnKey) || cmp(a.route, b.route);
      return cmp(a.route, b.route);
    });
  }

  // ---- rendering: the markup of page.html ----
  function rowHTML(r) {
    let h = `<tr id="${r.id}" class="${r.cls}${r.warnings.length ? ' risk' : ''}" data-search="${esc(r.search)}"${r.hidden ? ' hidden' : ''}>`;
    h += `<th scope="row"><span class="name">${esc(r.route)}</span>${r.inMaintenance ? ' <span class="badge inmaint">in maintenance</span>' : ''} <span class="meta">${esc(r.meta)}</span> <span class="labels">${esc(r.labels)}</span>`;
    for (const w of r.warnings) h += ` <strong class="warn">${esc(w)}</strong>`;
    for (const m of r.maintenance) h += ` <span class="maint">${esc(m)}</span>`;
    h += `</th><td class="num">SLO ${esc(r.slo)}${r.sla ? '<br>SLA ' + esc(r.sla) : ''}</td>`;
    h += `<td class="num avail">${esc(r.availability)}${r.slices ? '<br><span class="meta">' + esc(r.slices) + '</span>' : ''}</td><td class="budget">`;
    for (const b of r.budgets) {
      h += `<div class="b${b.low ? ' low' : ''}"><span class="kind">${b.kind}</span> <meter min="0" max="1" low="0.25" high="0.5" optimum="1" value="${b.meter}" aria-label="${b.kind} budget left"></meter> <span class="left">${esc(b.text)}</span></div>`;
    }
    h += '</td>';
    for (const b of r.burn) h += `<td class="num burn ${b.cls}">${esc(b.text)}</td>`;
    h += `<td><span class="badge ${esc(r.release)}">${esc(r.release)}</span></td></tr>`;
    return h;
  }
  function renderRoutes() {
    if (!slos) return;
    const q = $('q').value, by = $('sort').value;
    const terms = q.toLowerCase().split(/\s+/).filter(Boolean);
    const groups = new Map();
    let shown = 0, servicesShown = 0;
    const risk = [];
    const srows = [];
    for (const st of services) {
      const r = serviceRowOf(st, terms);
      srows.push(r);
      if (!r.hidden) {
        servicesShown++;
        for (const w of r.warnings) risk.push({ id: r.id, text: `${serviceTitle(st)}: ${w}` });
      }
    }
    sortRows(srows, by);
    $('services-body').innerHTML = srows.map(rowHTML).join('');
    $('services-sec').hidden = services.length === 0;
    for (const st of slos) {
      const r = rowOf(st, terms), title = groupTitle(st);
      if (!groups.has(title)) groups.set(title, { title, rows: [] });
      groups.get(title).rows.push(r);
      if (!r.hidden) {
        shown++;
        for (const w of r.warnings) risk.push({ id: r.id, text: `${title} · ${r.route}: ${w}` });
      }
    }
    const list = [...groups.values()];
    for (const g of list) {
      sortRows(g.rows, by);
      g.key = by === 'budget' ? g.rows[0].budgetKey : by === 'burn' ? -g.rows[0].burnKey : 0;
      g.hidden = g.rows.every((r) => r.hidden);
    }
    list.sort((a, b) => (by === 'name' ? cmp(a.title, b.title) : cmp(a.key, b.key) || cmp(a.title, b.title)));
    let html = '';
    for (const g of list) {
      html += `<tbody${g.hidden ? ' hidden' : ''}><tr class="group"><th scope="rowgroup" colspan="10">${esc(g.title)}</th></tr>`;
      for (const r of g.rows) html += rowHTML(r);
      html += '</tbody>';
    }
    const table = $('routes');
    for (const tb of [...table.tBodies]) tb.remove();
    table.insertAdjacentHTML('beforeend', html);
    table.hidden = slos.length === 0;
    $('empty').hidden = slos.length > 0;
    $('nomatch').hidden = slos.length === 0 || shown > 0;
    $('count').textContent = (services.length ? `${servicesShown} of ${services.length} services, ` : '') + `${shown} of ${slos.length} routes`;
    $('risk').hidden = risk.length === 0;
    $('risk-list').innerHTML = risk.map((r) => `<li><a href="#${r.id}">${esc(r.text)}</a></li>`).join('');
    let latest = '';
    for (const st of slos.concat(services)) if (st.evaluatedAt > latest) latest = st.evaluatedAt;
    $('status').textContent = latest ? 'Data up to ' + fmtTime(latest) : 'No data yet';
  }
  function windowRows() {
    const ks = [];
    for (const w of windows || []) {
      const pairs = sortedKeys(w.match).map((k) => k + '=~' + w.match[k]);
      const v = { reason: w.reason || '', author: w.author || '', id: w.id, source: w.source, match: pairs.length ? pairs.join(' ') : 'every route' };
      let k;
      if (w.active) k = { rank: 0, at: w.next, state: 'active', when: 'until ' + fmtTime(w.nextEnd) };
      else if (w.next) k = { rank: 1, at: w.next, state: 'upcoming', when: fmtTime(w.next) + ' – ' + fmtTime(w.nextEnd) };
      else if (w.rrule) k = { rank: 2, at: w.start, state: 'ended', when: 'no occurrence within 90 days' };
      else k = { rank: 2, at: w.end, state: 'ended', when: fmtTime(w.start) + ' – ' + fmtTime(w.end) };
      if (w.rrule) k.when += ` (${w.rrule}, ${w.duration}, ${w.timezone})`;
      ks.push(Object.assign(k, v));
    }
    ks.sort((a, b) => (a.rank === 2 && b.rank === 2 ? cmp(b.at, a.at) : cmp(a.rank, b.rank) || cmp(a.at, b.at)));
    let ended = 0;
    return ks.filter((k) => k.rank < 2 || ++ended <= MAX_ENDED);
  }
  function renderWindows() {
    if (windows === null || !$('windows')) return;
    const rows = windowRows();
    $('windows-body').innerHTML = rows.map((w) => `<tr><td><span class="badge ${w.state}">${w.state}</span></td><td>${esc(w.when)}</td><td><code>${esc(w.match)}</code></td><td>${esc(w.reason)}</td><td>${esc(w.author)}</td><td>${esc(w.id)} <span class="meta">${esc(w.source)}</span></td></tr>`).join('');
    $('windows').hidden = rows.length === 0;
    $('no-windows').hidden = rows.length > 0;
  }

  // ---- refresh ----
  async function getJSON(url) {
    const resp = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (resp.status === 404) return null;
    if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
    return resp.text();
  }
  async function refresh() {
    if (document.hidden) return;
    try {
      const [s, m] = await Promise.all([getJSON('/slogate/api/v1/slos'), getJSON('/slogate/api/v1/maintenance')]);
      $('refresh-error').hidden = true;
      if (s + '\n' + m === lastBody) return;
      lastBody = s + '\n' + m;
      const data = JSON.parse(s) || {};
      slos = data.slos || [];
      services = data.services || [];
      windows = m === null ? null : (JSON.parse(m).windows || []);
      renderRoutes();
      renderWindows();
    } catch (e) {
      $('refresh-error').textContent = `Cannot refresh (${e.message}); showing older data.`;
      $('refresh-error').hidden = false;
    }
  }
  function syncURL() {
    const u = new URL(location.href);
    const q = $('q').value, by = $('sort').value;
    if (q) u.searchParams.set('q', q); else u.searchParams.delete('q');
    if (by !== 'budget') u.searchParams.set('sort', by); else u.searchParams.delete('sort');
    history.replaceState(null, '', u);
  }

  // ---- declare a window ----
  const fieldInputs = { start: 'mw-start', end: 'mw-end', duration: 'mw-end', match: 'mw-match', reason: 'mw-reason', author: 'mw-author', token: 'mw-token' };
  function showDeclareError(field, msg) {
    const el = $('declare-error');
    el.textContent = field && !msg.startsWith(field + ':') ? `${field}: ${msg}` : msg;
    el.hidden = false;
    const input = $(fieldInputs[(field || '').split('.')[0]]);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'declare-error');
      input.focus();
    }
  }
  function isoMinute(t) { return new Date(Math.floor(t / 60000) * 60000).toISOString().replace(/:00\.000Z$/, ':00Z'); }
  async function declare(ev) {
    ev.preventDefault();
    const form = $('declare');
    for (const el of form.querySelectorAll('[aria-invalid]')) { el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby'); }
    $('declare-error').hidden = true;
    $('declare-ok').hidden = true;
    const token = $('mw-token').value.trim();
    if (!token) return showDeclareError('token', 'the API token is required (the file given to -api.tokenFile)');
    sessionStorage.setItem(TOKEN_KEY, token);
    const match = {};
    for (const line of $('mw-match').value.split('\n')) {
      const t = line.trim();
      if (!t) continue;
      const i = t.indexOf('=');
      if (i <= 0) return showDeclareError('match', `line "${t}" is not label=regex`);
      match[t.slice(0, i).trim()] = t.slice(i + 1).trim();
    }
    const body = { start: $('mw-start').value.trim(), end: $('mw-end').value.trim(), reason: $('mw-reason').value.trim(), author: $('mw-author').value.trim() };
    if (Object.keys(match).length) body.match = match;
    $('mw-submit').disabled = true;
    try {
      const resp = await fetch('/slogate/api/v1/maintenance', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
        body: JSON.stringify(body),
      });
      let data;
      try { data = await resp.json(); } catch (e) { data = { error: `HTTP ${resp.status}` }; }
      if (!resp.ok) {
        if (resp.status === 401) sessionStorage.removeItem(TOKEN_KEY);
        return showDeclareError(data.field || (resp.status === 401 ? 'token' : ''), data.error || `HTTP ${resp.status}`);
      }
      if (windows !== null) windows = windows.filter((w) => w.id !== data.id).concat([data]);
      lastBody = '';
      renderWindows();
      renderRoutes();
      $('declare-ok').textContent = `Declared ${data.id}${data.reason ? ' (' + data.reason + ')' : ''}.`;
      $('declare-ok').hidden = false;
      $('mw-reason').value = '';
    } catch (e) {
      showDeclareError('', 'cannot reach slogate: ' + e.message);
    } finally {
      $('mw-submit').disabled = false;
    }
  }

  function init() {
    // A render of 1,000 routes takes about 0.1 s: render once typing pauses.
    let typing = 0;
    $('q').addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(() => { renderRoutes(); syncURL(); }, 150);
    });
    $('sort').addEventListener('change', () => { renderRoutes(); syncURL(); });
    $('controls').addEventListener('submit', (ev) => { ev.preventDefault(); renderRoutes(); syncURL(); });
    const form = $('declare');
    if (form && !form.querySelector('fieldset').disabled) {
      $('mw-token').value = sessionStorage.getItem(TOKEN_KEY) || '';
      const start = Math.ceil(Date.now() / 300000) * 300000;
      if (!$('mw-start').value) $('mw-start').value = isoMinute(start);
      if (!$('mw-end').value) $('mw-end').value = isoMinute(start + 3600000);
      form.addEventListener('submit', declare);
      $('mw-submit').disabled = false;
      $('mw-js').hidden = true;
    }
    document.addEventListener('visibilitychange', refresh);
    refresh();
    setInterval(refresh, REFRESH_MS);
  }
  init();
})();
