// claudewire console: plain JavaScript, no library, nothing fetched but this gateway's own /console/api/*.
// The gateway token (tokens mode) lives in `token` below and nowhere else: not in a URL, a cookie or storage.
// The live stream is server-sent events read with fetch (EventSource cannot send a header).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const STATUS_SERIES = ["2xx", "4xx", "5xx", "other"];
  let token = null;
  let needsToken = false;
  let calls = []; // newest first, at most `size`
  let size = 500;
  let lastSeq = 0;
  let kinds = {};
  let abort = null;
  let retryTimer = null;
  let rendered = false;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function headers() { return token ? { authorization: "Bearer " + token } : {}; }
  function ms(v) {
    if (v === null || v === undefined) return "–";
    return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + " s" : Math.round(v) + " ms";
  }
  function num(v) {
    if (v === null || v === undefined) return "–";
    if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (v >= 1e4) return Math.round(v / 1e3) + "k";
    return String(Math.round(v));
  }
  function clock(t) {
    const d = new Date(t * 1000);
    return d.toTimeString().slice(0, 8);
  }
  function statusClass(status) { return status >= 100 && status < 600 ? Math.floor(status / 100) + "xx" : "other"; }

  // --- connection -----------------------------------------------------------------------------------------------
  function banner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
  }
  function live(on, text) {
    const l = $("live");
    l.className = on ? "live on" : "live";
    l.textContent = text;
  }
  function later(delay) {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = setTimeout(() => { retryTimer = null; connect(); }, delay);
  }
  function showLogin(message) {
    $("login").hidden = false;
    $("main").hidden = true;
    $("ready").textContent = "locked";
    $("ready").className = "pill pill-wait";
    live(false, "needs a token");
    const err = $("login-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("token").focus();
  }

  async function connect() {
    if (abort) abort.abort();
    const controller = new AbortController();
    abort = controller;
    let res;
    try {
      res = await fetch("/console/api/events?since=" + lastSeq, {
        headers: headers(), cache: "no-store", credentials: "omit", signal: controller.signal,
      });
    } catch (e) {
      if (controller.signal.aborted) return;
      live(false, "gateway unreachable, retrying");
      later(3000);
      return;
    }
    if (res.status === 401) {
      needsToken = true;
      showLogin(token ? "That token was refused." : "");
      token = null;
      return;
    }
    if (res.status === 429) {
      const wait = parseInt(res.headers.get("retry-after") || "10", 10);
      banner("Too many console pages are open on this gateway; retrying in " + wait + " s.");
      live(false, "waiting");
      later(wait * 1000);
      return;
    }
    if (!res.ok || !res.body) {
      live(false, "error " + res.status + ", retrying");
      later(3000);
      return;
    }
    banner("");
    $("login").hidden = true;
    $("main").hidden = false;
    live(true, "live");
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) update(JSON.parse(data));
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    live(false, "reconnecting");
    later(2000);
  }

  // --- rendering ------------------------------------------------------------------------------------------------
  function update(doc) {
    if (doc.seq < lastSeq) { // the gateway restarted: its numbering starts again
      calls = [];
      lastSeq = 0;
      rendered = false;
    }
    size = doc.size;
    Object.assign(kinds, doc.kinds);
    if (doc.calls.length) {
      calls = doc.calls.slice().reverse().concat(calls).slice(0, size);
      lastSeq = doc.seq;
    }
    renderGateway(doc.gateway);
    renderCharts(doc.charts);
    renderClients(doc.clients);
    if (doc.calls.length || !rendered) { // redrawn only when it changed: a row stays put under the pointer
      rendered = true;
      renderFilters();
      renderCalls();
    }
  }

  function renderGateway(g) {
    const ready = $("ready");
    ready.textContent = g.ready ? "ready" : "NOT ready";
    ready.className = "pill " + (g.ready ? "pill-ok" : "pill-bad");
    const doctor = $("doctor");
    doctor.className = "card doctor " + g.doctor.status;
    $("doctor-says").textContent = g.doctor.says;
    $("doctor-fix").textContent = g.doctor.fix;
    $("doctor-fix").hidden = !g.doctor.fix;
    const box = $("upstreams");
    clear(box);
    for (const u of g.upstreams) {
      const card = el("div", "upstream");
      const h = el("h3");
      h.appendChild(el("span", null, u.name));
      h.appendChild(el("span", "muted", "priority " + u.priority));
      h.appendChild(el("span", u.usable ? "state state-closed" : "state state-open", u.usable ? "usable" : "NOT usable"));
      card.appendChild(h);
      const wrap = el("div", "scroll");
      const table = el("table", "grid keys");
      const head = el("tr");
      for (const t of ["key", "state", "why", "back in", "headroom (req / tok)"]) head.appendChild(el("th", null, t));
      table.appendChild(el("thead")).appendChild(head);
      const body = el("tbody");
      for (const k of u.keys) {
        const tr = el("tr");
        tr.appendChild(el("td", null, k.key));
        tr.appendChild(el("td", "state state-" + k.state, k.state.replace("_", "-")));
        tr.appendChild(el("td", null, k.reason || "–"));
        tr.appendChild(el("td", null, k.retry_in > 0 ? k.retry_in + " s" : "–"));
        const hr = k.headroom || {};
        const req = hr.requests !== undefined ? num(hr.requests) : "–";
        const tok = hr.tokens !== undefined ? num(hr.tokens) : hr.input_tokens !== undefined ? num(hr.input_tokens) : "–";
        tr.appendChild(el("td", null, req + " / " + tok));
        body.appendChild(tr);
      }
      table.appendChild(body);
      wrap.appendChild(table);
      card.appendChild(wrap);
      box.appendChild(card);
    }
    const aff = g.affinity || {};
    const parts = [];
    parts.push("retry budget left: " + (g.retry_budget_left === null ? "no budget set" : g.retry_budget_left));
    parts.push("affinity: " + (aff.hit || 0) + " hits, " + (aff.new || 0) + " new, " + (aff.break || 0) + " breaks");
    $("policy").textContent = parts.join(" · ");
  }

  function chartBox(title, total, series) {
    const box = el("div", "chart");
    const head = el("div", "head");
    head.appendChild(el("span", null, title));
    head.appendChild(el("strong", null, total));
    box.appendChild(head);
    const legend = el("div", "legend");
    series.forEach((s, i) => legend.appendChild(el("span", "s" + (s.color !== undefined ? s.color : i), s.name)));
    return [box, legend];
  }

  // mode: "stack" (each minute's values on top of each other), "overlay" (each from zero, the later in front:
  // p95 behind p50) or "group" (side by side within the minute); `fixedMax`: the top of the scale (1 for ratios)
  function bars(title, series, totalText, mode, fixedMax) {
    const [box, legend] = chartBox(title, totalText, series);
    const n = series.length ? series[0].values.length : 0;
    const heights = Array.from({ length: n }, (_, i) => series.map((s) => s.values[i] || 0));
    const max = fixedMax || Math.max(1e-9, ...heights.map((h) => (mode === "stack" ? sum(h) : Math.max(0, ...h))));
    const plot = svg("svg", { viewBox: "0 0 " + Math.max(1, n) * 10 + " 100", preserveAspectRatio: "none", role: "img" });
    plot.setAttribute("aria-label", title);
    const width = mode === "group" ? 8 / Math.max(1, series.length) : 8;
    for (let i = 0; i < n; i++) {
      let base = 100;
      series.forEach((s, j) => {
        const v = heights[i][j];
        if (!v) return;
        const h = Math.max(1, (v / max) * 96);
        const x = i * 10 + 1 + (mode === "group" ? j * width : mode === "overlay" ? j * 1.5 : 0);
        const w = mode === "overlay" ? width - j * 3 : width;
        const y = mode === "stack" ? base - h : 100 - h;
        if (mode === "stack") base -= h;
        plot.appendChild(svg("rect", { x: x, y: y, width: Math.max(0.5, w), height: h, class: "s" + (s.color !== undefined ? s.color : j) }));
      });
    }
    box.appendChild(plot);
    box.appendChild(legend);
    return box;
  }

  function sum(values) { return values.reduce((a, v) => a + (v || 0), 0); }
  function lastOf(values) { for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i]; return null; }

  function renderCharts(c) {
    const box = $("charts");
    clear(box);
    box.appendChild(bars("requests by status", STATUS_SERIES.map((k, i) => ({ name: k, values: c.status[k], color: [5, 1, 2, 3][i] })),
      num(sum(c.requests)), "stack"));
    const errs = Object.keys(c.errors);
    box.appendChild(bars("errors by kind", errs.length ? errs.map((k, i) => ({ name: k, values: c.errors[k], color: (i + 2) % 8 }))
      : [{ name: "none", values: c.requests.map(() => 0), color: 3 }], num(errs.reduce((a, k) => a + sum(c.errors[k]), 0)), "stack"));
    box.appendChild(bars("retries and failovers", [{ name: "retries", values: c.retries, color: 1 }, { name: "failovers", values: c.failovers, color: 4 }],
      num(sum(c.retries)) + " / " + num(sum(c.failovers)), "group"));
    box.appendChild(bars("time to first token", [{ name: "p95", values: c.ttfb_p95, color: 1 }, { name: "p50", values: c.ttfb_p50, color: 0 }],
      "p95 " + ms(lastOf(c.ttfb_p95)), "overlay"));
    box.appendChild(bars("duration", [{ name: "p95", values: c.duration_p95, color: 1 }, { name: "p50", values: c.duration_p50, color: 0 }],
      "p95 " + ms(lastOf(c.duration_p95)), "overlay"));
    box.appendChild(bars("tokens in and out", [{ name: "in", values: c.tokens_in, color: 0 }, { name: "out", values: c.tokens_out, color: 5 }],
      num(sum(c.tokens_in)) + " / " + num(sum(c.tokens_out)), "group"));
    const models = Object.keys(c.cache);
    const named = models.map((m) => m + " " + (c.cache_total[m] === null ? "–" : Math.round(c.cache_total[m] * 100) + "%"));
    box.appendChild(bars("prompt-cache hit ratio", models.length ? models.map((m, i) => ({ name: named[i], values: c.cache[m], color: i }))
      : [{ name: "no prompt tokens yet", values: c.requests.map(() => 0), color: 3 }], "", "group", 1));
  }

  function meter(used, limit) {
    const td = el("td");
    if (limit === null || limit === undefined) {
      td.textContent = num(used) + " (no limit)";
      return td;
    }
    const share = Math.min(1, used / limit);
    const m = el("span", "meter" + (share >= 1 ? " full" : share >= 0.8 ? " high" : ""));
    const fill = el("i");
    fill.style.width = Math.round(share * 100) + "%";
    m.appendChild(fill);
    td.appendChild(m);
    td.appendChild(document.createTextNode(num(used) + " / " + num(limit)));
    return td;
  }

  function renderClients(list) {
    $("clients-card").hidden = !list.length;
    const body = $("clients").tBodies[0];
    clear(body);
    for (const c of list) {
      const tr = el("tr");
      tr.appendChild(el("td", null, c.name));
      tr.appendChild(meter(c.requests, c.requests_per_minute));
      tr.appendChild(meter(c.tokens, c.tokens_per_minute));
      tr.appendChild(meter(c.tokens_today, c.tokens_per_day));
      tr.appendChild(el("td", null, c.models ? c.models.join(", ") : "any"));
      body.appendChild(tr);
    }
  }

  function fillSelect(select, values) {
    const keep = select.value;
    const have = Array.from(select.options).slice(1).map((o) => o.value);
    if (have.join("\n") === values.join("\n")) return;
    while (select.options.length > 1) select.remove(1);
    for (const v of values) {
      const o = el("option", null, v);
      o.value = v;
      select.appendChild(o);
    }
    select.value = values.includes(keep) ? keep : "";
  }

  function renderFilters() {
    fillSelect($("f-model"), [...new Set(calls.map((c) => c.model).filter(Boolean))].sort());
    fillSelect($("f-client"), [...new Set(calls.map((c) => c.client).filter(Boolean))].sort());
  }

  function shown() {
    const st = $("f-status").value;
    const model = $("f-model").value;
    const client = $("f-client").value;
    return calls.filter((c) => {
      if (st === "error" && !c.error) return false;
      if (st === "retried" && c.attempts.length < 2) return false;
      if (st && st !== "error" && st !== "retried" && statusClass(c.status) !== st) return false;
      if (model && c.model !== model) return false;
      if (client && c.client !== client) return false;
      return true;
    });
  }

  function renderCalls() {
    const list = shown();
    const body = $("calls").tBodies[0];
    clear(body);
    $("calls-empty").hidden = calls.length > 0;
    $("calls-count").textContent = "(" + list.length + " of the last " + calls.length + "; this gateway keeps " + size + ")";
    for (const c of list) {
      const tr = el("tr");
      tr.tabIndex = 0;
      tr.dataset.seq = c.seq;
      tr.appendChild(el("td", null, clock(c.t)));
      tr.appendChild(el("td", "wide", c.route + (c.dialect !== "anthropic" ? " (" + c.dialect + ")" : "") + (c.stream ? " ⇢" : "")));
      tr.appendChild(el("td", null, c.model || "–"));
      tr.appendChild(el("td", "st-" + statusClass(c.status), c.status === 0 ? "–" : c.status));
      tr.appendChild(el("td", null, c.attempts.length));
      tr.appendChild(el("td", "wide", c.served || "–"));
      tr.appendChild(el("td", "wide", ms(c.ttfb_ms)));
      tr.appendChild(el("td", "wide", num(c.input_tokens + c.cache_read + c.cache_creation) + " / " + num(c.output_tokens)));
      const err = el("td", c.error ? "kind" : null, c.error || "");
      if (c.error && kinds[c.error]) err.title = kinds[c.error].cause;
      tr.appendChild(err);
      body.appendChild(tr);
    }
  }

  function openCall(seq) {
    const c = calls.find((x) => x.seq === seq);
    if (!c) return;
    $("detail-title").textContent = (c.model || c.route) + " · " + (c.status || "no answer") + " · " + clock(c.t);
    const facts = $("detail-facts");
    clear(facts);
    const rows = [
      ["route", c.route + " (" + c.dialect + (c.stream ? ", streamed" : "") + ")"],
      ["served by", c.served || "no upstream"],
      ["upstreams tried", c.upstreams.join(" → ") || "none"],
      ["time to first byte", ms(c.ttfb_ms)],
      ["duration", ms(c.duration_ms)],
      ["tokens", "in " + c.input_tokens + ", cache read " + c.cache_read + ", cache write " + c.cache_creation + ", out " + c.output_tokens],
      ["request id", c.request_id || "–"],
      ["client", (c.client || "–") + (c.group ? " (group " + c.group + ")" : "")],
    ];
    if (c.error) rows.push(["error", c.error]);
    for (const [k, v] of rows) {
      facts.appendChild(el("dt", null, k));
      facts.appendChild(el("dd", null, v));
    }
    const words = c.error ? kinds[c.error] : null;
    $("detail-error").hidden = !words;
    if (words) {
      $("detail-cause").textContent = words.cause;
      $("detail-fix").textContent = words.fix;
    }
    const body = $("attempts").tBodies[0];
    clear(body);
    c.attempts.forEach((a, i) => {
      const tr = el("tr");
      tr.appendChild(el("td", null, i + 1));
      tr.appendChild(el("td", null, a.target));
      tr.appendChild(el("td", a.outcome === "ok" ? "st-2xx" : "kind", a.outcome));
      tr.appendChild(el("td", null, a.wait_ms ? ms(a.wait_ms) : "–"));
      body.appendChild(tr);
    });
    if (!c.attempts.length) {
      const tr = el("tr");
      const td = el("td", "muted", "none: the gateway answered itself (" + (c.error || "before any upstream") + ")");
      td.colSpan = 4;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    $("detail").showModal();
  }

  // --- wiring ---------------------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = $("token").value.trim();
      $("token").value = "";
      if (!value) return;
      token = value;
      connect();
    });
    for (const id of ["f-status", "f-model", "f-client"]) $(id).addEventListener("change", renderCalls);
    $("calls").tBodies[0].addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (tr && tr.dataset.seq) openCall(Number(tr.dataset.seq));
    });
    $("calls").tBodies[0].addEventListener("keydown", (ev) => {
      const tr = ev.target.closest("tr");
      if (tr && tr.dataset.seq && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); openCall(Number(tr.dataset.seq)); }
    });
    $("detail-close").addEventListener("click", () => $("detail").close());
    connect();
  });
})();
