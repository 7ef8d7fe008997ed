// spikechip report pages: builds the run or sweep page from the embedded JSON with Charts.
"use strict";
(function () {
  var C = Charts, num = C.num;
  var content = document.getElementById("content");

  function h(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function section(title, note) {
    var s = h("section", {}, content);
    h("h2", {}, s, title);
    if (note) h("p", { "class": "note" }, s, note);
    return s;
  }
  function card(parent, key, value, sub, cls) {
    var c = h("div", { "class": "card" }, parent);
    h("div", { "class": "k" }, c, key);
    var v = h("div", { "class": "v" + (cls ? " " + cls : "") }, c, value);
    if (sub) h("div", { "class": "s" }, c, sub);
    return v;
  }
  // A table from rows of cells; cols[{title, get(row), left, fmt}].
  function table(parent, cols, rows, rowClass) {
    var wrap = h("div", { "class": "scroll" }, parent), t = h("table", {}, wrap), tr = h("tr", {}, h("thead", {}, t));
    cols.forEach(function (c) { h("th", c.left ? { "class": "l" } : {}, tr, c.title); });
    var tb = h("tbody", {}, t);
    rows.forEach(function (r, i) {
      var row = h("tr", rowClass ? { "class": rowClass(r, i) || "" } : {}, tb);
      cols.forEach(function (c) {
        var v = c.get(r, i);
        h("td", c.left ? { "class": "l" } : {}, row, typeof v === "number" ? (c.fmt || num)(v) : (v === undefined || v === null ? "–" : String(v)));
      });
    });
    return t;
  }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function obj(v) { return v && typeof v === "object" && !Array.isArray(v) ? v : {}; }
  function pct(v) { return typeof v === "number" ? (100 * v).toFixed(1) + " %" : "–"; }
  function relClose(a, b, tol) { return typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b), 1e-30); }

  var COMPONENT_ORDER = ["adders", "weight_sram", "membrane_sram", "neuron_units", "sdsa", "encoder_macs", "routers",
                         "links", "chip_links", "dram", "dram_background", "static"];  // = energy_component_order() (report_writer.hpp; a test checks)

  function runPage(R) {
    var model = obj(R.model), chip = obj(R.chip), run = obj(R.run), S = obj(R.summary), mapping = obj(R.mapping);
    var clock = chip.clock_hz, mesh = arr(chip.mesh), chips = arr(chip.chips);
    var routerModel = obj(obj(chip.config).router).model;
    // SDSA ops per inference: the summary's own figure, else the layers' sum (older reports).
    var sdsaOps = typeof S.sdsa_ops === "number" ? S.sdsa_ops :
      arr(R.layers).reduce(function (a, l) { return a + (typeof l.sdsa_ops === "number" ? l.sdsa_ops : 0); }, 0);
    var sub = document.getElementById("subtitle");
    sub.textContent = "model " + (model.name || "?") + " · chip " + (chip.name || "?") + " (" + (mesh[0] || "?") + "×" + (mesh[1] || "?") +
      " tiles" + (chips.length && chips[0] * chips[1] > 1 ? ", " + chips[0] + "×" + chips[1] + " chips" : "") +
      (clock ? ", " + num(clock / 1e6) + " MHz" : "") + (chip.tech_node ? ", " + chip.tech_node : "") +
      // A network model other than the default (docs/architecture.md) changes every latency.
      (routerModel && routerModel !== "separable" ? ", " + routerModel + " network model" : "") + ") · " +
      (run.inputs || 0) + " input(s) × T=" + (run.timesteps || "?") + " · status " + (R.status || "?");
    var tool = obj(R.tool);
    if (tool.command) { sub.appendChild(document.createElement("br")); h("code", {}, sub, tool.command); }

    // Summary.
    var s1 = section("Summary", "Per-inference figures are means over the " + (run.inputs || 0) +
      " input(s). Paper-formula energy is the Meta-SpikeFormer accounting (4.6 pJ per first-layer MAC + 0.9 pJ per SOP), shown for comparison only.");
    var cards = h("div", { "class": "cards" }, s1);
    var preds = arr(S.top1_predictions);
    card(cards, "top-1 prediction(s)", preds.length ? preds.slice(0, 8).join(", ") + (preds.length > 8 ? " …" : "") : "–",
      arr(R.inputs).some(function (i) { return i.label >= 0; }) ? "accuracy " + pct(accuracy(arr(R.inputs))) + " on labelled inputs" : "inputs unlabelled");
    card(cards, "latency per inference", num(S.latency_cycles) + " cycles", S.latency_s !== undefined ? C.seconds(S.latency_s) + " at " + num(clock / 1e6) + " MHz" : "");
    card(cards, "throughput", num(S.throughput_inferences_per_s) + " inf/s");
    card(cards, "energy per inference", C.energy(S.energy_pJ), "paper formula: " + C.energy(S.paper_energy_pJ) +
      (S.paper_energy_pJ ? " (model/paper ×" + num(S.energy_pJ / S.paper_energy_pJ) + ")" : ""));
    card(cards, "energy per SOP", C.energy(S.energy_per_sop_pJ), "all components ÷ (SOPs + SDSA ops)");
    if (typeof S.power_W === "number") card(cards, "average power", C.power(S.power_W), "energy ÷ latency, per inference");
    if (typeof S.area_mm2 === "number") card(cards, "chip area (model)", C.area(S.area_mm2),
      obj(R.area).cores ? num(obj(R.area).cores) + " cores × " + C.area(obj(R.area).core_um2 * 1e-6) + " (docs/architecture.md, Area)" : "");
    if (typeof S.dram_bytes_per_inference === "number") card(cards, "off-chip DRAM per inference", num(S.dram_bytes_per_inference) + " B",
      "bandwidth use " + pct(S.dram_bandwidth_utilisation) + " of " + num(obj(R.dram).peak_bytes_per_s / 1e9) + " GB/s" +
      (obj(R.dram).models ? " (" + obj(R.dram).models.split("+").join(", ") + ")" : "") + "; weight stalls " +
      pct(S.weight_stall_share) + " of the cores' cycles");
    card(cards, "synaptic ops (SOPs)", num(S.sops), "MACs " + num(S.macs) + (typeof sdsaOps === "number" ? ", SDSA ops " + num(sdsaOps) : ""));
    card(cards, "spike events", num(S.spikes), "spikes emitted by LIF neurons");
    card(cards, "network packets", num(S.packets), "flits " + num(S.flits) + "; a packet carries many spike events");
    card(cards, "verified vs golden", run.verified === true ? "✔ identical" : run.verified === false ? "✘ MISMATCH" : "not checked",
      "spikes and logits vs the C++ golden executor", run.verified === true ? "ok" : run.verified === false ? "bad" : "warn");
    card(cards, "cores used", num(mapping.cores_used) + " / " + num((mesh[0] || 0) * (mesh[1] || 0) * ((chips[0] || 1) * (chips[1] || 1))),
      (mapping.placement ? "placement " + mapping.placement : ""));
    card(cards, "simulation speed", num(run.cycles_per_wall_s) + " cycles/s", "wall " + C.seconds(run.wall_s) + ", " + num(run.sops_per_wall_s) + " SOPs/s");

    // Cross-checks the page can do on its own numbers (independent arithmetic, not the simulator's).
    var E = obj(R.energy_by_component_pJ), comps = COMPONENT_ORDER.filter(function (k) { return k in E; })
      .concat(Object.keys(E).filter(function (k) { return COMPONENT_ORDER.indexOf(k) < 0; }).sort());
    var esum = comps.reduce(function (a, k) { return a + (E[k] || 0); }, 0);
    var checks = [];
    if (comps.length) checks.push([relClose(esum, S.energy_pJ, 1e-3), "sum of component energies " + C.energy(esum) + " vs energy per inference " + C.energy(S.energy_pJ)]);
    if (clock && S.latency_s !== undefined) checks.push([relClose(S.latency_cycles / clock, S.latency_s, 1e-6), "latency_cycles ÷ clock = " + C.seconds(S.latency_cycles / clock) + " vs latency_s " + C.seconds(S.latency_s)]);
    // energy_per_sop_pJ is defined as energy ÷ (SOPs + SDSA ops) (docs/reports.md): the same definition here.
    var ops = (S.sops || 0) + sdsaOps;
    if (ops) checks.push([relClose(S.energy_pJ / ops, S.energy_per_sop_pJ, 1e-3), "energy ÷ (SOPs + SDSA ops) = " + C.energy(S.energy_pJ / ops) + " vs energy_per_sop_pJ " + C.energy(S.energy_per_sop_pJ)]);
    var PW = obj(R.power);
    if (typeof PW.average_W === "number" && S.latency_s > 0) checks.push([relClose(S.energy_pJ * 1e-12 / S.latency_s, PW.average_W, 1e-6), "energy ÷ latency = " + C.power(S.energy_pJ * 1e-12 / S.latency_s) + " vs average power " + C.power(PW.average_W)]);
    // The timesteps partition the inference: their cycles, spike events, network packets and energy sum to the summary's.
    var TSc = arr(R.timesteps);
    if (TSc.length && R.status === "complete") {
      var tsum = function (k) { return TSc.reduce(function (a, t) { return a + (t[k] || 0); }, 0); };
      checks.push([relClose(tsum("cycles"), S.latency_cycles, 1e-9) && relClose(tsum("spikes"), S.spikes, 1e-9) &&
        relClose(tsum("packets"), S.packets, 1e-9) && relClose(tsum("energy_pJ"), S.energy_pJ, 1e-6),
        "sum over the " + TSc.length + " timesteps: " + num(tsum("cycles")) + " cycles, " + num(tsum("spikes")) + " spike events, " +
        num(tsum("packets")) + " network packets, " + C.energy(tsum("energy_pJ")) + " vs the summary's " + num(S.latency_cycles) + ", " +
        num(S.spikes) + ", " + num(S.packets) + ", " + C.energy(S.energy_pJ)]);
    }
    // Cycle accounting (docs/architecture.md): every unit's busy + stalls + idle = the run, and the
    // layers' busy cycles sum to the cores'; recomputed here from the cores' and layers' rows.
    var acc = obj(S.cycle_accounting), acores = arr(R.cores);
    if (acc.run_cycles !== undefined && acores.length) {
      var badUnits = 0, cbusy = 0, lbusy = 0;
      acores.forEach(function (c) {
        Object.keys(obj(c.units)).forEach(function (u) {
          var x = c.units[u], st = obj(x.stall_cycles);
          var sum = x.busy_cycles + x.idle_cycles + Object.keys(st).reduce(function (a, k) { return a + st[k]; }, 0);
          if (sum !== c.run_cycles || c.run_cycles !== acc.run_cycles) badUnits++;
        });
        cbusy += c.busy_cycles || 0;
      });
      arr(R.layers).forEach(function (l) { lbusy += l.busy_cycles || 0; });
      checks.push([badUnits === 0 && acc.units_exact === true, "every unit of every core: busy + stalls + idle = run (" + num(acc.run_cycles) + " cycles)" + (badUnits ? ", " + badUnits + " unit(s) differ" : "")]);
      checks.push([lbusy === cbusy, "layers' busy cycles " + num(lbusy) + " = cores' busy cycles " + num(cbusy)]);
    }
    // The critical path: contiguous segments from 0 to the input's latency (recomputed here when all are listed).
    var CPc = obj(R.critical_path);
    if (CPc.latency_cycles) {
      var segs = arr(CPc.segments), at = 0, contiguous = true;
      segs.forEach(function (g) { contiguous = contiguous && g.start_cycles === at && g.kind !== "other"; at = g.end_cycles; });
      var inLat = obj(arr(R.inputs)[CPc.input]).latency_cycles;
      checks.push([CPc.exact === true && CPc.segments_sum_cycles === CPc.latency_cycles && CPc.latency_cycles === inLat && (CPc.segments_truncated || (contiguous && at === inLat)),
        "critical path of input " + CPc.input + ": " + num(CPc.segments_total) + " contiguous segments sum to its latency " + num(inLat) + " cycles"]);
    }
    if (checks.length) {
      h("h3", {}, s1, "Consistency checks");
      var ul = h("ul", { "class": "checks" }, s1);
      checks.forEach(function (c) { h("li", { "class": c[0] ? "ok" : "bad" }, ul, (c[0] ? "✔ " : "✘ ") + c[1]); });
    }

    // Energy.
    var s2 = section("Energy breakdown (per inference)", "Sum over all cores and links of event counts × the chip's energy table (" +
      (chip.energy_table || "?") + "). Hover a bar for its share.");
    var g2 = h("div", { "class": "grid2" }, s2);
    if (comps.length) C.bar(g2, { title: "Energy by component", horizontal: true, showValues: true, labels: comps, band: 22,
      series: [{ name: "energy", values: comps.map(function (k) { return E[k]; }) }], valueTitle: "energy per inference", fmt: C.energy,
      tips: function (i) { return comps[i] + ": " + C.energy(E[comps[i]]) + " (" + pct(E[comps[i]] / esum) + ")"; } });
    C.bar(g2, { title: "Simulated vs paper-formula energy", horizontal: true, showValues: true, band: 30, labels: ["this chip (all components)", "paper formula (SOPs+MACs only)"],
      series: [{ name: "energy", values: [S.energy_pJ || 0, S.paper_energy_pJ || 0], color: "#8061b3" }], valueTitle: "energy per inference", fmt: C.energy });
    var PC = obj(PW.by_component_W);
    if (Object.keys(PC).length) C.bar(g2, { title: "Average power by component", horizontal: true, showValues: true, labels: comps.filter(function (k) { return k in PC; }), band: 22,
      series: [{ name: "power", values: comps.filter(function (k) { return k in PC; }).map(function (k) { return PC[k]; }), color: "#3a9a5b" }],
      valueTitle: "average power (energy ÷ latency)", fmt: C.power, tips: function (i) { var k = comps.filter(function (c) { return c in PC; })[i]; return k + ": " + C.power(PC[k]); } });

    // Layers.
    var L = arr(R.layers);
    if (L.length) {
      var s3 = section("Per layer", L.length + " layers in graph order. Busy cycles (summed over the layer's cores) and the active window are the last input's; spikes, firing rate and energy are per inference (means over the inputs). A layer's energy is its own counted events: its cores' work, the router and link energy of the packets it sends and its share of its cores' static energy (the layers sum to the total).");
      var g3 = h("div", { "class": "grid3" }, s3), names = L.map(function (l) { return l.name; });
      C.bar(g3, { title: "Busy cycles", horizontal: true, labels: names, series: [{ name: "busy", values: L.map(function (l) { return l.busy_cycles; }) }],
        valueTitle: "busy cycles (sum over cores)", tips: function (i) { var l = L[i]; return l.name + " (" + l.op + ", " + arr(l.shape).join("×") + ")\nbusy " + num(l.busy_cycles) + " cycles on " + l.cores + " core(s)\nactive " + num(l.start_cycles) + "–" + num(l.end_cycles); } });
      C.bar(g3, { title: "Energy: simulated vs paper formula", horizontal: true, labelWidth: 8, labels: L.map(function () { return ""; }),
        series: [{ name: "simulated", values: L.map(function (l) { return l.energy_pJ; }) }, { name: "paper formula", values: L.map(function (l) { return l.paper_energy_pJ; }), color: "#b5a22c" }],
        band: 17, valueTitle: "energy per inference", fmt: C.energy, tips: function (i, j) { var l = L[i]; return l.name + "\n" + (j ? "paper formula " + C.energy(l.paper_energy_pJ) : "simulated " + C.energy(l.energy_pJ)) + "\nSOPs " + num(l.sops) + ", MACs " + num(l.macs) + ", SDSA ops " + num(l.sdsa_ops); } });
      C.bar(g3, { title: "Output firing rate", horizontal: true, labelWidth: 8, labels: L.map(function () { return ""; }),
        series: [{ name: "firing rate", values: L.map(function (l) { return l.firing_rate || 0; }), color: "#3a9a5b" }],
        valueTitle: "spikes per neuron per timestep", fmt: num, tips: function (i) { var l = L[i]; return l.name + "\nfiring rate " + pct(l.firing_rate) + "\nspikes " + num(l.spikes); } });
    }

    // Mesh.
    var cores = arr(R.cores), links = arr(R.links);
    if (cores.length) {
      var s4 = section("Mesh: core utilisation and link traffic", "Last input: tile colour = busy fraction of its run; arrows = flits per directed link (width and colour ∝ flits, dashed = chip-to-chip link). Hover for nodes and stalls.");
      var cw = mesh[0] || 1, chh = mesh[1] || 1, gcols = cw * (chips[0] || 1), grows = chh * (chips[1] || 1);
      var g4 = h("div", { "class": gcols > 6 ? "" : "grid2" }, s4);  // wide meshes get the full width
      C.heatmap(g4, { cols: gcols, rows: grows, chipW: cw, chipH: chh, valueTitle: "core utilisation (busy ÷ simulated cycles)",
        linkTitle: "flits on link (max " + num(Math.max.apply(null, links.map(function (l) { return l.flits; }).concat([0]))) + ")",
        cells: cores.map(function (c) {
          var st = obj(c.stall_cycles);
          return { x: c.x, y: c.y, value: arr(c.nodes).length ? c.utilisation : null, text: "core " + c.id, sub: arr(c.nodes).length ? pct(c.utilisation) : "idle",
            tip: "core " + c.id + " (" + c.x + "," + c.y + ") chip " + c.chip + "\nnodes: " + (arr(c.nodes).join(", ") || "none") +
              "\nutilisation " + pct(c.utilisation) + ", busy " + num(c.busy_cycles) + " cycles\nstalls: " +
              Object.keys(st).map(function (k) { return k + " " + num(st[k]); }).join(", ") + "\nSOPs " + num(c.sops) +
              "\nmembrane SRAM " + num(c.membrane_sram_used_bytes) + " B, weight SRAM " + num(c.weight_sram_used_bytes) + " B" };
        }),
        links: links.map(function (l) { return { from: l.from, to: l.to, value: l.flits || 0, chip: l.chip_link,
          tip: "link (" + l.from + ") → (" + l.to + ") " + l.dir + (l.chip_link ? " [chip-to-chip]" : "") + "\nflits " + num(l.flits) + ", utilisation " + pct(l.utilisation) }; }) });
      var stallKeys = [];
      cores.forEach(function (c) { Object.keys(obj(c.stall_cycles)).forEach(function (k) { if (stallKeys.indexOf(k) < 0) stallKeys.push(k); }); });
      C.bar(g4, { title: "Busy and stall cycles per core", stacked: true, height: 380, labels: cores.map(function (c) { return c.id; }), labelTitle: "core id",
        series: [{ name: "busy", values: cores.map(function (c) { return c.busy_cycles; }), color: "#2f6fb3" }].concat(stallKeys.map(function (k, j) {
          return { name: "stall: " + k, values: cores.map(function (c) { return obj(c.stall_cycles)[k] || 0; }), color: ["#e07b39", "#c8453b", "#b5a22c", "#8c6d4f", "#8061b3"][j % 5] }; })),
        valueTitle: "cycles" });
    }

    // Critical path (docs/reports.md, "Critical path"): what set the latency of one input.
    var CP = obj(R.critical_path), CPS = arr(CP.segments);
    if (CP.latency_cycles) {
      var BK = obj(CP.breakdown_cycles), KC = obj(CP.by_kind_cycles), lat0 = CP.latency_cycles;
      var share = function (v) { return pct((v || 0) / lat0); };
      var kindsOf = function (keys) { return keys.filter(function (k) { return KC[k] > 0; }).map(function (k) { return k + " " + share(KC[k]); }).join(", "); };
      var sc = section("Critical path", "The chain of dependent intervals that set the latency of input " + CP.input + " (" + num(lat0) +
        " cycles): each task, packet trip, DRAM load or wait was released by the end of the one before it. Compute " + share(BK.compute_cycles) +
        (kindsOf(["synapse", "encoder", "node", "sdsa"]) ? " (" + kindsOf(["synapse", "encoder", "node", "sdsa"]) + ")" : "") + ", network " + share(BK.network_cycles) +
        ", DRAM " + share(BK.dram_cycles) + ", waiting " + share(BK.waiting_cycles) +
        (kindsOf(["host_input", "end_of_step", "other"]) ? " (" + kindsOf(["host_input", "end_of_step", "other"]) + ")" : "") + ". " + num(CP.segments_total) + " segments" +
        (CP.segments_truncated ? ", the first " + CPS.length + " listed" : "") + "; critical_path.csv lists them.");
      var gc = h("div", { "class": "grid3" }, sc), kinds = Object.keys(KC).filter(function (k) { return KC[k] > 0; });
      C.bar(gc, { title: "Latency by segment kind", horizontal: true, labels: kinds, series: [{ name: "cycles", values: kinds.map(function (k) { return KC[k]; }),
        color: "#c8453b" }], valueTitle: "cycles on the critical path", tips: function (i) { return kinds[i] + ": " + num(KC[kinds[i]]) + " cycles (" + share(KC[kinds[i]]) + ")"; } });
      var CL = arr(CP.layers).slice(0, 15), CC = arr(CP.cores).slice(0, 15);
      if (CL.length) C.bar(gc, { title: "Layers on the path (top " + CL.length + ")", horizontal: true, labels: CL.map(function (l) { return l.name; }),
        series: [{ name: "cycles", values: CL.map(function (l) { return l.cycles; }) }], valueTitle: "cycles (compute, its packets, its markers)",
        tips: function (i) { return CL[i].name + ": " + num(CL[i].cycles) + " cycles (" + pct(CL[i].share) + "), compute " + num(CL[i].compute_cycles); } });
      if (CC.length) C.bar(gc, { title: "Cores on the path (top " + CC.length + ")", horizontal: true, labels: CC.map(function (c) { return "core " + c.id + " (" + c.x + "," + c.y + ")"; }),
        series: [{ name: "compute cycles", values: CC.map(function (c) { return c.cycles; }), color: "#3a9a5b" }], valueTitle: "compute cycles on the path",
        tips: function (i) { return "core " + CC[i].id + ": " + num(CC[i].cycles) + " cycles (" + pct(CC[i].share) + ")"; } });
    }

    // Timeline.
    // The browser stays responsive up to a few ten thousand SVG bars; the simulator bounds the
    // timeline too, this cap only protects against a report written without that bound.
    var MAX_BARS = 20000, T = arr(R.timeline), s5 = null, capped = T.length > MAX_BARS;
    // Zoom windows: one per timestep of the last input (from its timestep end cycles).
    var lastIn = arr(R.inputs).length ? arr(R.inputs)[arr(R.inputs).length - 1] : {}, windows = [];
    arr(lastIn.timestep_end_cycles).forEach(function (e, t, a) { windows.push({ name: "t=" + t, start: t ? a[t - 1] : 0, end: e }); });
    if (capped) T = T.slice(0, MAX_BARS);
    // The timeline opens on the critical path: its segments are the first row, above the cores.
    var PATH = arr(obj(R.critical_path).segments), pathRow = PATH.length ? 1 : 0;
    var KIND_COLORS = { synapse: "#2f6fb3", encoder: "#5b8fd1", node: "#3a9a5b", sdsa: "#8061b3", network: "#e07b39",
      end_of_step: "#b5a22c", host_input: "#8c6d4f", dram: "#c8453b", other: "#999999" };
    if (T.length || PATH.length) {
      s5 = section("Timeline", "Activity of each core over the last input: one bar per (node, timestep). Buttons zoom to one timestep; drag across a plot to zoom into any range, double-click to reset." +
        (PATH.length ? " The first row is the critical path of input " + obj(R.critical_path).input + " (colour = segment kind, hover for layer and core)." : "") +
        (R.timeline_truncated ? " The simulator bounded the timeline: later events are not shown." : "") +
        (capped ? " Only the first " + MAX_BARS + " of " + arr(R.timeline).length + " entries are drawn." : ""));
      var coreIds = []; T.forEach(function (e) { if (coreIds.indexOf(e.core) < 0) coreIds.push(e.core); });
      coreIds.sort(function (a, b) { return a - b; });
      var nodeNames = []; T.forEach(function (e) { if (nodeNames.indexOf(e.node) < 0) nodeNames.push(e.node); });
      var nodeColor = function (n) { return C.color(nodeNames.indexOf(n)); };
      var pathKinds = []; PATH.forEach(function (g) { if (pathKinds.indexOf(g.kind) < 0) pathKinds.push(g.kind); });
      C.gantt(s5, { title: "Critical path and core activity (last input)", rows: (pathRow ? ["critical path"] : []).concat(coreIds.map(function (c) { return "core " + c; })),
        xTitle: "cycle", band: 18, windows: windows, labelWidth: pathRow ? 90 : undefined,
        legend: pathKinds.map(function (k) { return { name: "path: " + k, color: KIND_COLORS[k] || "#999999" }; })
          .concat(nodeNames.length <= 40 ? nodeNames.map(function (n) { return { name: n, color: nodeColor(n) }; }) : []),
        bars: PATH.slice(0, MAX_BARS).map(function (g) { return { row: 0, start: g.start_cycles, end: g.end_cycles, color: KIND_COLORS[g.kind] || "#999999",
          tip: "critical path: " + g.kind + (g.layer ? ", " + g.layer : "") + (g.core >= 0 ? ", core " + g.core : "") + (g.timestep >= 0 ? ", timestep " + g.timestep : "") +
            "\ncycles " + num(g.start_cycles) + "–" + num(g.end_cycles) }; })
          .concat(T.map(function (e) { return { row: pathRow + coreIds.indexOf(e.core), start: e.start_cycles, end: e.end_cycles, color: nodeColor(e.node),
          tip: "core " + e.core + ": " + e.node + ", timestep " + e.timestep + "\ncycles " + num(e.start_cycles) + "–" + num(e.end_cycles) }; })) });
    }

    if (L.length) {
      if (!s5) s5 = section("Timeline", "");
      var ops = []; L.forEach(function (l) { if (ops.indexOf(l.op) < 0) ops.push(l.op); });
      C.gantt(s5, { title: "Layer activity window (last input)", rows: names, labelWidth: 190, band: 15, xTitle: "cycle", windows: windows,
        legend: ops.map(function (o) { return { name: o, color: C.hashColor(o) }; }),
        bars: L.map(function (l, i) { return { row: i, start: l.start_cycles, end: l.end_cycles, color: C.hashColor(l.op),
          tip: l.name + " (" + l.op + ")\ncycles " + num(l.start_cycles) + "–" + num(l.end_cycles) }; }) });
    }

    // Inputs.
    var I = arr(R.inputs);
    if (I.length) {
      var s6 = section("Inputs", "Cycle at which each timestep finished, per input (cumulative).");
      var g6 = h("div", { "class": "grid2" }, s6);
      C.line(g6, { title: "Timestep completion", xTitle: "timestep", yTitle: "end cycle", zeroBased: true,
        series: I.slice(0, 12).map(function (inp) { return { name: "input " + inp.index, points: arr(inp.timestep_end_cycles).map(function (c, t) { return [t, c, "input " + inp.index + ", t=" + t + ": cycle " + num(c)]; }) }; }),
        xCategories: arr(I[0].timestep_end_cycles).map(function (_, t) { return "t=" + t; }) });
      var d6 = h("div", {}, g6);
      table(d6, [{ title: "#", get: function (r) { return r.index; } }, { title: "origin", left: true, get: function (r) { return r.origin; } },
        { title: "label", get: function (r) { return r.label >= 0 ? r.label : "–"; } }, { title: "prediction", get: function (r) { return r.prediction; } },
        { title: "correct", get: function (r) { return r.label >= 0 ? (r.label === r.prediction ? "✔" : "✘") : "–"; } },
        { title: "latency (cycles)", get: function (r) { return r.latency_cycles; } }, { title: "energy", get: function (r) { return C.energy(r.energy_pJ); } }], I);
    }

    var TS = arr(R.timesteps);
    if (TS.length) {
      var s8 = section("Per timestep", "Means over the inputs (timesteps.csv, stats.txt): cycles from the previous timestep's end to this one's (the last until the result is at the host), the work, network packets and energy of the timestep. The timesteps sum to the summary.");
      var g8 = h("div", { "class": "grid2" }, s8);
      C.bar(g8, { title: "Cycles per timestep", labels: TS.map(function (t) { return "t=" + t.timestep; }), series: [{ name: "cycles", values: TS.map(function (t) { return t.cycles; }) }],
        valueTitle: "cycles", tips: function (i) { var t = TS[i]; return "t=" + t.timestep + ": " + num(t.cycles) + " cycles, ends at " + num(t.end_cycles) + "\nspike events " + num(t.spikes) + ", SOPs " + num(t.sops); } });
      C.bar(g8, { title: "Energy per timestep", labels: TS.map(function (t) { return "t=" + t.timestep; }), series: [{ name: "energy", values: TS.map(function (t) { return t.energy_pJ || 0; }) }],
        valueTitle: "energy", fmt: C.energy, tips: function (i) { var t = TS[i]; return "t=" + t.timestep + ": " + C.energy(t.energy_pJ || 0) + "\nnetwork packets " + num(t.packets || 0) + ", flits " + num(t.flits || 0); } });
      table(h("div", {}, g8), [{ title: "t", get: function (r) { return r.timestep; } }, { title: "cycles", get: function (r) { return r.cycles; } },
        { title: "end (cycles)", get: function (r) { return r.end_cycles; } }, { title: "spike events", get: function (r) { return r.spikes; } },
        { title: "SOPs", get: function (r) { return r.sops; } }, { title: "MACs", get: function (r) { return r.macs; } }, { title: "SDSA ops", get: function (r) { return r.sdsa_ops; } },
        { title: "network packets", get: function (r) { return r.packets; } }, { title: "energy", get: function (r) { return C.energy(r.energy_pJ || 0); } }], TS);
    }

    if (L.length) {
      var s7 = section("Layer table", "The same figures as layers.csv.");
      table(s7, [{ title: "#", get: function (r, i) { return i; } }, { title: "name", left: true, get: function (r) { return r.name; } },
        { title: "op", left: true, get: function (r) { return r.op; } }, { title: "shape C×H×W", get: function (r) { return arr(r.shape).join("×"); } },
        { title: "cores", get: function (r) { return r.cores; } }, { title: "spikes", get: function (r) { return r.spikes; } },
        { title: "firing rate", get: function (r) { return pct(r.firing_rate); } }, { title: "SOPs", get: function (r) { return r.sops; } },
        { title: "MACs", get: function (r) { return r.macs; } }, { title: "SDSA ops", get: function (r) { return r.sdsa_ops; } },
        { title: "energy", get: function (r) { return C.energy(r.energy_pJ); } }, { title: "paper energy", get: function (r) { return C.energy(r.paper_energy_pJ); } },
        { title: "start–end (cycles)", get: function (r) { return num(r.start_cycles) + "–" + num(r.end_cycles); } },
        { title: "busy (cycles)", get: function (r) { return r.busy_cycles; } }], L);
    }
    footer(R, "Model " + (model.path || "") + " (graph " + short(model.graph_sha256) + ", weights " + short(model.weights_sha256) + "); chip " +
      (chip.path || "") + " (" + short(chip.sha256) + "); mapping " + short(mapping.sha256) + ".");
  }

  function accuracy(I) {
    var lab = I.filter(function (i) { return i.label >= 0; });
    return lab.length ? lab.filter(function (i) { return i.label === i.prediction; }).length / lab.length : NaN;
  }
  function short(s) { return typeof s === "string" ? s.slice(0, 12) : "?"; }
  function footer(R, text) {
    var f = h("footer", {}, content);
    var units = obj(R.units);
    f.textContent = text + " Units: " + (Object.keys(units).map(function (k) { return k + " = " + units[k]; }).join("; ") || "see docs/reports.md") +
      ". Generated by " + [(R.tool && R.tool.name) || "spikechip", R.tool && R.tool.version].filter(Boolean).join(" ") + ".";
  }

  var METRIC_TITLES = { latency_cycles: "latency (cycles)", energy_pJ: "energy per inference (pJ)", area_proxy_mm2: "area proxy (mm²)",
    top1_error_pct: "top-1 error (%)" };
  function mtitle(m) { return METRIC_TITLES[m] || m; }

  function sweepPage(W) {
    var P = arr(W.points), params = arr(W.parameters), metrics = arr(W.metrics);
    if (!metrics.length) metrics = ["latency_cycles", "energy_pJ", "area_proxy_mm2"];
    var ok = P.filter(function (p) { return p.status === "ok" && p.metrics; }), failed = P.length - ok.length;
    document.getElementById("subtitle").textContent = P.length + " design point(s): " + ok.length + " ok, " + failed + " failed · parameters: " +
      (params.join(", ") || "–") + (W.command ? " · " + W.command : "");
    var front = {};
    // A parameter whose values are lists or objects (e.g. memory_controllers) is shown as "#1",
    // "#2", ... in plots and the table, with the values spelt out once in a note.
    var structured = {};
    params.forEach(function (k) {
      var seen = [];
      P.forEach(function (p) {
        var v = obj(p.params)[k];
        if (v === null || typeof v !== "object") return;
        var j = JSON.stringify(v);
        if (seen.indexOf(j) < 0) seen.push(j);
      });
      if (seen.length) structured[k] = seen;
    });
    function paramLabel(k, v) {
      if (!structured[k] || v === null || typeof v !== "object") return v;
      return "#" + (structured[k].indexOf(JSON.stringify(v)) + 1);
    }
    function frontOf(mx, my) {
      var pts = ok.filter(function (p) { return typeof p.metrics[mx] === "number" && typeof p.metrics[my] === "number"; })
        .map(function (p) { return { x: p.metrics[mx], y: p.metrics[my], id: p.id, label: String(p.id), tip: describe(p) }; });
      return pts;
    }
    function describe(p) {
      return "point " + p.id + "\n" + params.map(function (k) { return k + " = " + JSON.stringify(obj(p.params)[k]); }).join("\n") + "\n" +
        metrics.map(function (m) { return mtitle(m) + ": " + num(obj(p.metrics)[m]); }).join("\n");
    }
    // A "noc" job (synthetic traffic): latency-throughput curves, one per setting of the other parameters.
    var noc = metrics.indexOf("latency_avg_cycles") >= 0;
    if (noc) {
      var sN = section("Latency vs throughput", "Average packet latency against the accepted and the offered load (flits per node per cycle), one curve per setting of the parameters other than noc.rate; saturation shows as the knee where accepted load stops following offered load.");
      var gN = h("div", { "class": "grid2" }, sN), others = params.filter(function (k) { return k !== "noc.rate"; }), curves = {};
      ok.forEach(function (p) {
        var name = others.map(function (k) { return k + "=" + JSON.stringify(obj(p.params)[k]); }).join(", ") || "all points";
        (curves[name] = curves[name] || []).push(p);
      });
      [["accepted_flits_per_node_cycle", "accepted load (flits/node/cycle)"], ["offered_flits_per_node_cycle", "offered load (flits/node/cycle)"]].forEach(function (ax) {
        C.line(gN, { title: "Average latency vs " + ax[1].split(" (")[0], xTitle: ax[1], yTitle: "average latency (cycles)",
          series: Object.keys(curves).map(function (name) {
            return { name: name, points: curves[name].filter(function (p) { return typeof obj(p.metrics)[ax[0]] === "number"; })
              .map(function (p) { return [p.metrics[ax[0]], p.metrics.latency_avg_cycles, describe(p)]; }) };
          }) });
      });
    }
    var s1 = noc ? null : section("Pareto fronts", "Every successful design point; red points are Pareto-optimal (no other point is at least as good on both axes and better on one).");
    var g1 = noc ? null : h("div", { "class": "grid2" }, s1);
    // A sweep that measured accuracy (scripts/precision-sweep adds top1_error_pct) also gets
    // error against energy and area: accuracy on the same page as cycle-level energy.
    var axes = noc ? [] : [["latency_cycles", "energy_pJ"], ["area_proxy_mm2", "energy_pJ"]];
    if (!noc && metrics.indexOf("top1_error_pct") >= 0) axes = axes.concat([["energy_pJ", "top1_error_pct"], ["area_proxy_mm2", "top1_error_pct"]]);
    axes.forEach(function (ax) {
      var pts = frontOf(ax[0], ax[1]);
      if (!pts.length) { h("p", { "class": "note" }, g1, "No point has both " + ax[0] + " and " + ax[1] + "."); return; }
      var title = ax[1] === "top1_error_pct" ? "Top-1 error vs " + (ax[0] === "energy_pJ" ? "energy" : "area proxy")
                                              : "Energy vs " + (ax[0] === "latency_cycles" ? "latency" : "area proxy");
      var r = C.scatter(g1, { title: title, points: pts, pareto: true, xTitle: mtitle(ax[0]), yTitle: mtitle(ax[1]) });
      r.front.forEach(function (p) { front[p.id] = true; });
    });
    if (params.length && ok.length) {
      var s2 = section("Sensitivity", "Each metric against each varied parameter; when other parameters vary too, the line joins the best (lowest) value at each setting and dots show every point.");
      var g2 = h("div", { "class": "gridn" }, s2);
      // A parameter whose values map one to one onto an earlier one's (a zip, or the same axis
      // twice) would repeat its plots: it is named in a note instead.
      var plotted = [], skipped = [];
      function key(p, k) { return JSON.stringify(obj(p.params)[k]); }
      function sameAxis(k, j) {
        var f = {}, g = {};
        return ok.every(function (p) {
          var a = key(p, k), b = key(p, j);
          if ((a in f && f[a] !== b) || (b in g && g[b] !== a)) return false;
          f[a] = b; g[b] = a; return true;
        });
      }
      function spansDecades(v) { return v.length > 2 && v.every(function (x) { return typeof x === "number" && x > 0; }) && Math.max.apply(null, v) / Math.min.apply(null, v) >= 100; }
      params.forEach(function (k) {
        var twin = plotted.filter(function (j) { return sameAxis(k, j); })[0];
        if (twin !== undefined) { skipped.push(k + " (varies with " + twin + ")"); return; }
        plotted.push(k);
        var vals = []; ok.forEach(function (p) { var v = obj(p.params)[k]; if (!vals.some(function (u) { return JSON.stringify(u) === JSON.stringify(v); })) vals.push(v); });
        var numeric = vals.every(function (v) { return typeof v === "number"; });
        if (numeric) vals.sort(function (a, b) { return a - b; });
        else if (structured[k]) vals.sort(function (a, b) { return structured[k].indexOf(JSON.stringify(a)) - structured[k].indexOf(JSON.stringify(b)); });
        else vals.sort(function (a, b) { return String(a) < String(b) ? -1 : 1; });
        var xOf = function (v) { return numeric ? v : vals.map(JSON.stringify).indexOf(JSON.stringify(v)); };
        metrics.forEach(function (m) {
          var all = ok.filter(function (p) { return typeof obj(p.metrics)[m] === "number"; })
            .map(function (p) { return [xOf(obj(p.params)[k]), p.metrics[m], describe(p)]; });
          if (!all.length) return;
          var best = {};
          all.forEach(function (a) { if (!(a[0] in best) || a[1] < best[a[0]][1]) best[a[0]] = a; });
          C.line(g2, { title: mtitle(m) + " vs " + k, xTitle: k, yTitle: mtitle(m), height: 220, xTicks: numeric && vals.length <= 8 ? vals : undefined,
            xLog: numeric && spansDecades(vals), yLog: spansDecades(all.map(function (a) { return a[1]; })),
            xCategories: numeric ? undefined : vals.map(function (v) { var l = paramLabel(k, v); return typeof l === "string" ? l : JSON.stringify(l); }),
            series: [{ name: "best", points: Object.keys(best).map(function (x) { return best[x]; }), color: "#2f6fb3" },
                     { name: "all points", points: all, line: false, color: "rgba(224,123,57,0.75)" }] });
        });
      });
    }
    if (typeof skipped !== "undefined" && skipped.length)
      h("p", { "class": "note", id: "skipped-axes" }, s2, "Not plotted separately (their values follow another parameter's one to one): " + skipped.join(", ") + ".");
    var s3 = section("Design points", "Green rows are on at least one Pareto front; failed points show their error.");
    Object.keys(structured).forEach(function (k) {
      h("p", { "class": "note structured-values" }, s3, k + ": " + structured[k].map(function (j, i) { return "#" + (i + 1) + " = " + j; }).join("; "));
    });
    var cols = [{ title: "id", get: function (p) { return p.id; } }, { title: "status", left: true, get: function (p) { return p.status; } }]
      .concat(params.map(function (k) {
        return { title: k, left: !!structured[k], get: function (p) { var v = paramLabel(k, obj(p.params)[k]); return v !== null && typeof v === "object" ? JSON.stringify(v) : v; } };
      }))
      .concat(metrics.map(function (m) { return { title: mtitle(m), get: function (p) { return obj(p.metrics)[m]; } }; }))
      .concat([{ title: "error", left: true, get: function (p) { return p.error || ""; } }]);
    table(s3, cols, P, function (p) { return p.status !== "ok" ? "failed" : front[p.id] ? "pareto" : ""; });
    footer(W, "Sweep schema " + (W.schema || "spikechip.sweep/1") + ".");
  }

  // spikechip compare: tables of {name, a, b, delta, rel} rows and A-vs-B bars.
  function comparePage(X) {
    document.getElementById("subtitle").textContent = "A: " + (X.a || "?") + " · B: " + (X.b || "?") + " · models " +
      arr(X.models).join(" / ") + " · chips " + arr(X.chips).join(" / ");
    function rel(v) { return typeof v === "number" ? (v >= 0 ? "+" : "") + (100 * v).toFixed(2) + " %" : "–"; }
    function rowsTable(parent, rows, fmt) {
      table(parent, [{ title: "", left: true, get: function (r) { return r.name; } },
        { title: "A", get: function (r) { return fmt && typeof r.a === "number" ? fmt(r.a) : r.a; } },
        { title: "B", get: function (r) { return fmt && typeof r.b === "number" ? fmt(r.b) : r.b; } },
        { title: "B − A", get: function (r) { return fmt && typeof r.delta === "number" ? fmt(r.delta) : r.delta; } },
        { title: "change", get: function (r) { return rel(r.rel); } }], arr(rows), function (r) { return typeof r.rel === "number" && Math.abs(r.rel) > 0.005 ? (r.rel < 0 ? "better" : "worse") : ""; });
    }
    var ch = arr(X.chip_config_changes);
    var s0 = section("Chip configuration changes", ch.length ? ch.length + " key(s) differ." : "The two chip configurations are identical.");
    if (ch.length) rowsTable(s0, ch);
    var s1 = section("Summary (per inference)", "B − A and (B − A) ÷ A; green = lower in B, red = higher in B.");
    rowsTable(s1, X.summary);
    var E = arr(X.energy_by_component_pJ);
    if (E.length) {
      var s2 = section("Energy by component (per inference)");
      var g2 = h("div", { "class": "grid2" }, s2);
      C.bar(g2, { title: "Energy by component, A vs B", horizontal: true, labels: E.map(function (r) { return r.name; }), band: 26,
        series: [{ name: "A", values: E.map(function (r) { return r.a || 0; }) }, { name: "B", values: E.map(function (r) { return r.b || 0; }), color: "#e07b39" }],
        valueTitle: "energy per inference", fmt: C.energy, tips: function (i, j) { var r = E[i]; return r.name + "\n" + (j ? "B " + C.energy(r.b) : "A " + C.energy(r.a)) + "\nchange " + rel(r.rel); } });
      rowsTable(h("div", {}, g2), E, C.energy);
      if (arr(X.power_by_component_W).length) { h("h3", {}, s2, "Average power by component"); rowsTable(s2, X.power_by_component_W, C.power); }
    }
    if (X.critical_path) {
      var s3 = section("Critical path");
      rowsTable(s3, X.critical_path.summary);
      ["breakdown_cycles", "breakdown"].forEach(function (k) { if (X.critical_path[k]) { h("h3", {}, s3, k); rowsTable(s3, X.critical_path[k]); } });
    }
    var L = arr(X.layers);
    if (L.length) {
      var s4 = section("Per layer", L.length + " layers in graph order (busy cycles and start/end: last input; energy per inference).");
      var g4 = h("div", { "class": "grid2" }, s4), names = L.map(function (l) { return l.name; });
      C.bar(g4, { title: "Busy cycles, A vs B", horizontal: true, labels: names, band: 20,
        series: [{ name: "A", values: L.map(function (l) { return l.busy_cycles.a || 0; }) }, { name: "B", values: L.map(function (l) { return l.busy_cycles.b || 0; }), color: "#e07b39" }],
        valueTitle: "busy cycles", tips: function (i, j) { var l = L[i]; return l.name + "\n" + (j ? "B " : "A ") + num(j ? l.busy_cycles.b : l.busy_cycles.a) + " cycles\nchange " + rel(l.busy_cycles.rel); } });
      C.bar(g4, { title: "Energy, A vs B", horizontal: true, labels: names, band: 20,
        series: [{ name: "A", values: L.map(function (l) { return l.energy_pJ.a || 0; }) }, { name: "B", values: L.map(function (l) { return l.energy_pJ.b || 0; }), color: "#e07b39" }],
        valueTitle: "energy per inference", fmt: C.energy, tips: function (i, j) { var l = L[i]; return l.name + "\n" + C.energy(j ? l.energy_pJ.b : l.energy_pJ.a) + "\nchange " + rel(l.energy_pJ.rel); } });
      table(s4, [{ title: "layer", left: true, get: function (l) { return l.name; } }, { title: "op", left: true, get: function (l) { return l.op; } },
        { title: "busy A", get: function (l) { return l.busy_cycles.a; } }, { title: "busy B", get: function (l) { return l.busy_cycles.b; } },
        { title: "change", get: function (l) { return rel(l.busy_cycles.rel); } },
        { title: "energy A", get: function (l) { return C.energy(l.energy_pJ.a); } }, { title: "energy B", get: function (l) { return C.energy(l.energy_pJ.b); } },
        { title: "change", get: function (l) { return rel(l.energy_pJ.rel); } }], L);
    } else section("Per layer", "Not compared: the reports are of different models.");
    footer(X, "Comparison schema " + (X.schema || "spikechip.compare/1") + ".");
  }

  try {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    var kind = document.body.getAttribute("data-kind");
    if (kind === "sweep") sweepPage(data); else if (kind === "compare") comparePage(data); else runPage(data);
    document.body.setAttribute("data-render", "ok");
  } catch (e) {
    document.body.setAttribute("data-render", "error");
    var b = h("div", { "class": "banner error", id: "render-error" }, null, "This report could not be drawn: " + e.message);
    content.insertBefore(b, content.firstChild);
    throw e;
  }
})();
