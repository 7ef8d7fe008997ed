"""What a checkpoint records about how its model was trained, and how that combines with the
exporter's flags (docs/models.md "Exporting a checkpoint").

Two records are read:
  'config'  spikechip's trainer (scripts/train_fashion_mnist): img_size_h/w, T, num_heads,
            num_classes, strides (the five downsampling strides, only when not the official
            2,2,2,2,1: the weights cannot tell);
  'args'    the official main_finetune.py's argparse.Namespace (or a dict of the same names):
            input_size (square side), time_steps, nb_classes, model (e.g. metaspikformer_8_512).
Each setting is: the flag if given, else the checkpoint's value ('config' before 'args'), else
the default (224x224, T = 1, 8 heads, the official strides 2,2,2,2,1). A flag that differs from a
recorded value, and two records that differ from each other, give a warning naming both. The class count always comes
from the weights (head.weight); a recorded count or a model name whose widths differ from the
weights give a warning too.
"""
import re

from .model import OFFICIAL_STRIDES

DEFAULTS = {"img_size": (224, 224), "T": 1, "num_heads": 8, "strides": OFFICIAL_STRIDES}
_FLAG = {"img_size": "--input-size", "T": "-T", "num_heads": "--heads", "strides": "--strides"}


def _fmt(key, v):
    if key == "strides":
        return ",".join(map(str, v))
    return f"{v[0]}x{v[1]}" if key == "img_size" else str(v)


def _pos_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _fields(obj):
    if isinstance(obj, dict):
        return obj
    return vars(obj) if hasattr(obj, "__dict__") else {}


def recorded(extras):
    """(values, model_name, problems): values maps a setting to [(value, 'where'), ...]."""
    vals, problems = {}, []

    def put(key, value, where, ok, need="a positive integer"):
        if ok:
            vals.setdefault(key, []).append((value, where))
        else:
            problems.append(f"ignoring the checkpoint's {where} = {value!r} (not {need})")

    cfg = extras.get("config") if isinstance(extras.get("config"), dict) else {}
    if "img_size_h" in cfg or "img_size_w" in cfg:
        h, w = cfg.get("img_size_h"), cfg.get("img_size_w")
        put("img_size", (h, w), "config img_size_h/w", _pos_int(h) and _pos_int(w))
    for key, name in (("T", "T"), ("num_heads", "num_heads"), ("num_classes", "num_classes")):
        if name in cfg:
            put(key, cfg[name], f"config {name}", _pos_int(cfg[name]))
    if "strides" in cfg:
        st = cfg["strides"]
        ok = isinstance(st, (list, tuple)) and len(st) == 5 and all(_pos_int(v) for v in st)
        put("strides", tuple(st) if ok else st, "config strides", ok, "five positive integers")
    args = _fields(extras.get("args"))
    if "input_size" in args:
        s = args["input_size"]
        put("img_size", (s, s), "args.input_size", _pos_int(s))
    if "time_steps" in args:
        put("T", args["time_steps"], "args.time_steps", _pos_int(args["time_steps"]))
    if "nb_classes" in args:
        put("num_classes", args["nb_classes"], "args.nb_classes", _pos_int(args["nb_classes"]))
    model = args.get("model")
    return vals, (model if isinstance(model, str) and model else None), problems


def resolve(extras, cfg, flags):
    """Settings for the export: ({'img_size', 'T', 'num_heads', 'strides'} -> value, {same ->
    source}, model_name or None, [warnings]). cfg: the layout inferred from the weights
    (infer_config); flags: {'img_size', 'T', 'num_heads', 'strides'} -> value or None."""
    vals, model_name, warns = recorded(extras)
    out, src = {}, {}
    for key, default in DEFAULTS.items():
        rec = vals.get(key, [])
        if len({v for v, _ in rec}) > 1:
            warns.append("the checkpoint disagrees with itself: " + ", ".join(
                f"{w} = {_fmt(key, v)}" for v, w in rec) + f"; using {rec[0][1]}")
        flag = flags.get(key)
        if flag is not None:
            flag = tuple(flag) if key == "img_size" else flag
            for v, where in rec:
                if v != flag:
                    warns.append(f"{_FLAG[key]} {_fmt(key, flag)} overrides the checkpoint's "
                                 f"{where} = {_fmt(key, v)}")
            out[key], src[key] = flag, _FLAG[key]
        elif rec:
            out[key], src[key] = rec[0]
        else:
            out[key], src[key] = default, "default"
    for v, where in vals.get("num_classes", []):
        if v != cfg["num_classes"]:
            warns.append(f"the checkpoint's {where} = {v} but its head has {cfg['num_classes']} "
                         f"outputs; the model gets {cfg['num_classes']} classes (the weights)")
    if model_name:
        from .model import VARIANTS
        m = re.search(r"(\d+_\d+|\d+M)$", model_name)
        dims = VARIANTS.get(m.group(1)) if m else None
        if dims is not None and dims != cfg["embed_dim"]:
            warns.append(f"the checkpoint's args.model = {model_name!r} has widths {dims} but its "
                         f"weights have {cfg['embed_dim']}; exporting what the weights hold")
    return out, src, model_name, warns
