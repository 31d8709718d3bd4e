/* switchyard inspector: no dependencies, no network but this sidecar's own /switchyard/* routes.
 * Live data: the event stream (transitions, budget refusals) + a 1 s poll of /switchyard/state
 * (counters that change without a transition) + a 3 s poll of /switchyard/spend (the chart).
 * With ?token=… every request carries "authorization: Bearer <token>"; since EventSource
 * cannot send headers, the stream is then read with fetch() and parsed here. */
(function () {
  'use strict';
  var STATE_MS = 1000, SPEND_MS = 3000, TICK_MS = 200, MAX_TIMELINE = 200, MAX_POINTS = 240;
  var PALETTE = ['#5b9cf5', '#b88cf2', '#4fd1d9', '#f28cc4', '#c9d36a', '#9aa7ff', '#7fd6b4', '#d9a3ff'];  // clear of the state colours
  // A '+' of the token left unencoded in the URL reads as a space: put back (a token has no space).
  var token = (new URLSearchParams(location.search).get('token') || '').replace(/ /g, '+') || null;
  var base = location.pathname.replace(/\/inspect\/?$/, '/');
  var headers = token ? { authorization: 'Bearer ' + token } : {};
  var eps = new Map();        // endpoint id -> { view, state, stateAt, retryAt, el }
  var seen = new Set();       // "seq@at" of records already shown (history is replayed on reconnect)
  var series = [];            // [{ t, values: { model: usd } }]
  var colours = new Map();
  var skew = 0;               // server clock - browser clock, from the state poll
  var streaming = false, stateOk = false, refusedStatus = null;
  var $ = function (id) { return document.getElementById(id); };

  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) if (attrs[k] !== null && attrs[k] !== undefined) el.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (c) { el.append(c instanceof Node ? c : String(c)); });
    return el;
  }
  function svg(tag, attrs) {
    var el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  }
  var now = function () { return Date.now() + skew; };
  function num(x) {
    if (x === null || x === undefined) return '–';
    if (x >= 1e6) return (x / 1e6).toFixed(x >= 1e7 ? 0 : 1) + 'M';
    if (x >= 1e4) return (x / 1e3).toFixed(x >= 1e5 ? 0 : 1) + 'k';
    return String(Math.round(x * 10) / 10);
  }
  function usd(x) { var t = x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3); return x === 0 ? '$0' : '$' + (t.indexOf('e') >= 0 ? x.toFixed(9).replace(/0+$/, '') : t); }
  function ms(x) { return x === null || x === undefined ? '–' : Math.round(x) + ' ms'; }
  function span(s) {
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + 's';
    var m = Math.floor(s / 60); if (m < 60) return m + 'm ' + Math.floor(s % 60) + 's';
    var hh = Math.floor(m / 60); return hh < 48 ? hh + 'h ' + (m % 60) + 'm' : Math.floor(hh / 24) + 'd ' + (hh % 24) + 'h';
  }
  function clock(t) { return new Date(t).toLocaleTimeString([], { hour12: false }) + '.' + String(t % 1000).padStart(3, '0'); }
  function epId(actor) { return actor.indexOf('endpoint:') === 0 ? actor.slice(9).replace(/#\d+$/, '') : null; }
  function actorName(actor) { return epId(actor) || (/^x:\d+$/.test(actor) ? 'supervisor' : actor); }
  function eventName(t) {
    if (!t) return '';
    if (t === 'xstate.init') return 'start';
    var m = /^xstate\.after\.([^.]+)\./.exec(t);
    return m ? 'after ' + m[1] + ' delay' : t;
  }

  function setConn() {
    var c = $('conn'), mode = !stateOk ? (refusedStatus !== null ? 'refused' : 'offline') : streaming ? 'live' : 'polling';
    c.dataset.conn = mode;
    // A sidecar that answers 401 is up: its admin token is missing or wrong (it said "unreachable").
    c.textContent = mode === 'live' ? '● live' : mode === 'polling' ? 'polling (no event stream)'
      : mode === 'refused' ? 'sidecar refused the admin token (HTTP ' + refusedStatus + '): open the banner\'s URL with ?token=<SWITCHYARD_ADMIN_TOKEN>' : 'sidecar unreachable';
  }

  /* ---------- endpoint cards ---------- */
  function meter(label, used, limit) {
    var pct = limit ? Math.min(100, (used / limit) * 100) : 0;
    var fill = h('div', { class: 'fill' }); fill.style.width = pct + '%';
    return h('div', { class: 'meter' }, [h('span', { class: 'label' }, [label]), h('div', { class: 'bar' }, [fill]),
      h('span', { class: 'val' }, [num(used) + ' / ' + (limit === null ? '∞' : num(limit))])]);
  }
  function renderCard(e) {
    var v = e.view; if (!v) return;
    // Rebuilt only when something on it changed: every card each second took 30 % of a core at 260 endpoints.
    var key = e.state + '|' + e.retryAt + '|' + JSON.stringify(v);
    if (e.el && e.key === key) return;
    e.key = key;
    var el = h('article', { class: 'card', 'data-endpoint': v.id, 'data-state': e.state }, [
      h('div', { class: 'top' }, [h('span', { class: 'model', title: v.model }, [v.model]), h('span', { class: 'badge', 'data-state': e.state }, [e.state])]),
      h('div', { class: 'id' }, [v.id + ' · ' + v.provider]),
      meter('RPM', v.rpm.used, v.rpm.limit),
      meter('TPM', v.tpm.used, v.tpm.limit),
      h('div', { class: 'stats' }, [
        h('div', {}, [h('span', {}, ['in flight ']), v.inFlight + ' / ' + v.maxConcurrent]),
        h('div', {}, [h('span', {}, ['failures ']), String(v.consecutiveFailures)]),
        h('div', {}, [h('span', {}, ['p50 ']), ms(v.latency.p50)]),
        h('div', {}, [h('span', {}, ['EWMA ']), ms(v.latency.ewma)]),
        h('div', {}, [h('span', {}, ['requests ']), String(v.requests)]),
        h('div', {}, [h('span', {}, ['ok / err ']), v.successes + ' / ' + v.errors]),
      ]),
      h('div', { class: 'retry', 'data-retry-at': e.retryAt === null ? null : String(e.retryAt) }),
      h('div', { class: 'reason' }, [e.state === 'healthy' || !v.reason ? '' : 'reason: ' + v.reason]),
    ]);
    if (e.el) e.el.replaceWith(el); else $('endpoints').append(el);
    e.el = el;
    tickCard(el);
  }
  function tickCard(el) {
    var r = el.querySelector('.retry'), at = r && r.dataset.retryAt;
    if (!r) return;
    var st = el.dataset.state, left = at ? (Number(at) - now()) / 1000 : null;
    if (left === null || st === 'healthy') { r.textContent = ''; return; }
    var what = st === 'circuit-open' ? 'half-open in ' : 'retry in ';
    r.textContent = left > 0 ? what + span(left) : what + '0s (due)';
  }
  function applyTransition(r) {
    var id = epId(r.actor); if (id === null) return;
    var e = eps.get(id) || { view: null, state: r.to, stateAt: 0, retryAt: null, el: null };
    eps.set(id, e);
    if (r.at < e.stateAt) return;
    e.state = r.to; e.stateAt = r.at;
    var c = r.context || {};
    e.retryAt = typeof c.retryAt === 'number' ? c.retryAt : null;
    if (e.view) {  // the record's context summary is newer than the last state poll
      if (typeof c.failures === 'number') e.view.consecutiveFailures = c.failures;
      if (typeof c.inFlight === 'number') e.view.inFlight = c.inFlight;
      if (typeof c.requests === 'number') e.view.requests = c.requests;
      if (typeof c.latencyEwma === 'number') e.view.latency.ewma = c.latencyEwma;
      if ('reason' in c) e.view.reason = c.reason;
    }
    renderCard(e);
  }

  /* ---------- /switchyard/state poll ---------- */
  function onState(s) {
    var at = Date.parse(s.at); skew = at - Date.now();
    var ids = new Set();
    if (eps.size === 0 || !$('endpoints').querySelector('.card')) $('endpoints').textContent = '';
    s.endpoints.forEach(function (v) {
      ids.add(v.id);
      var e = eps.get(v.id) || { view: null, state: v.state, stateAt: 0, retryAt: null, el: null };
      eps.set(v.id, e); e.view = v;
      if (at >= e.stateAt) {
        if (!streaming && e.view && e.state !== v.state && e.el) addTimeline({ actor: 'endpoint:' + v.id, from: null, to: v.state, at: at, event: { type: '(seen by polling)' } });
        e.state = v.state; e.stateAt = at; e.retryAt = v.retryAt ? Date.parse(v.retryAt) : null;
      }
      renderCard(e);
    });
    eps.forEach(function (e, id) { if (!ids.has(id)) { if (e.el) e.el.remove(); eps.delete(id); } });
    $('s-uptime').textContent = span(s.uptimeMs / 1000);
    $('s-routed').textContent = String(s.supervisor.requestsRouted);
    $('s-queue').textContent = String(s.supervisor.queueDepth);
    $('s-inflight').textContent = String(s.supervisor.inFlight);
    $('s-supervisor').textContent = s.supervisor.state;
    if (s.shared) {
      // Replica id, the shared store and its health, and what is shared (issue 13).
      $('s-replica').textContent = s.shared.replica;
      $('s-shared').textContent = s.shared.health === 'local' ? 'in process' : `${s.shared.store} ${s.shared.health}`;
      $('s-shared').title = s.shared.health === 'local' ? 'limits and budgets hold for this process only' : `shared: ${s.shared.shared.join(', ')}; per replica: ${s.shared.local.join(', ')}${s.shared.lastError ? `; ${s.shared.lastError}` : ''}`;
    }
    renderBudgets(s.budgets);
  }
  function renderBudgets(bs) {
    var box = $('budgets');
    box.textContent = '';
    // None left (a reload removed them all): said, not the last figures kept.
    if (bs.length === 0) { box.append(h('p', { class: 'empty' }, ['no budget limits configured'])); return; }
    bs.forEach(function (b) {
      var used = b.limitUsd > 0 ? (b.spentUsd + b.reservedUsd) / b.limitUsd : 1;
      var spent = h('div', { class: 'fill' }), res = h('div', { class: 'fill reserved' });
      spent.style.width = Math.min(100, b.limitUsd > 0 ? (b.spentUsd / b.limitUsd) * 100 : 100) + '%';
      res.style.width = Math.min(100, b.limitUsd > 0 ? (b.reservedUsd / b.limitUsd) * 100 : 0) + '%';
      box.append(h('div', { class: 'budget', 'data-budget': b.id, 'data-level': used >= 1 ? 'full' : used >= 0.8 ? 'warn' : 'ok' }, [
        h('div', { class: 'head' }, [h('b', {}, [b.id]), h('span', {}, [usd(b.spentUsd) + ' spent + ' + usd(b.reservedUsd) + ' reserved of ' + usd(b.limitUsd)])]),
        h('div', { class: 'bar' }, [spent, res]),
        h('div', { class: 'foot' }, [h('span', {}, [(used * 100).toFixed(2) + '% used · ' + usd(b.remainingUsd) + ' left · ' + b.period]),
          h('span', { 'data-resets-at': b.resetsAt ? String(Date.parse(b.resetsAt)) : null }, [b.resetsAt ? '' : 'never resets'])]),
      ]));
    });
    tick();
  }

  /* ---------- spend chart ---------- */
  function colour(m) { if (!colours.has(m)) colours.set(m, PALETTE[colours.size % PALETTE.length]); return colours.get(m); }
  function onSpend(sp) {
    var values = Object.create(null);  // a model named toString or constructor is no inherited key
    sp.groups.forEach(function (g) { if (g.model !== '(none)') values[g.model] = g.usd; });
    series.push({ t: Date.now(), values: values });
    if (series.length > MAX_POINTS) series.shift();
    var tb = $('spend-table').tBodies[0]; tb.textContent = '';
    sp.groups.forEach(function (g) {
      var sw = h('span', { class: 'swatch' });
      sw.style.background = g.model === '(none)' ? 'transparent' : colour(g.model);
      tb.append(h('tr', { 'data-model': g.model }, [h('td', {}, [sw, g.model]), h('td', {}, [String(g.requests)]),
        h('td', {}, [num(g.promptTokens)]), h('td', {}, [num(g.completionTokens)]), h('td', {}, [usd(g.usd)])]));
    });
    tb.append(h('tr', {}, [h('td', {}, [h('b', {}, ['total'])]), h('td', {}, [String(sp.total.requests)]), h('td'), h('td'), h('td', {}, [h('b', {}, [usd(sp.total.usd)])])]));
    drawChart();
  }
  function drawChart() {
    var W = 600, H = 200, L = 58, B = 20, box = $('spend-chart');
    var models = new Set(); series.forEach(function (p) { Object.keys(p.values).forEach(function (m) { models.add(m); }); });
    var max = 0; series.forEach(function (p) { for (var m in p.values) max = Math.max(max, p.values[m]); });
    max = max > 0 ? max * 1.1 : 1e-6;
    var t0 = series.length ? series[0].t : 0, t1 = series.length ? series[series.length - 1].t : 1, dt = Math.max(t1 - t0, 1);
    var x = function (t) { return L + ((t - t0) / dt) * (W - L - 8); }, y = function (v) { return 8 + (1 - v / max) * (H - B - 8); };
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'spend by model over time' });
    for (var i = 0; i <= 4; i++) {
      var v = (max / 4) * i, yy = y(v);
      s.append(svg('line', { x1: L, x2: W - 8, y1: yy, y2: yy, stroke: '#2a3240', 'stroke-width': 1 }));
      var lab = svg('text', { x: L - 4, y: yy + 3, 'text-anchor': 'end' }); lab.textContent = usd(v); s.append(lab);
    }
    var tl = svg('text', { x: L, y: H - 5 }); tl.textContent = series.length ? clock(t0).slice(0, 8) : ''; s.append(tl);
    var tr = svg('text', { x: W - 8, y: H - 5, 'text-anchor': 'end' }); tr.textContent = series.length ? clock(t1).slice(0, 8) : ''; s.append(tr);
    models.forEach(function (m) {
      var pts = series.filter(function (p) { return m in p.values; }).map(function (p) { return x(p.t).toFixed(1) + ',' + y(p.values[m]).toFixed(1); });
      if (pts.length === 1) pts.push((W - 8) + ',' + pts[0].split(',')[1]);
      s.append(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: colour(m), 'stroke-width': 2, 'data-model': m }));
    });
    box.textContent = ''; box.append(s);
  }

  /* ---------- timeline ---------- */
  function addTimeline(r) {
    var to = r.to, ev = r.event || {};
    var why = r.context && r.context.reason ? ' · ' + r.context.reason : '';
    // data-to, not data-state: only cards carry data-endpoint + data-state (test selectors).
    var li = h('li', { class: 'fresh', 'data-actor': r.actor, 'data-to': to, 'data-kind': r.kind || 'transition' }, [
      h('time', {}, [clock(r.at)]),
      h('div', {}, [h('span', { class: 'actor' }, [actorName(r.actor) + (r.replaced === true ? ' (replaced, draining)' : '')]), ' ', r.from === null ? '' : r.from + ' → ',
        h('span', { class: 'to', 'data-state': to }, [to]), ' ', h('span', { class: 'ev' }, [eventName(ev.type) + why])]),
    ]);
    var list = $('timeline'); list.prepend(li);
    while (list.children.length > MAX_TIMELINE) list.lastChild.remove();
  }
  function onRecord(r) {
    var key = r.seq + '@' + r.at; if (seen.has(key)) return;
    seen.add(key); if (seen.size > 5000) seen = new Set(Array.from(seen).slice(-2000));
    // A replaced endpoint's draining actor (a reload's) is not the card's endpoint: its line says so, its card is untouched.
    if (r.kind === 'transition') { addTimeline(r); if (r.replaced !== true) applyTransition(r); }
    else if (r.kind === 'budget' && r.to === 'refused') addTimeline(r);
    else if (r.kind === 'escalation') addTimeline(r);
  }

  /* ---------- transport ---------- */
  function get(path) {
    return fetch(base + path, { headers: headers, cache: 'no-store' }).then(function (res) {
      if (!res.ok) { var e = new Error(path + ': HTTP ' + res.status); e.status = res.status; throw e; }
      return res.json();
    });
  }
  function poll(path, every, fn, ok) {
    var run = function () {
      get(path).then(function (j) { fn(j); if (ok) ok(true); }, function (e) { if (ok) ok(false, e && e.status); })
        .finally(function () { setTimeout(run, every); });
    };
    run();
  }
  function handle(ev) { try { onRecord(JSON.parse(ev.data)); } catch (e) { /* a malformed record is skipped */ } }
  function viaEventSource() {
    var es = new EventSource(base + 'events');
    es.onopen = function () { streaming = true; setConn(); };
    es.onerror = function () { streaming = false; setConn(); };  // EventSource reconnects by itself
    es.addEventListener('transition', handle);
    es.addEventListener('budget', handle);
    es.addEventListener('escalation', handle);  // the cascade's steps (a named event reaches only its own listener)
  }
  /* EventSource cannot send an authorization header: read the stream with fetch instead. */
  var lastEventId = null;  // the stream's last `id:`, sent back on reconnect as EventSource does
  function viaFetch() {
    var h = {}; for (var k in headers) h[k] = headers[k];
    if (lastEventId !== null) h['Last-Event-ID'] = lastEventId;
    fetch(base + 'events', { headers: h, cache: 'no-store' }).then(function (res) {
      if (!res.ok || !res.body) throw new Error('events: HTTP ' + res.status);
      streaming = true; setConn();
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = '', data = [], type = 'message';
      function line(l) {
        if (l === '') { if (data.length) handle({ type: type, data: data.join('\n') }); data = []; type = 'message'; return; }
        if (l[0] === ':') return;
        var i = l.indexOf(':'), f = i < 0 ? l : l.slice(0, i), v = i < 0 ? '' : l.slice(i + 1).replace(/^ /, '');
        if (f === 'data') data.push(v); else if (f === 'event') type = v; else if (f === 'id' && v.indexOf('\u0000') < 0) lastEventId = v;
      }
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error('events: stream ended');
          buf += dec.decode(r.value, { stream: true });
          var parts = buf.split(/\r\n|\r|\n/); buf = parts.pop();
          parts.forEach(line);
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      streaming = false; setConn();
      setTimeout(viaFetch, 2000);  // meanwhile the state poll keeps the cards current
    });
  }
  function tick() {
    document.querySelectorAll('.card').forEach(tickCard);
    document.querySelectorAll('[data-resets-at]').forEach(function (el) {
      var left = (Number(el.dataset.resetsAt) - now()) / 1000;
      el.textContent = 'resets in ' + span(Math.max(0, left));
    });
  }

  poll('state', STATE_MS, onState, function (ok, status) { stateOk = ok; refusedStatus = status === 401 || status === 403 ? status : null; setConn(); });
  poll('spend?group_by=model', SPEND_MS, onSpend);
  if (token || typeof EventSource === 'undefined') viaFetch(); else viaEventSource();
  setInterval(tick, TICK_MS);
})();
