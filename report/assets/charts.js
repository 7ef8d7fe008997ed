// spikechip charts: a small dependency-free SVG chart library for the offline report pages.
// Every chart takes (container element, options) and appends one SVG element of class sc-chart.
"use strict";
var Charts = (function () {
  var NS = "http://www.w3.org/2000/svg";
  var uid = 0;  // ids for markers/gradients: unique per page, and the same on every load
  var PALETTE = ["#2f6fb3", "#e07b39", "#3a9a5b", "#c8453b", "#8061b3", "#8c6d4f", "#d46aa6", "#6f7a87",
                 "#b5a22c", "#2aa6b8", "#1f4e80", "#a3541f", "#27683d", "#8a2c25", "#574281", "#5e4935"];

  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  // Shared tooltip: any element given a tip shows it on hover.
  function tip(node, text) {
    node.classList.add("hit");
    var box = document.getElementById("tooltip");
    if (!box) return;
    node.addEventListener("mousemove", function (ev) {
      box.textContent = typeof text === "function" ? text() : text;
      box.hidden = false;
      var x = ev.clientX + 14, y = ev.clientY + 12;
      if (x + box.offsetWidth > window.innerWidth - 4) x = ev.clientX - box.offsetWidth - 10;
      if (y + box.offsetHeight > window.innerHeight - 4) y = ev.clientY - box.offsetHeight - 10;
      box.style.left = x + "px"; box.style.top = y + "px";
    });
    node.addEventListener("mouseleave", function () { box.hidden = true; });
  }

  // Number text: thousands separators for integers, 3 significant digits otherwise, SI suffixes
  // from 1e6 so axis labels stay short.
  function num(v) {
    if (v === null || v === undefined || typeof v !== "number" || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a >= 1e15) return Number((v / 1e15).toPrecision(3)) + "P";
    if (a >= 1e12) return Number((v / 1e12).toPrecision(3)) + "T";
    if (a >= 1e9) return Number((v / 1e9).toPrecision(3)) + "G";
    if (a >= 1e6) return Number((v / 1e6).toPrecision(3)) + "M";
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    if (a >= 1000) return Math.round(v).toLocaleString("en-US");
    if (a === 0) return "0";
    if (a < 1e-3) return v.toExponential(2);
    return String(Number(v.toPrecision(3)));
  }
  function scaled(v, units) {  // units: [[factor, name], ...] ascending
    if (typeof v !== "number" || !isFinite(v)) return "–";
    var u = units[units.base || 0];
    if (v === 0) return "0 " + u[1];
    for (var i = 0; i < units.length; i++) if (Math.abs(v) >= units[i][0]) u = units[i];
    return String(Number((v / u[0]).toPrecision(4))) + " " + u[1];
  }
  var EUNITS = [[1e-3, "fJ"], [1, "pJ"], [1e3, "nJ"], [1e6, "µJ"], [1e9, "mJ"], [1e12, "J"]]; EUNITS.base = 1;
  var SUNITS = [[1e-9, "ns"], [1e-6, "µs"], [1e-3, "ms"], [1, "s"]]; SUNITS.base = 3;
  var PUNITS = [[1e-9, "nW"], [1e-6, "µW"], [1e-3, "mW"], [1, "W"], [1e3, "kW"]]; PUNITS.base = 3;
  var AUNITS = [[1e-6, "µm²"], [1, "mm²"], [100, "cm²"]]; AUNITS.base = 1;
  function power(W) { return scaled(W, PUNITS); }
  function area(mm2) { return scaled(mm2, AUNITS); }
  function energy(pJ) { return scaled(pJ, EUNITS); }
  function seconds(s) { return scaled(s, SUNITS); }
  // Axis ticks: short forms ("250k") so labels never collide with the axis title.
  function tickNum(v) {
    var a = Math.abs(v);
    if (a >= 1e4 && a < 1e6) return Number((v / 1e3).toPrecision(4)) + "k";
    return num(v);
  }

  function niceStep(span, n) {
    var raw = span / Math.max(1, n), p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
  }
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    var step = niceStep(hi - lo, n || 5), out = [];
    for (var v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function niceMax(hi, n) { if (!(hi > 0)) return 1; var s = niceStep(hi, n || 5); return Math.ceil(hi / s - 1e-9) * s; }
  function extent(vals, padFrac) {
    var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi === lo) { var d = Math.abs(hi) * 0.1 || 1; lo -= d; hi += d; }
    var pad = (hi - lo) * (padFrac || 0);
    return [lo - pad, hi + pad];
  }
  function lin(d0, d1, r0, r1) { return function (v) { return r0 + (v - d0) / (d1 - d0 || 1) * (r1 - r0); }; }

  // Perceptually ordered sequential scale (viridis stops), t in [0,1].
  var VIR = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function seq(t) {
    t = Math.max(0, Math.min(1, isFinite(t) ? t : 0));
    var x = t * (VIR.length - 1), i = Math.min(VIR.length - 2, Math.floor(x)), f = x - i;
    var c = VIR[i].map(function (a, j) { return Math.round(a + (VIR[i + 1][j] - a) * f); });
    return "rgb(" + c.join(",") + ")";
  }
  function color(i) { return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]; }
  function hashColor(s) { var h = 0; for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return color(Math.abs(h)); }

  function frame(container, opts, width, height) {
    var wrap = document.createElement("div");
    wrap.className = "chart";
    if (opts.title) { var t = document.createElement("div"); t.className = "title"; t.textContent = opts.title; wrap.appendChild(t); }
    container.appendChild(wrap);
    var w = width || opts.width || Math.max(260, (wrap.clientWidth || container.clientWidth || 600));
    var svg = el("svg", { "class": "sc-chart", width: w, height: height, viewBox: "0 0 " + w + " " + height, role: "img",
                          "aria-label": opts.title || "" }, wrap);
    return { svg: svg, w: w };
  }

  function legendRows(items, maxW) {
    var rows = 1, cx = 0;
    items.forEach(function (it) { var w = 7 * it.name.length + 26; if (cx + w > maxW && cx > 0) { rows++; cx = 0; } cx += w; });
    return rows;
  }
  function legend(svg, items, x, y, maxW) {
    var g = el("g", { "class": "legend" }, svg), cx = x, cy = y;
    items.forEach(function (it) {
      var wText = 7 * it.name.length + 26;
      if (cx + wText > x + maxW && cx > x) { cx = x; cy += 16; }
      el("rect", { x: cx, y: cy - 9, width: 11, height: 11, rx: 2, fill: it.color }, g);
      el("text", { x: cx + 15, y: cy }, g, it.name);
      cx += wText;
    });
    return cy - y + 16;
  }

  function axisX(svg, sx, lo, hi, y, x0, x1, title, fmt, gridTop, explicit) {
    var g = el("g", { "class": "axis" }, svg), gg = el("g", { "class": "grid" }, svg);
    svg.insertBefore(gg, svg.firstChild);
    el("line", { x1: x0, x2: x1, y1: y, y2: y }, g);
    (explicit || ticks(lo, hi, Math.max(3, Math.floor((x1 - x0) / 80)))).forEach(function (v) {
      var x = sx(v);
      el("line", { x1: x, x2: x, y1: y, y2: y + 4 }, g);
      if (gridTop !== undefined) el("line", { x1: x, x2: x, y1: gridTop, y2: y }, gg);
      el("text", { x: x, y: y + 15, "text-anchor": "middle" }, g, (fmt || tickNum)(v));
    });
    if (title) el("text", { "class": "axis-title", x: (x0 + x1) / 2, y: y + 31, "text-anchor": "middle" }, g, title);
  }
  function axisY(svg, sy, lo, hi, x, y0, y1, title, fmt, gridRight, explicit) {
    var g = el("g", { "class": "axis" }, svg), gg = el("g", { "class": "grid" }, svg);
    svg.insertBefore(gg, svg.firstChild);
    el("line", { x1: x, x2: x, y1: y0, y2: y1 }, g);
    (explicit || ticks(lo, hi, Math.max(4, Math.floor(Math.abs(y0 - y1) / 40)))).forEach(function (v) {
      var y = sy(v);
      el("line", { x1: x - 4, x2: x, y1: y, y2: y }, g);
      if (gridRight !== undefined) el("line", { x1: x, x2: gridRight, y1: y, y2: y }, gg);
      el("text", { x: x - 7, y: y + 4, "text-anchor": "end" }, g, (fmt || tickNum)(v));
    });
    if (title) el("text", { "class": "axis-title", transform: "translate(" + (x - 50) + "," + ((y0 + y1) / 2) + ") rotate(-90)",
                            "text-anchor": "middle" }, g, title);
  }

  // Bar chart. opts: labels[], series[{name, values[], color}], horizontal, stacked, valueTitle,
  // fmt (value text), tips (function(labelIndex, seriesIndex) -> text), showValues, labelWidth.
  function bar(container, opts) {
    var labels = opts.labels, series = opts.series, n = labels.length, fmt = opts.fmt || num;
    var stacked = !!opts.stacked && series.length > 1, grouped = !stacked && series.length > 1;
    var totals = labels.map(function (_, i) {
      return stacked ? series.reduce(function (a, s) { return a + (s.values[i] || 0); }, 0)
                     : Math.max.apply(null, series.map(function (s) { return s.values[i] || 0; }));
    });
    var vmax = niceMax(Math.max.apply(null, totals.concat([0])));
    var legendItems = series.map(function (s, j) { return { name: s.name, color: s.color || color(j) }; });
    // The frame's width is only known once it is in the page; the height follows from it.
    var f = frame(container, opts, null, 10), svg = f.svg;
    var legendH = series.length > 1 ? 16 * legendRows(legendItems, f.w - 80) + 4 : 0;
    function setH(hh) { svg.setAttribute("height", hh); svg.setAttribute("viewBox", "0 0 " + f.w + " " + hh); }
    if (opts.horizontal) {
      var band = opts.band || (grouped ? 8 + 7 * series.length : 17);
      var lw = opts.labelWidth || Math.min(190, 12 + 6.2 * Math.max.apply(null, labels.map(function (l) { return String(l).length; })));
      var top = 6 + legendH, h = top + band * n + 44, right = f.w - (opts.showValues ? 62 : 16);
      setH(h);
      var sx = lin(0, vmax, lw, right), bottom = top + band * n;
      if (legendH) legend(svg, series.map(function (s, j) { return { name: s.name, color: s.color || color(j) }; }), lw, 12, right - lw);
      axisX(svg, sx, 0, vmax, bottom, lw, right, opts.valueTitle, opts.fmt || tickNum, top);
      labels.forEach(function (lab, i) {
        var y0 = top + i * band, acc = 0;
        var lt = el("text", { x: lw - 6, y: y0 + band / 2 + 4, "text-anchor": "end" }, svg, fit(String(lab), lw - 10));
        if (lt.textContent !== String(lab)) tip(lt, String(lab));  // a long name: shortened, whole on hover
        series.forEach(function (s, j) {
          var v = s.values[i] || 0, c = s.color || color(j), r;
          if (stacked) { r = el("rect", { x: sx(acc), y: y0 + 2, width: Math.max(0, sx(acc + v) - sx(acc)), height: band - 4, fill: c }, svg); acc += v; }
          else if (grouped) { var bh = (band - 4) / series.length; r = el("rect", { x: lw, y: y0 + 2 + j * bh, width: Math.max(0, sx(v) - lw), height: bh - 1, fill: c }, svg); }
          else r = el("rect", { x: lw, y: y0 + 2, width: Math.max(0, sx(v) - lw), height: band - 4, fill: c }, svg);
          tip(r, opts.tips ? opts.tips(i, j) : lab + "\n" + s.name + ": " + fmt(v));
        });
        if (opts.showValues) el("text", { "class": "value", x: sx(totals[i]) + 4, y: y0 + band / 2 + 4 }, svg, fmt(totals[i]));
      });
      return svg;
    }
    var rot = n > 8, lh = rot ? Math.min(120, 10 + 5.6 * Math.max.apply(null, labels.map(function (l) { return String(l).length; }))) : 20;
    var H = opts.height || 260, topv = 8 + legendH, left = 62, bot = H - lh - 34;
    setH(H);
    var sv = svg, rightv = f.w - 10;
    var sy = lin(0, vmax, bot, topv), bw = (rightv - left) / Math.max(1, n);
    if (legendH) legend(sv, series.map(function (s, j) { return { name: s.name, color: s.color || color(j) }; }), left, 12, rightv - left);
    axisY(sv, sy, 0, vmax, left, bot, topv, opts.valueTitle, opts.fmt || tickNum, rightv);
    el("line", { x1: left, x2: rightv, y1: bot, y2: bot, stroke: "#8a93a3" }, sv);
    labels.forEach(function (lab, i) {
      var x0 = left + i * bw, acc = 0, cx = x0 + bw / 2;
      if (rot) el("text", { x: cx + 3, y: bot + 8, transform: "rotate(-55 " + (cx + 3) + " " + (bot + 8) + ")", "text-anchor": "end" }, sv, String(lab));
      else el("text", { x: cx, y: bot + 15, "text-anchor": "middle" }, sv, String(lab));
      series.forEach(function (s, j) {
        var v = s.values[i] || 0, c = s.color || color(j), r, pad = Math.min(6, bw * 0.15);
        if (stacked) { r = el("rect", { x: x0 + pad, y: sy(acc + v), width: bw - 2 * pad, height: Math.max(0, sy(acc) - sy(acc + v)), fill: c }, sv); acc += v; }
        else { var gw = (bw - 2 * pad) / series.length; r = el("rect", { x: x0 + pad + j * gw, y: sy(v), width: Math.max(1, gw - 1), height: Math.max(0, bot - sy(v)), fill: c }, sv); }
        tip(r, opts.tips ? opts.tips(i, j) : lab + "\n" + s.name + ": " + fmt(v));
      });
    });
    if (opts.labelTitle) el("text", { "class": "axis-title", x: (left + rightv) / 2, y: H - 6, "text-anchor": "middle" }, sv, opts.labelTitle);
    return sv;
  }

  // Pareto-optimal points when every axis is minimised: no other point is <= in both and < in one.
  function paretoFront(points) {
    return points.filter(function (p) {
      return !points.some(function (q) { return q !== p && q.x <= p.x && q.y <= p.y && (q.x < p.x || q.y < p.y); });
    }).sort(function (a, b) { return a.x - b.x; });
  }

  // Scatter. opts: points[{x, y, tip, label}], xTitle, yTitle, xFmt, yFmt, pareto (highlight front).
  function scatter(container, opts) {
    var H = opts.height || 300, f = frame(container, opts, null, H), svg = f.svg;
    var left = 66, right = f.w - 12, top = 22, bot = H - 44, pts = opts.points;
    var ex = extent(pts.map(function (p) { return p.x; }), 0.06), ey = extent(pts.map(function (p) { return p.y; }), 0.08);
    var sx = lin(ex[0], ex[1], left, right), sy = lin(ey[0], ey[1], bot, top);
    axisX(svg, sx, ex[0], ex[1], bot, left, right, opts.xTitle, opts.xFmt, top);
    axisY(svg, sy, ey[0], ey[1], left, bot, top, opts.yTitle, opts.yFmt, right);
    var front = opts.pareto ? paretoFront(pts) : [];
    if (front.length) {
      var d = "M" + sx(front[0].x) + "," + sy(front[0].y);
      for (var i = 1; i < front.length; i++) d += " H" + sx(front[i].x) + " V" + sy(front[i].y);
      el("path", { d: d, fill: "none", stroke: "#c8453b", "stroke-width": 1.6, "stroke-dasharray": "5 3" }, svg);
    }
    pts.forEach(function (p) {
      var onFront = front.indexOf(p) >= 0;
      var c = el("circle", { cx: sx(p.x), cy: sy(p.y), r: onFront ? 5.5 : 4, fill: onFront ? "#c8453b" : "#2f6fb3",
                             "fill-opacity": onFront ? 0.95 : 0.6, stroke: "#fff", "stroke-width": 0.8 }, svg);
      tip(c, (p.tip || p.label || "") + (onFront ? "\n(Pareto-optimal)" : ""));
      if (onFront && p.label) el("text", { x: sx(p.x) + 7, y: sy(p.y) - 6, "class": "value" }, svg, p.label);
    });
    if (opts.pareto) legend(svg, [{ name: "Pareto front (lower is better on both axes)", color: "#c8453b" },
                                  { name: "dominated point", color: "#2f6fb3" }], left + 6, 12, right - left);
    return { svg: svg, front: front };
  }

  // Line chart. opts: series[{name, points[[x, y, tip]]}], xTitle, yTitle, xCategories (labels for
  // integer x positions), markers.
  // Log axes (opts.xLog / opts.yLog, for values spanning decades): the data are drawn in log10
  // space with ticks at the powers of ten (and 2x, 5x when the span is short).
  function logTicks(lo, hi) {
    var t = [], e0 = Math.floor(lo), e1 = Math.ceil(hi), few = e1 - e0 <= 2;
    for (var e = e0; e <= e1; e++) [1, 2, 5].forEach(function (m) {
      var v = e + Math.log10(m);
      if ((m === 1 || few) && v >= lo - 1e-9 && v <= hi + 1e-9) t.push(v);
    });
    return t.length >= 2 ? t : undefined;
  }
  function logFmt(v) { return tickNum(Number(Math.pow(10, v).toPrecision(3))); }
  function line(container, opts) {
    if (opts.xLog || opts.yLog) {
      var lx = function (v) { return opts.xLog ? Math.log10(v) : v; }, ly = function (v) { return opts.yLog ? Math.log10(v) : v; };
      opts = Object.assign({}, opts, { series: opts.series.map(function (s) {
        return Object.assign({}, s, { points: s.points.filter(function (p) { return (!opts.xLog || p[0] > 0) && (!opts.yLog || p[1] > 0); })
          .map(function (p) { return [lx(p[0]), ly(p[1]), p[2] || (s.name + ": " + num(p[1]))]; }) });
      }), xLog: false, yLog: false, xLogged: opts.xLog, yLogged: opts.yLog, xTicks: undefined });
      if (opts.xLogged) opts.xFmt = logFmt;
      if (opts.yLogged) opts.yFmt = logFmt;
    }
    var H = opts.height || 240, f = frame(container, opts, null, H), svg = f.svg;
    var items = opts.series.map(function (s, j) { return { name: s.name, color: s.color || color(j) }; });
    var legendH = opts.series.length > 1 ? 16 * legendRows(items, f.w - 80) + 2 : 0, left = 66, right = f.w - 12, top = 12 + legendH, bot = H - 44;
    var all = [];
    opts.series.forEach(function (s) { s.points.forEach(function (p) { all.push(p); }); });
    var ex = opts.xCategories ? [-0.5, opts.xCategories.length - 0.5] : extent(all.map(function (p) { return p[0]; }), 0.04);
    var ey = extent(all.map(function (p) { return p[1]; }).concat(opts.zeroBased ? [0] : []), 0.08);
    var sx = lin(ex[0], ex[1], left, right), sy = lin(ey[0], ey[1], bot, top);
    if (opts.xCategories) {
      var g = el("g", { "class": "axis" }, svg);
      el("line", { x1: left, x2: right, y1: bot, y2: bot }, g);
      opts.xCategories.forEach(function (c, i) { el("text", { x: sx(i), y: bot + 15, "text-anchor": "middle" }, g, String(c)); });
      if (opts.xTitle) el("text", { "class": "axis-title", x: (left + right) / 2, y: bot + 31, "text-anchor": "middle" }, g, opts.xTitle);
    } else axisX(svg, sx, ex[0], ex[1], bot, left, right, opts.xTitle, opts.xFmt, top, opts.xLogged ? logTicks(ex[0], ex[1]) : opts.xTicks);
    axisY(svg, sy, ey[0], ey[1], left, bot, top, opts.yTitle, opts.yFmt, right, opts.yLogged ? logTicks(ey[0], ey[1]) : undefined);
    if (opts.xLogged || opts.yLogged) svg.setAttribute("data-log", (opts.xLogged ? "x" : "") + (opts.yLogged ? "y" : ""));
    if (legendH) legend(svg, items, left, 12, right - left);
    opts.series.forEach(function (s, j) {
      var c = s.color || color(j), pts = s.points.slice().sort(function (a, b) { return a[0] - b[0]; });
      if (pts.length > 1 && s.line !== false)
        el("path", { d: pts.map(function (p, i) { return (i ? "L" : "M") + sx(p[0]) + "," + sy(p[1]); }).join(" "),
                     fill: "none", stroke: c, "stroke-width": 1.8 }, svg);
      if (opts.markers !== false) pts.forEach(function (p) {
        var m = el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3.5, fill: c }, svg);
        tip(m, p[2] || (s.name + ": " + num(p[1])));
      });
    });
    return svg;
  }

  // Mesh heatmap with links. opts: cols, rows, cells[{x, y, value (0..1), text, sub, tip}],
  // links[{from:[x,y], to:[x,y], value (0..1), tip, chip}], chipW, chipH (tiles per chip),
  // valueTitle, linkTitle. Tile (0,0) is drawn top-left, y grows downwards.
  function heatmap(container, opts) {
    var cols = opts.cols, rows = opts.rows, f = frame(container, opts, null, 10), svg = f.svg;
    // Tiles fill the available width (gap = 0.32 tile), within readable bounds.
    var tile = Math.max(40, Math.min(110, Math.floor((Math.min(f.w, 1100) - 50) / (cols + 0.32 * (cols - 1)))));
    var gap = Math.round(tile * 0.32), left = 34, top = 28, gw = cols * tile + (cols - 1) * gap, gh = rows * tile + (rows - 1) * gap;
    var H = top + gh + 86, Wd = Math.max(f.w, left + gw + 16);
    svg.setAttribute("width", Wd); svg.setAttribute("height", H); svg.setAttribute("viewBox", "0 0 " + Wd + " " + H);
    var px = function (x) { return left + x * (tile + gap); }, py = function (y) { return top + y * (tile + gap); };
    var defs = el("defs", {}, svg);
    for (var i = 0; i < cols; i++) el("text", { x: px(i) + tile / 2, y: top - 8, "text-anchor": "middle", "class": "axis-title" }, svg, "x=" + i);
    for (var j = 0; j < rows; j++) el("text", { x: left - 6, y: py(j) + tile / 2 + 4, "text-anchor": "end", "class": "axis-title" }, svg, "y=" + j);
    opts.cells.forEach(function (c) {
      var r = el("rect", { x: px(c.x), y: py(c.y), width: tile, height: tile, rx: 4, fill: c.value === null ? "#eceff4" : seq(c.value),
                           stroke: "#fff" }, svg);
      tip(r, c.tip || "");
      var dark = c.value !== null && c.value < 0.55;
      el("text", { x: px(c.x) + tile / 2, y: py(c.y) + tile / 2 - 2, "text-anchor": "middle", fill: dark ? "#fff" : "#111",
                   style: "font-weight:600;pointer-events:none" }, svg, c.text || "");
      if (c.sub) el("text", { x: px(c.x) + tile / 2, y: py(c.y) + tile / 2 + 12, "text-anchor": "middle", fill: dark ? "#e8e8e8" : "#333",
                             style: "font-size:9.5px;pointer-events:none" }, svg, c.sub);
    });
    var maxFlits = Math.max.apply(null, (opts.links || []).map(function (l) { return l.value; }).concat([1e-9]));
    (opts.links || []).forEach(function (l, k) {
      var dx = l.to[0] - l.from[0], dy = l.to[1] - l.from[1];
      if (Math.abs(dx) + Math.abs(dy) !== 1) return;  // only neighbour links are drawn
      var ax, ay, bx, by, off = tile * 0.16;  // the two directions of a link sit side by side
      if (dx !== 0) {
        var yM = py(l.from[1]) + tile / 2 + (dx > 0 ? -off : off);
        ax = dx > 0 ? px(l.from[0]) + tile + 2 : px(l.from[0]) - 2; bx = dx > 0 ? px(l.to[0]) - 3 : px(l.to[0]) + tile + 3; ay = by = yM;
      } else {
        var xM = px(l.from[0]) + tile / 2 + (dy > 0 ? off : -off);
        ay = dy > 0 ? py(l.from[1]) + tile + 2 : py(l.from[1]) - 2; by = dy > 0 ? py(l.to[1]) - 3 : py(l.to[1]) + tile + 3; ax = bx = xM;
      }
      var t = l.value / maxFlits, c = l.value > 0 ? seq(0.15 + 0.85 * t) : "#c9ced8";
      var mid = "arr" + (++uid) + "_" + k;
      var mk = el("marker", { id: mid, viewBox: "0 0 10 10", refX: 7, refY: 5, markerWidth: 4, markerHeight: 4, orient: "auto" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", fill: c }, mk);
      var ln = el("line", { x1: ax, y1: ay, x2: bx, y2: by, stroke: c, "stroke-width": 1.5 + 4.5 * t, "marker-end": "url(#" + mid + ")",
                            "stroke-dasharray": l.chip ? "4 2" : null }, svg);
      tip(ln, l.tip || "");
    });
    // Chip boundaries: a thick red dashed line between tiles of different chips.
    var cw = opts.chipW || cols, ch = opts.chipH || rows;
    for (var bxI = cw; bxI < cols; bxI += cw)
      el("line", { x1: px(bxI) - gap / 2, x2: px(bxI) - gap / 2, y1: top - 4, y2: top + gh + 4, stroke: "#c8453b", "stroke-width": 2.5, "stroke-dasharray": "8 4" }, svg);
    for (var byI = ch; byI < rows; byI += ch)
      el("line", { y1: py(byI) - gap / 2, y2: py(byI) - gap / 2, x1: left - 4, x2: left + gw + 4, stroke: "#c8453b", "stroke-width": 2.5, "stroke-dasharray": "8 4" }, svg);
    // Colour key.
    var ky = top + gh + 26, kw = Math.min(260, gw), gid = "grad" + (++uid);
    var grad = el("linearGradient", { id: gid }, defs);
    for (var s = 0; s <= 8; s++) el("stop", { offset: (s / 8 * 100) + "%", "stop-color": seq(s / 8) }, grad);
    el("rect", { x: left, y: ky, width: kw, height: 10, fill: "url(#" + gid + ")" }, svg);
    el("text", { x: left, y: ky + 23 }, svg, "0");
    el("text", { x: left + kw, y: ky + 23, "text-anchor": "end" }, svg, "1");
    el("text", { x: left + kw / 2, y: ky - 4, "text-anchor": "middle", "class": "axis-title" }, svg, opts.valueTitle || "");
    var lx = left + kw + 30;
    el("line", { x1: lx, y1: ky + 5, x2: lx + 40, y2: ky + 5, stroke: seq(1), "stroke-width": 5 }, svg);
    el("text", { x: lx + 48, y: ky + 9 }, svg, opts.linkTitle || "link traffic");
    if (cw < cols || ch < rows) {
      el("line", { x1: lx, y1: ky + 28, x2: lx + 40, y2: ky + 28, stroke: "#c8453b", "stroke-width": 2.5, "stroke-dasharray": "8 4" }, svg);
      el("text", { x: lx + 48, y: ky + 32 }, svg, "chip boundary (dashed links cross it)");
    }
    return svg;
  }

  // Gantt timeline. opts: rows[label], bars[{row, start, end, color, tip}], xTitle, legend[{name, color}],
  // windows[{name, start, end}] (buttons that zoom to a cycle range, e.g. one timestep). Readable at
  // any run length: drag across the plot to zoom into a range, double-click or "whole run" to reset;
  // bars outside the range are not drawn and bars inside it are at least 1 px wide.
  function gantt(container, opts) {
    var rows = opts.rows, band = opts.band || 16, lw = opts.labelWidth || 70;
    var legendH = 0, items = opts.legend || [];
    var lo0 = Math.min.apply(null, opts.bars.map(function (b) { return b.start; }).concat([0]));
    var hi0 = niceMax(Math.max.apply(null, opts.bars.map(function (b) { return b.end; }).concat([1])), 8);
    var f0 = frame(container, opts, null, 10), svg = f0.svg, w = f0.w, right = w - 12;
    var bar = document.createElement("div");
    bar.className = "zoombar";
    svg.parentNode.insertBefore(bar, svg);
    var label = document.createElement("span");
    function button(text, a, b) {
      var btn = document.createElement("button");
      btn.type = "button"; btn.textContent = text;
      btn.addEventListener("click", function () { draw(a, b); });
      bar.appendChild(btn);
    }
    button("whole run", lo0, hi0);
    (opts.windows || []).forEach(function (win) { if (win.end > win.start) button(win.name, win.start, win.end); });
    bar.appendChild(label);
    var top = 0, bot = 0;
    function draw(lo, hi) {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      legendH = items.length ? legend(svg, items, lw, 12, right - lw) + 6 : 0;
      top = 4 + legendH; bot = top + band * rows.length;
      var H = bot + 40;
      svg.setAttribute("height", H); svg.setAttribute("viewBox", "0 0 " + w + " " + H);
      var sx = lin(lo, hi, lw, right);
      axisX(svg, sx, lo, hi, bot, lw, right, opts.xTitle, opts.xFmt, top);
      rows.forEach(function (r, i) {
        var t = el("text", { x: lw - 6, y: top + i * band + band / 2 + 4, "text-anchor": "end" }, svg, fit(String(r), lw - 10));
        if (t.textContent !== String(r)) tip(t, String(r));
        if (i % 2) el("rect", { x: lw, y: top + i * band, width: right - lw, height: band, fill: "#f7f8fb" }, svg);
      });
      var drawn = 0;
      opts.bars.forEach(function (b) {
        if (b.end < lo || b.start > hi) return;
        var x0 = sx(Math.max(lo, b.start)), x1 = sx(Math.min(hi, b.end));
        var r = el("rect", { x: x0, y: top + b.row * band + 2, width: Math.max(1, x1 - x0), height: band - 4,
                             fill: b.color || color(0), "class": "bar" }, svg);
        tip(r, b.tip || "");
        drawn++;
      });
      label.textContent = " cycles " + num(Math.round(lo)) + "–" + num(Math.round(hi)) + " (" + drawn + " bars); drag across the plot to zoom";
      svg.setAttribute("data-window", lo + ":" + hi);
      cur = [lo, hi, sx];
    }
    var cur = null, dragFrom = null, sel = null;
    function cycleAt(ev) {
      var r = svg.getBoundingClientRect(), x = (ev.clientX - r.left) * (w / (r.width || w));
      return cur[0] + (Math.min(right, Math.max(lw, x)) - lw) / (right - lw) * (cur[1] - cur[0]);
    }
    svg.addEventListener("mousedown", function (ev) { dragFrom = cycleAt(ev); ev.preventDefault(); });
    svg.addEventListener("mousemove", function (ev) {
      if (dragFrom === null) return;
      var a = cur[2](Math.min(dragFrom, cycleAt(ev))), b = cur[2](Math.max(dragFrom, cycleAt(ev)));
      if (!sel) sel = el("rect", { y: top, height: bot - top, fill: "rgba(47,111,179,0.15)", stroke: "#2f6fb3" }, svg);
      sel.setAttribute("x", a); sel.setAttribute("width", Math.max(1, b - a));
    });
    svg.addEventListener("mouseup", function (ev) {
      if (dragFrom === null) return;
      var a = Math.min(dragFrom, cycleAt(ev)), b = Math.max(dragFrom, cycleAt(ev));
      dragFrom = null; sel = null;
      if (b - a >= 1) draw(a, b); else draw(cur[0], cur[1]);
    });
    svg.addEventListener("dblclick", function () { draw(lo0, hi0); });
    var first = opts.initial && opts.initial.end > opts.initial.start ? opts.initial : null;
    draw(first ? first.start : lo0, first ? first.end : hi0);
    return svg;
  }

  // Text shortened with an ellipsis to about `px` pixels (11 px font: ~6.2 px per character).
  function fit(text, px) {
    var n = Math.max(4, Math.floor(px / 6.2));
    return text.length <= n ? text : text.slice(0, n - 1) + "…";
  }

  return { bar: bar, scatter: scatter, line: line, heatmap: heatmap, gantt: gantt, paretoFront: paretoFront,
           num: num, tickNum: tickNum, energy: energy, seconds: seconds, power: power, area: area, fit: fit, color: color, hashColor: hashColor, seq: seq, el: el, tip: tip };
})();
