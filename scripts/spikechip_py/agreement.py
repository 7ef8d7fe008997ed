"""Per-layer spike agreement between a spikechip integer model and the float model it was exported
from (issue 16 item 2), on a set of inputs.

The float side is the exporter's folded float graph (intref mode "float"; the exporter's tests
show it reproduces the PyTorch model's spikes), rebuilt from the checkpoint with the settings the
integer model records in its provenance (input size, T, heads, normalisation, encoding).

- end to end: both models run freely; a layer's agreement is the share of its (neuron, timestep,
  input) spike values that are equal. Differences compound along the network.
- teacher-forced: the integer model runs with every LIF's *output* replaced by the float model's
  spikes (intref.run force=): each layer computes from the float model's inputs, so its agreement
  measures only its own quantisation (rounded weights, biases, thresholds, saturation).
"""
import numpy as np
import torch

from . import export, intref


def float_graph(ckpt_path, meta):
    """The folded float graph of checkpoint `ckpt_path` with the settings of graph.json `meta`."""
    prov = meta["provenance"]
    sd, _ = export.load_checkpoint(ckpt_path)
    img = tuple(prov["input_size"])
    model, cfg = export.build_checked(sd, ckpt_path, prov["num_heads"], img, prov["T"], prov.get("strides"))
    enc = prov.get("input_encoding", "image")
    norm = prov.get("normalize")
    mean, std = (norm["mean"], norm["std"]) if enc == "image" else (None, None)
    with torch.no_grad():
        fg, _, _ = export.fold(model, cfg, img, mean, std, prov["num_heads"], enc)
    return fg


def agreement(fg, ig, x, T, batch=64):
    """Per-LIF agreement of integer graph `ig` with float graph `fg` on u8 inputs x.

    Returns {"layers": [{name, values, end_to_end, teacher_forced}], "end_to_end", "teacher_forced"
    (over all spike values), "predictions": share of equal argmax, "inputs": N}."""
    names = ig.lif_names
    eq_free = dict.fromkeys(names, 0)
    eq_forced = dict.fromkeys(names, 0)
    count = dict.fromkeys(names, 0)
    same_pred = 0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        f = intref.run(fg, xb, T=T, mode="float")
        free = intref.run(ig, xb, T=T)
        forced = intref.run(ig, xb, T=T, force=f["spikes"])
        for n in names:
            ref = f["spikes"][n]
            eq_free[n] += int((free["spikes"][n] == ref).sum())
            eq_forced[n] += int((forced["spikes"][n] == ref).sum())
            count[n] += ref.size
        same_pred += int((intref.predict(free["acc"]) == intref.predict(f["acc"])).sum())
    layers = [{"name": n, "values": count[n], "end_to_end": eq_free[n] / count[n],
               "teacher_forced": eq_forced[n] / count[n]} for n in names]
    total = sum(count.values())
    return {"inputs": int(len(x)), "T": T, "layers": layers,
            "end_to_end": sum(eq_free.values()) / total, "teacher_forced": sum(eq_forced.values()) / total,
            "predictions": same_pred / len(x)}


def as_table(res):
    """The report as aligned text lines (the CLI prints it)."""
    w = max(len(layer["name"]) for layer in res["layers"])
    lines = [f"{'layer':<{w}}  {'spike values':>13}  {'end to end':>10}  {'teacher-forced':>14}"]
    for layer in res["layers"]:
        lines.append(f"{layer['name']:<{w}}  {layer['values']:>13,}  {100 * layer['end_to_end']:>9.2f}%  "
                     f"{100 * layer['teacher_forced']:>13.2f}%")
    lines.append(f"{'all layers':<{w}}  {sum(v['values'] for v in res['layers']):>13,}  "
                 f"{100 * res['end_to_end']:>9.2f}%  {100 * res['teacher_forced']:>13.2f}%")
    lines.append(f"predictions equal on {100 * res['predictions']:.2f} % of {res['inputs']} inputs (T = {res['T']})")
    return lines


def load_inputs(path=None, dataset=None, limit=0, ig=None):
    """u8 inputs from an .npy file or the Fashion-MNIST test set (first `limit`, 0 = all). With
    the integer graph `ig`, a batch that does not fit its Input is a ValueError saying what does
    (an events model's frames are not compared: its float graph runs on images)."""
    if dataset:
        from . import data
        x = data.load("test")[0]
    else:
        try:
            x = np.load(path)
        except (OSError, ValueError) as e:  # numpy's messages do not name the file
            raise ValueError(f"{path}: not a .npy array ({e})") from None
    if ig is not None:
        inp = ig.nodes[0]
        if inp.get("attrs", {}).get("encoding", "image") == "events":
            raise ValueError(f"{ig.meta.get('name', 'the model')}: an events model; spike-agreement compares "
                             "image models (Input encoding 'image')")
        want = [int(v) for v in inp["shape"]]
        if x.dtype != np.uint8 or x.ndim != 4 or list(x.shape[1:]) != want:
            raise ValueError(f"{path or dataset}: {x.dtype} {list(x.shape)}; the model takes uint8 images "
                             f"[N, {', '.join(map(str, want))}]")
    return x[:limit] if limit else x
