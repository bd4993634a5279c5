// llmmeter web app: CSRF header for htmx, copy buttons, and the uPlot charts.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
    }
  });

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  var PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#94a3b8"];
  var charts = [];

  function usd(v) {
    if (v == null) return "—";
    if (v === 0) return "$0";
    var digits = Math.abs(v) >= 1 ? 2 : Math.abs(v) >= 0.01 ? 4 : 6;
    return "$" + v.toFixed(digits);
  }

  function width(el) { return Math.max(280, el.clientWidth); }

  // Alert state changes as dashed vertical lines (red critical, amber warning, green resolved).
  var MARK_COLORS = { critical: "#dc2626", warning: "#d97706", ok: "#059669" };
  function markersPlugin(markers) {
    return {
      hooks: {
        draw: [function (u) {
          if (!markers || !markers.length) return;
          var ctx = u.ctx;
          ctx.save();
          ctx.setLineDash([4, 4]);
          ctx.lineWidth = 1.5 * devicePixelRatio;
          markers.forEach(function (m) {
            var x = Math.round(u.valToPos(m.t, "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = MARK_COLORS[m.state] || "#64748b";
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          });
          ctx.restore();
        }],
      },
    };
  }

  function axes(format) {
    return [
      { stroke: "#64748b", grid: { stroke: "#eef2f7" } },
      { stroke: "#64748b", grid: { stroke: "#eef2f7" }, size: 84,
        values: function (u, ticks) { return ticks.map(format); } },
    ];
  }

  function spendChart(el, data) {
    var names = Object.keys(data.stacks);
    // Stacked areas: each series is the running total up to its group, drawn largest first.
    var running = data.times.map(function () { return 0; });
    var cumulative = names.map(function (name) {
      running = running.map(function (v, i) { return v + data.stacks[name][i]; });
      return running.slice();
    });
    var order = names.map(function (_, i) { return i; }).reverse();
    var series = [{}].concat(order.map(function (i) {
      var color = PALETTE[i % PALETTE.length];
      return {
        label: names[i], stroke: color, fill: color + "cc", width: 1, points: { show: false },
        value: function (u, v, s, idx) { return idx == null ? "—" : usd(data.stacks[names[i]][idx]); },
      };
    }));
    var values = [data.times].concat(order.map(function (i) { return cumulative[i]; }));
    return new uPlot({
      width: width(el), height: 240, series: series, axes: axes(usd), plugins: [markersPlugin(data.markers)],
      cursor: { points: { show: false } }, legend: { live: true },
    }, values, el);
  }

  function requestsChart(el, data) {
    return new uPlot({
      width: width(el), height: 200, axes: axes(function (v) { return v.toLocaleString(); }),
      plugins: [markersPlugin(data.markers)],
      series: [{},
        { label: "requests", stroke: "#4f46e5", fill: "#4f46e522", width: 2 },
        { label: "errors", stroke: "#ef4444", fill: "#ef444422", width: 2 }],
    }, [data.times, data.requests, data.errors], el);
  }

  function latencyChart(el, data) {
    var ms = function (v) { return v == null ? "—" : Math.round(v).toLocaleString() + " ms"; };
    return new uPlot({
      width: width(el), height: 200, axes: axes(ms), spanGaps: false,
      plugins: [markersPlugin(data.markers)],
      series: [{},
        { label: "p50", stroke: "#10b981", width: 2, value: function (u, v) { return ms(v); } },
        { label: "p95", stroke: "#f59e0b", width: 2, value: function (u, v) { return ms(v); } },
        { label: "p99", stroke: "#ef4444", width: 2, value: function (u, v) { return ms(v); } }],
    }, [data.times, data.p50, data.p95, data.p99], el);
  }

  function drawCharts(card, stack) {
    var url = card.getAttribute("data-series") + "&stack=" + encodeURIComponent(stack);
    card.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        charts.forEach(function (c) { c.destroy(); });
        charts = [
          spendChart(document.getElementById("chart-spend"), data),
          requestsChart(document.getElementById("chart-requests"), data),
          latencyChart(document.getElementById("chart-latency"), data),
        ];
        var points = data.requests.filter(function (v) { return v > 0; }).length;
        card.setAttribute("data-points", String(points));
        card.setAttribute("data-markers", String((data.markers || []).length));
        card.setAttribute("data-ready", "true");
        card.removeAttribute("aria-busy");
      })
      .catch(function (err) {
        card.setAttribute("data-error", String(err));
        card.removeAttribute("aria-busy");
      });
  }

  function initCharts() {
    var card = document.querySelector("[data-series]");
    if (!card || typeof uPlot === "undefined") return;
    var stack = "endpoint_tag";
    card.querySelectorAll("[data-stack]").forEach(function (button) {
      button.addEventListener("click", function () {
        stack = button.getAttribute("data-stack");
        card.querySelectorAll("[data-stack]").forEach(function (b) { b.classList.toggle("active", b === button); });
        drawCharts(card, stack);
      });
    });
    drawCharts(card, stack);
    var resizeTimer;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        charts.forEach(function (c) { c.setSize({ width: width(c.root.parentNode), height: c.height }); });
      }, 150);
    });
  }

  document.addEventListener("DOMContentLoaded", initCharts);
})();
