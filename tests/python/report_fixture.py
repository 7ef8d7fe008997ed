"""Builds a synthetic but internally consistent run report (schema spikechip.run-report/1) and a
sweep JSON for the report-page tests, until the tests can use a real `spikechip run`.

The numbers are derived, not typed in: a small Meta-SpikeFormer-shaped graph (~30 nodes) on a 4x4
chip, seeded firing rates, SOPs = input spikes x fan-out, cycles = work / lanes, energies = event
counts x the 45 nm constants of ../shared/docs/energy-constants.md, XY routes for link flits.
Every total is the sum of its parts, so the page's own consistency checks must pass.
"""
import json
import random
import sys

CLOCK_HZ = 200e6
T = 4
MESH = (4, 4)
# pJ per event (45 nm, Horowitz via energy-constants.md): 8-bit add, 8 KB-class SRAM per 64-bit word
# and per 32-bit membrane word, int8 MAC, ~1 pJ per flit-hop router, link per flit.
E_ADD, E_WSRAM, E_MSRAM, E_NEURON, E_SDSA, E_MAC = 0.03, 10.0, 5.0, 0.1, 0.03, 0.23
E_ROUTER, E_LINK, E_CHIPLINK, E_STATIC_PER_CYCLE = 1.0, 0.6, 10.0, 2.0
PAPER_MAC, PAPER_AC = 4.6, 0.9


def build_graph():
    """(name, op, shape [C,H,W], fan_in per output neuron, input layer index or None)."""
    g = []

    def add(name, op, shape, fan_in, src):
        g.append({"name": name, "op": op, "shape": shape, "fan_in": fan_in, "src": src})
        return len(g) - 1

    x = add("stem.conv", "Conv2d", [16, 16, 16], 3 * 9, None)
    x = add("stem.lif", "LIF", [16, 16, 16], 1, x)
    x = add("down1.conv", "Conv2d", [32, 8, 8], 16 * 9, x)
    x = add("down1.lif", "LIF", [32, 8, 8], 1, x)
    res = x
    for b in range(1):
        p = f"cnn{b}"
        y = add(p + ".pw1", "Conv2d", [64, 8, 8], 32, x)
        y = add(p + ".lif1", "LIF", [64, 8, 8], 1, y)
        y = add(p + ".dw", "Conv2d", [64, 8, 8], 9, y)
        y = add(p + ".lif2", "LIF", [64, 8, 8], 1, y)
        y = add(p + ".pw2", "Conv2d", [32, 8, 8], 64, y)
        y = add(p + ".add", "Add", [32, 8, 8], 2, y)
        x = add(p + ".lif_out", "LIF", [32, 8, 8], 1, y)
    for b in range(2):
        p = f"attn{b}"
        q = add(p + ".q", "Conv2d", [32, 8, 8], 32, x)
        add(p + ".q_lif", "LIF", [32, 8, 8], 1, q)
        k = add(p + ".k", "Conv2d", [32, 8, 8], 32, x)
        add(p + ".k_lif", "LIF", [32, 8, 8], 1, k)
        v = add(p + ".v", "Conv2d", [32, 8, 8], 32, x)
        v = add(p + ".v_lif", "LIF", [32, 8, 8], 1, v)
        s = add(p + ".sdsa", "SDSA", [32, 8, 8], 64, v)
        s = add(p + ".attn_lif", "LIF", [32, 8, 8], 1, s)
        s = add(p + ".proj", "Conv2d", [32, 8, 8], 32, s)
        x = add(p + ".lif_out", "LIF", [32, 8, 8], 1, s)
    x = add("head.mean", "Mean", [32, 1, 1], 64, x)
    add("head.fc", "Linear", [10, 1, 1], 32, x)
    del res
    return g


def xy_route(a, b):
    """Directed neighbour hops of dimension-order (XY) routing from tile a to tile b."""
    hops, (x, y) = [], a
    while x != b[0]:
        nx = x + (1 if b[0] > x else -1)
        hops.append(((x, y), (nx, y), "E" if nx > x else "W"))
        x = nx
    while y != b[1]:
        ny = y + (1 if b[1] > y else -1)
        hops.append(((x, y), (x, ny), "S" if ny > y else "N"))
        y = ny
    return hops


def make_run_report(status="complete", seed=7, n_inputs=2, chips=(1, 1)):
    rng = random.Random(seed)
    g = build_graph()
    W, H = MESH[0] * chips[0], MESH[1] * chips[1]  # global mesh
    ncores = W * H
    # Contiguous placement: layers in graph order share cores round-robin (snake order keeps
    # neighbours close, as a locality-aware mapper would).
    snake = [(x if y % 2 == 0 else W - 1 - x, y) for y in range(H) for x in range(W)]
    for i, l in enumerate(g):
        l["core_ids"] = [(i * ncores) // len(g)]
    neurons = [l["shape"][0] * l["shape"][1] * l["shape"][2] for l in g]
    layers, cursor, per_core = [], 0, {c: {"busy": 0, "nodes": [], "sops": 0, "wreads": 0, "mreads": 0,
                                            "mwrites": 0, "ev": []} for c in range(ncores)}
    totals = dict(sops=0, macs=0, spikes=0, sdsa=0, neuron_updates=0, wreads=0, mreads=0, mwrites=0)
    for i, l in enumerate(g):
        fr = round(rng.uniform(0.04, 0.28), 4) if l["op"] == "LIF" else 0.0
        spikes = int(neurons[i] * T * fr)
        src = l["src"]
        src_spikes = layers[src]["spikes"] if src is not None else 0
        macs = neurons[i] * l["fan_in"] * T if src is None else 0
        if l["op"] in ("Conv2d", "Linear"):
            fan_out = neurons[i] * l["fan_in"] // max(1, neurons[src]) if src is not None else 0
            sops = src_spikes * max(1, fan_out)
        elif l["op"] == "SDSA":
            sops = 0
        else:
            sops = 0
        sdsa_ops = (src_spikes * 3 * 8) if l["op"] == "SDSA" else 0
        updates = neurons[i] * T if l["op"] == "LIF" else 0
        cycles = max(1, (sops // 16) + (macs // 16) + (sdsa_ops // 16) + (updates // 8))
        start = cursor
        cursor += cycles // 3 + 5  # layers overlap: a consumer starts once its first events arrive
        end = start + cycles
        wreads = (sops + macs) // 8
        mreads = sops // 4 + updates
        energy = (sops * E_ADD + macs * E_MAC + wreads * E_WSRAM + mreads * E_MSRAM * 2 + updates * E_NEURON
                  + sdsa_ops * E_SDSA)
        paper = macs * PAPER_MAC + sops * PAPER_AC
        layers.append({"name": l["name"], "op": l["op"], "shape": l["shape"], "cores": len(l["core_ids"]),
                       "spikes": spikes, "firing_rate": fr, "sops": sops, "macs": macs, "sdsa_ops": sdsa_ops,
                       "energy_pJ": round(energy / n_inputs * n_inputs, 3), "paper_energy_pJ": round(paper, 3),
                       "start_cycles": start, "end_cycles": end, "busy_cycles": cycles})
        for c in l["core_ids"]:
            pc = per_core[c]
            pc["busy"] += cycles
            pc["nodes"].append(l["name"])
            pc["sops"] += sops
            pc["wreads"] += wreads
            pc["mreads"] += mreads
            pc["mwrites"] += updates + sops // 4
            for t in range(T):
                s = start + t * cycles // T
                pc["ev"].append({"core": c, "node": l["name"], "timestep": t, "start_cycles": s,
                                 "end_cycles": s + max(1, cycles // T - 2)})
        totals["sops"] += sops
        totals["macs"] += macs
        totals["spikes"] += spikes
        totals["sdsa"] += sdsa_ops
        totals["neuron_updates"] += updates
        totals["wreads"] += wreads
        totals["mreads"] += mreads
    latency = max(l["end_cycles"] for l in layers) + 40
    # Link traffic: each layer's spikes travel from its core to its consumer's core.
    flits = {}
    packets = 0
    for i, l in enumerate(g):
        for j, m in enumerate(g):
            if m["src"] == i and m["core_ids"][0] != l["core_ids"][0]:
                n = max(1, layers[i]["spikes"] // 4 + layers[i]["sops"] // 64)
                packets += n
                for hop in xy_route(snake[l["core_ids"][0]], snake[m["core_ids"][0]]):
                    flits[hop] = flits.get(hop, 0) + 2 * n
    links = []
    for y in range(H):
        for x in range(W):
            for (dx, dy, d) in ((1, 0, "E"), (-1, 0, "W"), (0, 1, "S"), (0, -1, "N")):
                nx, ny = x + dx, y + dy
                if 0 <= nx < W and 0 <= ny < H:
                    f = flits.get(((x, y), (nx, ny), d), 0)
                    crosses = x // MESH[0] != nx // MESH[0] or y // MESH[1] != ny // MESH[1]
                    links.append({"from": [x, y], "to": [nx, ny], "dir": d, "chip_link": crosses, "flits": f,
                                  "utilisation": round(f / latency / n_inputs, 5)})
    total_flits = sum(l["flits"] for l in links)
    chip_flits = sum(l["flits"] for l in links if l["chip_link"])
    comp = {
        "adders": totals["sops"] * E_ADD, "weight_sram": totals["wreads"] * E_WSRAM,
        "membrane_sram": totals["mreads"] * E_MSRAM * 2, "neuron_units": totals["neuron_updates"] * E_NEURON,
        "sdsa": totals["sdsa"] * E_SDSA, "encoder_macs": totals["macs"] * E_MAC, "routers": total_flits * E_ROUTER,
        "links": (total_flits - chip_flits) * E_LINK, "chip_links": chip_flits * E_CHIPLINK, "dram": 0.0, "static": latency * E_STATIC_PER_CYCLE,
    }
    comp = {k: round(v, 3) for k, v in comp.items()}
    energy = round(sum(comp.values()), 3)
    cores = []
    stall_rng = random.Random(seed + 1)
    timeline = []
    for c in range(ncores):
        pc = per_core[c]
        x, y = snake[c]
        busy = pc["busy"]
        cores.append({"id": c, "x": x, "y": y, "chip": (y // MESH[1]) * chips[0] + x // MESH[0], "nodes": pc["nodes"], "busy_cycles": busy,
                      "stall_cycles": {"waiting_input": stall_rng.randrange(0, max(1, busy // 3)),
                                       "bank_conflict": stall_rng.randrange(0, max(1, busy // 20)),
                                       "waiting_dram": stall_rng.randrange(0, max(1, busy // 10)),
                                       "waiting_eot": stall_rng.randrange(0, 200), "waiting_phase": 0},
                      "utilisation": round(min(1.0, busy / latency), 5), "sops": pc["sops"],
                      "weight_sram_reads": pc["wreads"], "membrane_sram_reads": pc["mreads"],
                      "membrane_sram_writes": pc["mwrites"], "membrane_sram_used_bytes": 4 * sum(
                          neurons[i] for i, l in enumerate(g) if c in l["core_ids"]),
                      "weight_sram_used_bytes": sum(l["shape"][0] * l["fan_in"] for l in g if c in l["core_ids"]
                                                    and l["op"] in ("Conv2d", "Linear"))})
        timeline += pc["ev"]
    timeline.sort(key=lambda e: (e["start_cycles"], e["core"]))
    inputs = []
    for i in range(n_inputs):
        jitter = rng.randrange(-30, 30)
        ends = [(t + 1) * (latency + jitter) // T for t in range(T)]
        label = rng.randrange(10)
        pred = label if i % 3 != 2 else (label + 1) % 10
        inputs.append({"index": i, "origin": f"cifar10-test[{i}]", "label": label, "prediction": pred,
                       "latency_cycles": ends[-1], "timestep_end_cycles": ends,
                       "energy_pJ": round(energy * (1 + jitter / 5000), 3)})
    latency_mean = sum(i["latency_cycles"] for i in inputs) / n_inputs
    paper = round(totals["macs"] * PAPER_MAC + totals["sops"] * PAPER_AC, 3)
    wall = 3.7
    report = {
        "schema": "spikechip.run-report/1", "status": status,
        "tool": {"name": "spikechip", "version": "0.1.0",
                 "command": "spikechip run --model tiny-mspk.json --chip tiny4x4.json --inputs cifar10:2 -o out/"},
        "units": {"_cycles": "clock cycles", "_s": "seconds", "_pJ": "picojoules", "_hz": "hertz",
                  "_bytes": "bytes", "_bits": "bits"},
        "model": {"name": "tiny-mspk-30 (test fixture)", "path": "models/tiny-mspk.json",
                  "graph_sha256": "3f1c" * 16, "weights_sha256": "9ab2" * 16,
                  "provenance": {"generator": "tests/python/report_fixture.py", "seed": seed}},
        "chip": {"name": "tiny4x4", "path": "arch/chips/tiny4x4.json", "sha256": "77e0" * 16, "clock_hz": CLOCK_HZ,
                 "mesh": list(MESH), "chips": list(chips), "energy_table": "arch/energy/45nm.json", "tech_node": "45nm",
                 "config": {"name": "tiny4x4", "mesh": {"width": MESH[0], "height": MESH[1]},
                            "chips": {"chips_x": chips[0], "chips_y": chips[1]}}},
        "mapping": {"sha256": "c0de" * 16, "cores_used": sum(1 for c in cores if c["nodes"]), "groups": len(g),
                    "placement": "snake"},
        "run": {"timesteps": T, "inputs": n_inputs, "verified": True, "wall_s": wall,
                "simulated_cycles": sum(i["latency_cycles"] for i in inputs),
                "cycles_per_wall_s": round(sum(i["latency_cycles"] for i in inputs) / wall, 3),
                "sops_per_wall_s": round(totals["sops"] * n_inputs / wall, 3)},
        "summary": {"latency_cycles": latency_mean, "latency_s": latency_mean / CLOCK_HZ,
                    "throughput_inferences_per_s": CLOCK_HZ / latency_mean, "energy_pJ": energy,
                    "energy_per_sop_pJ": energy / (totals["sops"] + totals["sdsa"]), "paper_energy_pJ": paper, "sops": totals["sops"],
                    "macs": totals["macs"], "spikes": totals["spikes"], "packets": packets, "flits": total_flits,
                    "top1_predictions": [i["prediction"] for i in inputs]},
        "inputs": inputs,
        "energy_by_component_pJ": comp,
        "layers": layers,
        "cores": cores,
        "links": links,
        "timeline": timeline,
        "timeline_truncated": False,
        "events": {"sops": totals["sops"], "macs": totals["macs"], "weight_sram_reads": totals["wreads"],
                   "membrane_sram_reads": totals["mreads"], "neuron_updates": totals["neuron_updates"],
                   "sdsa_ops": totals["sdsa"], "flit_hops": total_flits},
    }
    if status == "partial":
        report["partial_reason"] = "interrupted by Ctrl-C after input 1 of 2"
    return report


def make_sweep(seed=3):
    """A 3-parameter grid evaluated with a crude analytic cost model (latency ~ work/lanes, energy
    ~ per-op energy x ops + static x cycles, area ~ SRAM + lanes); one point fails as a real sweep
    point would when the model does not fit."""
    base = make_run_report(seed=seed, n_inputs=1)
    sops, lat0, e0 = base["summary"]["sops"], base["summary"]["latency_cycles"], base["summary"]["energy_pJ"]
    points, pid = [], 0
    for lanes in (4, 8, 16, 32):
        for mesh in (3, 4, 6):
            for routing in ("xy", "west_first"):
                p = {"id": pid, "params": {"adder_lanes": lanes, "mesh": mesh, "routing": routing}}
                pid += 1
                if mesh == 3 and lanes == 4:
                    p.update(status="failed", error="mapping: model needs 19 cores, chip has 9 (mesh 3x3); "
                                                    "use a larger mesh")
                else:
                    lat = lat0 * (16 / lanes) ** 0.7 * (4 / mesh) ** 0.5 * (1.04 if routing == "west_first" else 1)
                    energy = e0 - base["energy_by_component_pJ"]["static"] + 2.0 * lat * (mesh / 4) ** 2 \
                        + sops * 0.002 * lanes / 16
                    area = mesh * mesh * (0.21 + 0.004 * lanes)
                    p.update(status="ok", error=None, metrics={"latency_cycles": round(lat), "energy_pJ": round(energy, 2),
                                                               "area_proxy_mm2": round(area, 4)})
                points.append(p)
    return {"schema": "spikechip.sweep/1", "name": "lanes x mesh x routing (fixture)",
            "command": "spikechip sweep --grid adder_lanes=4,8,16,32 mesh=3,4,6 routing=xy,west_first",
            "parameters": ["adder_lanes", "mesh", "routing"], "metrics": ["latency_cycles", "energy_pJ", "area_proxy_mm2"],
            "points": points}


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "run"
    obj = make_sweep() if kind == "sweep" else make_run_report(status=kind if kind == "partial" else "complete")
    json.dump(obj, sys.stdout, indent=1)
