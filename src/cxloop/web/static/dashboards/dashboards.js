/* Dashboards: draws each widget with ECharts from the data the server embedded
   (the same rows its tables show), drills down on a click (region -> city ->
   store -> the responses), and edits the layout (add, move, resize, remove)
   and saves it through /api/v1/dashboards. Without this script the page still
   shows KPI tiles, tables with drill links and comment lists. */
(function () {
  "use strict";

  var stateNode = document.getElementById("dash-state");
  if (!stateNode) return;
  var S = JSON.parse(stateNode.textContent);
  var T = S.texts;
  var charts = {};
  var TIME = S.grains;
  var PALETTE = ["#0b5fcc", "#e8710a", "#2e7d46", "#b3261e", "#7b3fbf", "#00838f", "#c2185b", "#5d4037"];

  function csrfHeader() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }

  function widgetDef(id) {
    return S.definition.widgets.filter(function (w) { return w.id === id; })[0];
  }

  function metricsOf(w) { return (w.query && w.query.metrics) || []; }
  function groupsOf(w) { return (w.query && w.query.group_by) || []; }
  // The dashed line and the diamonds are named after what they compare with.
  function compareName(w) {
    var how = w.query && w.query.compare;
    return (how && T["compare_" + how]) || T.company;
  }
  function isUnit(g) { return g === "unit" || g.indexOf("unit_level:") === 0; }
  function timeGroup(w) { return groupsOf(w).filter(function (g) { return TIME.indexOf(g) >= 0; })[0]; }

  function labelOf(row, group) {
    if (!group) return "";
    if (isUnit(group)) return row.unit_name || row.unit_code || "–";
    var v = row[group];
    return v === null || v === undefined ? "–" : String(v);
  }

  function num(v) { return typeof v === "number" ? v : null; }

  function params(extra) {
    var out = new URLSearchParams();
    Object.keys(S.filters).forEach(function (k) { out.set(k, S.filters[k]); });
    if (S.role) out.set("role", S.role);
    Object.keys(extra || {}).forEach(function (k) {
      if (extra[k] === null) out.delete(k); else out.set(k, extra[k]);
    });
    return out.toString();
  }

  function drill(row) {
    if (!row || !row.unit_code) return;
    if (row.unit_leaf) {
      window.location.href = "/dashboards/responses?" + params({ unit_code: row.unit_code, role: null });
    } else {
      window.location.href = window.location.pathname + "?" + params({ unit_code: row.unit_code });
    }
  }

  function base() {
    return {
      color: PALETTE,
      animation: false,
      grid: { left: 48, right: 16, top: 28, bottom: 36, containLabel: true },
      tooltip: { trigger: "axis" },
    };
  }

  function optionFor(w, result) {
    var rows = result.rows || [];
    var metrics = metricsOf(w);
    var m = metrics[0];
    var o = base();
    if (w.type === "kpi") {
      var spark = (result.meta && result.meta.sparkline) || [];
      if (!spark.length) return null;
      var grain = w.sparkline || "month";
      return {
        color: PALETTE, animation: false, grid: { left: 2, right: 2, top: 4, bottom: 4 },
        xAxis: { type: "category", show: false, data: spark.map(function (r) { return r[grain]; }) },
        yAxis: { type: "value", show: false, scale: true },
        series: [{ type: "line", data: spark.map(function (r) { return num(r[m]); }), symbol: "none",
                   lineStyle: { width: 2 }, areaStyle: { opacity: 0.15 } }],
      };
    }
    if (!rows.length) return null;
    if (w.type === "trend") {
      var tg = timeGroup(w);
      var other = groupsOf(w).filter(function (g) { return g !== tg; })[0];
      var xs = [];
      rows.forEach(function (r) { if (xs.indexOf(r[tg]) < 0) xs.push(r[tg]); });
      xs.sort();
      var series = [];
      metrics.forEach(function (metric) {
        var keys = other ? [] : [""];
        if (other) rows.forEach(function (r) { var k = labelOf(r, other); if (keys.indexOf(k) < 0) keys.push(k); });
        keys.forEach(function (k) {
          series.push({
            name: other ? metric + " " + k : metric, type: "line", connectNulls: true,
            data: xs.map(function (x) {
              var r = rows.filter(function (r) { return r[tg] === x && (!other || labelOf(r, other) === k); })[0];
              return r ? num(r[metric]) : null;
            }),
          });
        });
      });
      if (rows.some(function (r) { return typeof r.compare_value === "number"; })) {
        series.push({
          name: compareName(w), type: "line", lineStyle: { type: "dashed" },
          data: xs.map(function (x) {
            var r = rows.filter(function (r) { return r[tg] === x; })[0];
            return r ? num(r.compare_value) : null;
          }),
        });
      }
      if (typeof w.target === "number" && series.length) {
        series[0].markLine = { symbol: "none", data: [{ yAxis: w.target, name: T.target }] };
      }
      o.legend = { top: 0 };
      o.xAxis = { type: "category", data: xs };
      o.yAxis = { type: "value", scale: true };
      o.series = series;
      return o;
    }
    if (w.type === "bar" || w.type === "ranking") {
      var g = groupsOf(w)[0];
      var sorted = rows.slice();
      if (w.type === "ranking") sorted.sort(function (a, b) { return (num(b[m]) || 0) - (num(a[m]) || 0); });
      var cats = sorted.map(function (r) { return labelOf(r, g); });
      var bars = { name: m, type: "bar", data: sorted.map(function (r) { return num(r[m]); }),
                   label: { show: w.type === "ranking", position: "right" } };
      var seriesB = [bars];
      if (sorted.some(function (r) { return typeof r.compare_value === "number"; })) {
        seriesB.push({ name: compareName(w), type: "scatter", symbol: "diamond", symbolSize: 10,
                       data: sorted.map(function (r) { return num(r.compare_value); }) });
      }
      o.series = seriesB;
      if (w.type === "ranking") {
        cats.reverse(); seriesB.forEach(function (s) { s.data.reverse(); }); sorted.reverse();
        o.yAxis = { type: "category", data: cats };
        o.xAxis = { type: "value" };
      } else {
        o.xAxis = { type: "category", data: cats, axisLabel: { interval: 0, rotate: cats.length > 6 ? 30 : 0 } };
        o.yAxis = { type: "value" };
      }
      o.__rows = sorted;
      return o;
    }
    if (w.type === "heatmap") {
      var tgh = timeGroup(w);
      var ug = groupsOf(w).filter(function (g) { return g !== tgh; })[0];
      var hx = [], hy = [], byLabel = {};
      rows.forEach(function (r) {
        if (hx.indexOf(r[tgh]) < 0) hx.push(r[tgh]);
        var l = labelOf(r, ug);
        if (hy.indexOf(l) < 0) { hy.push(l); byLabel[l] = r; }
      });
      hx.sort();
      var values = rows.map(function (r) { return [hx.indexOf(r[tgh]), hy.indexOf(labelOf(r, ug)), num(r[m])]; });
      var vals = values.map(function (v) { return v[2]; }).filter(function (v) { return v !== null; });
      o.tooltip = { position: "top" };
      o.grid = { left: 8, right: 8, top: 8, bottom: 56, containLabel: true };
      o.xAxis = { type: "category", data: hx, splitArea: { show: true } };
      o.yAxis = { type: "category", data: hy, splitArea: { show: true } };
      o.visualMap = { min: vals.length ? Math.min.apply(null, vals) : 0, max: vals.length ? Math.max.apply(null, vals) : 1,
                      calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 80,
                      inRange: { color: ["#b3261e", "#f5e0a3", "#2e7d46"] } };
      o.series = [{ type: "heatmap", data: values, label: { show: true } }];
      o.__heat = { labels: hy, byLabel: byLabel };
      return o;
    }
    if (w.type === "distribution") {
      var r0 = rows[0];
      var shares = null;
      Object.keys(r0).forEach(function (k) {
        if (!shares && r0[k] && typeof r0[k] === "object" && !Array.isArray(r0[k]) && k !== "compare") shares = r0[k];
      });
      if (!shares && typeof r0.promoters_pct === "number") {
        shares = {};
        shares[T.detractors] = r0.detractors_pct; shares[T.passives] = r0.passives_pct; shares[T.promoters] = r0.promoters_pct;
      }
      if (!shares) {
        var gd = groupsOf(w)[0];
        shares = {};
        rows.forEach(function (r) { shares[labelOf(r, gd)] = num(r[m]); });
      }
      var keysD = Object.keys(shares);
      o.xAxis = { type: "category", data: keysD };
      o.yAxis = { type: "value" };
      o.series = [{ type: "bar", data: keysD.map(function (k, i) {
        return { value: shares[k], itemStyle: { color: PALETTE[i % PALETTE.length] } };
      }), label: { show: true, position: "top" } }];
      return o;
    }
    if (w.type === "driver_quadrant") {
      var meta = result.meta || {};
      o.tooltip = { trigger: "item", formatter: function (p) { return p.data[2] + ": " + p.data[0] + " / " + p.data[1]; } };
      o.xAxis = { type: "value", name: T.performance, scale: true };
      o.yAxis = { type: "value", name: T.importance, scale: true };
      var pts = rows.map(function (r) { return [num(r.performance), num(r.importance), r.question_id]; });
      var lines = [];
      if (typeof meta.mean_performance === "number") lines.push({ xAxis: meta.mean_performance });
      if (typeof meta.mean_importance === "number") lines.push({ yAxis: meta.mean_importance });
      o.series = [{ type: "scatter", symbolSize: 16, data: pts,
                    label: { show: true, position: "right", formatter: function (p) { return p.data[2]; } },
                    markLine: { symbol: "none", lineStyle: { type: "dashed" }, data: lines } }];
      return o;
    }
    if (w.type === "topic_trend") {
      var tgt = timeGroup(w);
      var periods = [], names = [];
      rows.forEach(function (r) {
        if (periods.indexOf(r[tgt]) < 0) periods.push(r[tgt]);
        if (names.indexOf(r.topic) < 0) names.push(r.topic);
      });
      periods.sort();
      function cell(topic, x, field) {
        var r = rows.filter(function (r) { return r.topic === topic && r[tgt] === x; })[0];
        return r ? num(r[field]) : null;
      }
      var seriesT = [];
      names.forEach(function (topic, i) {
        var colour = PALETTE[i % PALETTE.length];
        seriesT.push({ name: topic, type: "bar", itemStyle: { color: colour },
                       data: periods.map(function (x) { return cell(topic, x, "mentions"); }) });
        seriesT.push({ name: topic + " · " + T.net_sentiment, type: "line", yAxisIndex: 1, connectNulls: true,
                       lineStyle: { type: "dashed", color: colour }, itemStyle: { color: colour },
                       data: periods.map(function (x) { return cell(topic, x, "net_sentiment"); }) });
      });
      o.legend = { top: 0, type: "scroll", data: names };
      o.grid.top = 40;
      o.xAxis = { type: "category", data: periods };
      o.yAxis = [{ type: "value", name: T.mentions }, { type: "value", name: T.net_sentiment, min: -100, max: 100 }];
      o.series = seriesT;
      return o;
    }
    if (w.type === "topic_impact" || w.type === "rising_phrases") {
      var impact = w.type === "topic_impact";
      var field = impact ? "impact" : "growth_points";
      var ordered = rows.slice();
      if (!impact) ordered.reverse();
      var catsI = ordered.map(function (r) { return impact ? r.topic : r.phrase; });
      o.yAxis = { type: "category", data: catsI, axisLabel: { width: 140, overflow: "truncate" } };
      o.xAxis = { type: "value", name: impact ? T.points : T.growth };
      o.tooltip = { trigger: "item" };
      o.series = [{ type: "bar", data: ordered.map(function (r) {
        var v = num(r[field]);
        return { value: v, itemStyle: { color: v !== null && v < 0 ? "#b3261e" : "#2e7d46" } };
      }), label: { show: true, position: "right" } }];
      if (impact) o.yAxis.inverse = true;
      return o;
    }
    if (w.type === "funnel") {
      var rf = rows[0];
      var stages = [];
      if (typeof rf.invitations === "number") stages.push({ name: T.invitations, value: rf.invitations });
      stages.push({ name: T.responses, value: num(rf.n) || num(rf.response_count) || 0 });
      o.tooltip = { trigger: "item" };
      o.series = [{ type: "funnel", left: "10%", width: "80%", sort: "descending", data: stages,
                    label: { show: true, formatter: "{b}: {c}" } }];
      return o;
    }
    return null;
  }

  var context = {};

  function prepared(w, result) {
    var option = optionFor(w, result);
    if (!option) return null;
    var ctx = { rows: option.__rows || result.rows, heat: option.__heat };
    delete option.__rows; delete option.__heat;
    // HTML tooltips carry inline styles, which the page's CSP refuses: draw them on the canvas.
    if (option.tooltip) option.tooltip.renderMode = "richText";
    return { option: option, ctx: ctx };
  }

  function draw(section) {
    var id = section.getAttribute("data-widget");
    var w = widgetDef(id);
    var result = S.data[id];
    var node = section.querySelector(".chart");
    if (!w || !result || !node || result.error || !window.echarts) return;
    var ready = prepared(w, result);
    if (!ready) return;
    if (!node.classList.contains("spark")) section.classList.add("charted");
    var chart = window.echarts.init(node, null, { locale: S.locale === "en" ? "EN" : "ZH", renderer: "canvas" });
    chart.setOption(ready.option);
    charts[id] = chart;
    context[id] = ready.ctx;
    if (w.drill || ["bar", "ranking", "heatmap"].indexOf(w.type) >= 0) {
      chart.on("click", function (p) {
        var ctx = context[id];
        if (ctx.heat) { drill(ctx.heat.byLabel[ctx.heat.labels[p.data[1]]]); return; }
        drill(ctx.rows[p.dataIndex]);
      });
    }
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".widget"), draw);
  }

  function formatNumber(v) {
    if (typeof v !== "number") return "–";
    return Math.round(v) === v ? String(v) : v.toFixed(1);
  }

  function update(id, result) {
    var w = widgetDef(id);
    var section = grid.querySelector('[data-widget="' + id + '"]');
    if (!w || !section || result.error) return;
    S.data[id] = result;
    if (w.type === "kpi") {
      var row = result.rows[0] || {};
      var value = section.querySelector(".kpi-value");
      if (value) value.textContent = formatNumber(row[metricsOf(w)[0]]);
      var delta = section.querySelector(".kpi-delta span.up, .kpi-delta span.down, .kpi-delta span.flat");
      if (delta && typeof row.delta === "number") {
        delta.textContent = (row.delta > 0 ? "+" : "") + row.delta.toFixed(1);
        delta.className = row.delta > 0 ? "up" : row.delta < 0 ? "down" : "flat";
      }
    }
    if (!charts[id]) { draw(section); return; }
    var ready = prepared(w, result);
    if (!ready) return;
    context[id] = ready.ctx;
    charts[id].setOption(ready.option, true);
  }

  // Fresh within seconds: the data is fetched again while the page is in sight.
  function refresh() {
    if (document.hidden || editing) return;
    fetch("/api/v1/dashboards/" + encodeURIComponent(S.id) + "/data?" + params({}), {
      credentials: "same-origin", headers: { Accept: "application/json" },
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) return;
        Object.keys(body.widgets).forEach(function (id) {
          if (widgetDef(id) && ["comments", "comment_explorer"].indexOf(widgetDef(id).type) < 0) update(id, body.widgets[id]);
        });
      })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }

  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });

  /* --- customising -------------------------------------------------------- */

  var grid = document.getElementById("dash-grid");
  var status = document.getElementById("dash-status");
  var editing = false;

  function place(section, w) {
    section.className = section.className.replace(/\b(cs|sp|rh)-\d+\b/g, "").trim();
    section.classList.add("cs-" + (w.position.x + 1), "sp-" + w.position.w, "rh-" + w.position.h);
  }

  function button(label, action, testid) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (testid) b.setAttribute("data-testid", testid);
    b.addEventListener("click", action);
    return b;
  }

  function adjust(id, change) {
    var w = widgetDef(id);
    var p = w.position;
    change(p);
    p.w = Math.max(1, Math.min(12, p.w));
    p.h = Math.max(1, Math.min(12, p.h));
    p.x = Math.max(0, Math.min(12 - p.w, p.x));
    p.y = Math.max(0, p.y);
    var section = grid.querySelector('[data-widget="' + id + '"]');
    place(section, w);
    reorder();
    if (charts[id]) charts[id].resize();
  }

  function reorder() {
    var sections = Array.prototype.slice.call(grid.children);
    sections.sort(function (a, b) {
      var pa = widgetDef(a.getAttribute("data-widget")).position;
      var pb = widgetDef(b.getAttribute("data-widget")).position;
      return pa.y - pb.y || pa.x - pb.x;
    });
    sections.forEach(function (s) { grid.appendChild(s); });
  }

  function tools(section) {
    var id = section.getAttribute("data-widget");
    var box = document.createElement("div");
    box.className = "widget-tools";
    box.appendChild(button("←", function () { adjust(id, function (p) { p.x -= 1; }); }, "left-" + id));
    box.appendChild(button("→", function () { adjust(id, function (p) { p.x += 1; }); }, "right-" + id));
    box.appendChild(button("↑", function () { adjust(id, function (p) { p.y -= 1; }); }, "up-" + id));
    box.appendChild(button("↓", function () { adjust(id, function (p) { p.y += 1; }); }, "down-" + id));
    box.appendChild(button("W+", function () { adjust(id, function (p) { p.w += 1; }); }, "wider-" + id));
    box.appendChild(button("W−", function () { adjust(id, function (p) { p.w -= 1; }); }, "narrower-" + id));
    box.appendChild(button("H+", function () { adjust(id, function (p) { p.h += 1; }); }, "taller-" + id));
    box.appendChild(button("H−", function () { adjust(id, function (p) { p.h -= 1; }); }, "shorter-" + id));
    box.appendChild(button(T.remove, function () {
      S.definition.widgets = S.definition.widgets.filter(function (w) { return w.id !== id; });
      section.remove();
    }, "remove-" + id));
    Array.prototype.forEach.call(box.querySelectorAll("button"), function (b, i) {
      b.title = [T.left, T.right, T.up, T.down, T.wider, T.narrower, T.taller, T.shorter, T.remove][i];
    });
    section.insertBefore(box, section.children[1] || null);
  }

  function field(labelText, input) {
    var label = document.createElement("label");
    label.className = "field";
    label.textContent = labelText + " ";
    label.appendChild(input);
    return label;
  }

  function editor() {
    var panel = document.createElement("div");
    panel.className = "dash-editor card";
    panel.id = "dash-editor";
    var name = document.createElement("input");
    name.value = S.name; name.maxLength = 200; name.setAttribute("data-testid", "dashboard-name");
    panel.appendChild(field(T.name, name));
    var share = document.createElement("input");
    share.type = "checkbox"; share.setAttribute("data-testid", "dashboard-share");
    panel.appendChild(field(T.share, share));
    var type = document.createElement("select");
    type.setAttribute("data-testid", "add-type");
    Object.keys(S.types).forEach(function (k) {
      var o = document.createElement("option"); o.value = k; o.textContent = S.types[k]; type.appendChild(o);
    });
    panel.appendChild(field(T.add, type));
    panel.appendChild(button(T.add, function () { addWidget(type.value); }, "add-widget"));
    panel.appendChild(button(S.owned ? T.save : T.save_copy, function () { save(name.value, share.checked); }, "save-dashboard"));
    return panel;
  }

  var TEMPLATES = {
    kpi: { query: { metrics: ["nps"] }, w: 3, h: 2, sparkline: "month" },
    trend: { query: { metrics: ["nps"], group_by: ["month"] }, w: 6, h: 4 },
    bar: { query: { metrics: ["nps"], group_by: ["channel"] }, w: 6, h: 4 },
    ranking: { query: { metrics: ["nps"], group_by: ["unit"] }, w: 6, h: 5, drill: true },
    heatmap: { query: { metrics: ["nps"], group_by: ["unit_level:1", "month"] }, w: 12, h: 4, drill: true },
    distribution: { query: { metrics: ["nps"] }, w: 4, h: 4 },
    driver_quadrant: { query: { metrics: ["nps"] }, w: 6, h: 4 },
    comments: { comments: { limit: 20 }, w: 6, h: 5 },
    funnel: { query: { metrics: ["response_rate"] }, w: 4, h: 4 },
    topic_trend: { query: { metrics: ["n"], group_by: ["month"] }, w: 6, h: 4 },
    topic_impact: { query: { metrics: ["nps"] }, w: 6, h: 4 },
    rising_phrases: { query: { metrics: ["n"] }, w: 6, h: 4 },
    comment_explorer: { comments: { limit: 20 }, w: 12, h: 6 },
  };

  function addWidget(kind) {
    var t = TEMPLATES[kind];
    var bottom = 0;
    S.definition.widgets.forEach(function (w) { bottom = Math.max(bottom, w.position.y + w.position.h); });
    var n = 1;
    while (widgetDef(kind + "-" + n)) n += 1;
    var w = { id: kind + "-" + n, type: kind, title: {}, position: { x: 0, y: bottom, w: t.w, h: t.h } };
    w.title[S.locale] = S.types[kind];
    ["query", "comments", "sparkline", "drill"].forEach(function (k) {
      if (t[k] !== undefined) w[k] = JSON.parse(JSON.stringify(t[k]));
    });
    S.definition.widgets.push(w);
    var section = document.createElement("section");
    section.className = "widget widget-" + kind;
    section.setAttribute("data-widget", w.id);
    section.setAttribute("data-testid", "widget-" + w.id);
    var head = document.createElement("header");
    head.className = "widget-head";
    var h2 = document.createElement("h2");
    h2.textContent = w.title[S.locale];
    head.appendChild(h2);
    section.appendChild(head);
    var note = document.createElement("p");
    note.className = "note";
    note.textContent = T.reload;
    section.appendChild(note);
    place(section, w);
    grid.appendChild(section);
    tools(section);
  }

  function save(name, shared) {
    var body = { name: name || S.name, definition: S.definition };
    if (shared) body.shared = true;
    var method = "POST", url = "/api/v1/dashboards";
    if (S.owned) { method = "PATCH"; url += "/" + S.id; body.revision = S.revision; }
    var headers = csrfHeader();
    headers["Content-Type"] = "application/json";
    headers.Accept = "application/json";
    status.textContent = "";
    fetch(url, { method: method, headers: headers, credentials: "same-origin", body: JSON.stringify(body) })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var reason = data.detail || response.status;
            if (data.errors && data.errors.length) reason += " (" + data.errors.map(function (e) { return e.path; }).join(", ") + ")";
            status.textContent = T.save_failed.replace("%(reason)s", reason);
            return;
          }
          status.textContent = T.saved;
          window.location.href = "/dashboards/" + data.id;
        });
      })
      .catch(function (e) { status.textContent = T.save_failed.replace("%(reason)s", String(e)); });
  }

  function toggle(trigger) {
    editing = !editing;
    document.body.classList.toggle("editing", editing);
    trigger.textContent = editing ? T.done : T.customise;
    if (editing) {
      Array.prototype.forEach.call(grid.querySelectorAll(".widget"), tools);
      grid.parentNode.insertBefore(editor(), grid);
    } else {
      Array.prototype.forEach.call(document.querySelectorAll(".widget-tools"), function (n) { n.remove(); });
      var panel = document.getElementById("dash-editor");
      if (panel) panel.remove();
    }
  }

  var slot = document.getElementById("dash-tools");
  if (slot) {
    var trigger = button(T.customise, function () { toggle(trigger); }, "customise");
    slot.appendChild(trigger);
  }

  drawAll();
  if (S.refresh) window.setInterval(refresh, S.refresh * 1000);
})();
