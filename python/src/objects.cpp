// _Model, _Chip and _Mapping (the loaded model, chip config and mapping) and map_model: thin
// handles over the library's readers, validated exactly as the CLI validates files.
#include <filesystem>

#include <fmt/format.h>

#include "arch/energy.hpp"
#include "models/graph_io.hpp"
#include "models/input_arrays.hpp"
#include "models/model_info.hpp"
#include "python/src/common.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::python {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json parse_json(const std::string& text, Kind kind, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw KindError(kind, what + ": not valid JSON (" + e.what() + ")");
  }
}

// A chip preset's name (tiny, meta15m, ...) or a file path.
std::string resolve_chip(const std::string& p) {
  std::error_code ec;
  if (fs::exists(p, ec) || p.find('/') != std::string::npos || fs::path(p).has_extension()) return p;
  const fs::path preset = fs::path(SPIKECHIP_SOURCE_DIR) / "arch" / "presets" / (p + ".json");
  if (fs::is_regular_file(preset, ec)) return preset.string();
  std::string names;
  for (const auto& e : fs::directory_iterator(fs::path(SPIKECHIP_SOURCE_DIR) / "arch" / "presets", ec))
    if (e.path().extension() == ".json") names += (names.empty() ? "" : ", ") + e.path().stem().string();
  throw KindError(Kind::ChipConfig, p + ": no such chip config file, and not a preset name (presets: " + names + ")");
}

// Sets a dotted key ("core.adder_lanes") of a chip config JSON; the strict reader then rejects
// unknown keys and bad values with the JSON path, as for a file.
void set_dotted(json& j, const std::string& key, const json& value) {
  json* at = &j;
  size_t from = 0;
  for (;;) {
    const size_t dot = key.find('.', from);
    const std::string part = key.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    if (part.empty()) throw KindError(Kind::Usage, "chip key '" + key + "': empty part (write e.g. core.adder_lanes)");
    if (dot == std::string::npos) {
      (*at)[part] = value;
      return;
    }
    if (!at->contains(part) || !(*at)[part].is_object()) (*at)[part] = json::object();
    at = &(*at)[part];
    from = dot + 1;
  }
}

PyChip chip_from(const json& j, const std::string& origin) {
  PyChip c;
  c.cfg = guarded(Kind::ChipConfig, [&] {
    arch::ChipConfig cfg = arch::chip_config_from_json(j, origin);
    (void)arch::load_energy_table(arch::resolve_energy_table(cfg));  // a bad table fails now, as in the CLI
    return cfg;
  });
  c.path = origin;
  return c;
}

}  // namespace

std::shared_ptr<const model::Graph> graph_at(const PyModel& m, int T) {
  if (T > model::kMaxRunTimesteps)
    throw KindError(Kind::Usage, fmt::format("T {} is out of range 1..{}", T, model::kMaxRunTimesteps));
  if (T <= 0 || T == m.graph->timesteps) return m.graph;
  auto g = std::make_shared<model::Graph>(*m.graph);
  g->timesteps = T;
  return g;
}

Inputs make_inputs(const model::Graph& g, const py::object& src, const py::object& labels) {
  Inputs in;
  if (g.nodes.empty() || g.input().op != model::Op::Input) throw KindError(Kind::Model, "the model has no Input node");
  if (py::isinstance<py::str>(src) || py::isinstance<py::bytes>(src) || py::hasattr(src, "__fspath__")) {
    // The path's bytes (os.fsencode): a name that is not UTF-8 is a path all the same.
    in.what = py::module_::import("os").attr("fsencode")(src).cast<std::string>();
    in.items = guarded(Kind::Input, [&] { return model::read_inputs(in.what, g); });
    if (in.items.empty()) throw KindError(Kind::Input, in.what + ": no input found");
    for (const auto& it : in.items) {
      in.views.push_back(model::InputView{it.data.data(), it.frames, it.shape});
      in.origins.push_back(it.origin), in.labels.push_back(it.label);
    }
  } else {
    py::array a = py::array::ensure(src);
    if (!a) throw KindError(Kind::Input, "inputs: expected a path or a NumPy uint8 array, got " +
                                             py::str(py::type::of(src).attr("__name__")).cast<std::string>());
    if (a.dtype().kind() == 'f' && (a.dtype().itemsize() == 4 || a.dtype().itemsize() == 8)) {
      // Normalised float images: to u8 pixels exactly as the CLI reads a float .npy (model/input_arrays.hpp).
      NpyArray f;
      f.descr = a.dtype().itemsize() == 4 ? "<f4" : "<f8";
      py::array fc = a.dtype().itemsize() == 4 ? py::array(py::array_t<float, py::array::c_style | py::array::forcecast>(a))
                                                : py::array(py::array_t<double, py::array::c_style | py::array::forcecast>(a));
      f.shape.assign(fc.shape(), fc.shape() + fc.ndim());
      const auto* p = static_cast<const uint8_t*>(fc.data());
      f.bytes.assign(p, p + fc.nbytes());
      const NpyArray u8 = guarded(Kind::Input, [&] { return model::array_as_u8(f, g, "inputs"); });
      a = py::array_t<uint8_t>(std::vector<py::ssize_t>(u8.shape.begin(), u8.shape.end()), u8.bytes.data());
    }
    if (a.dtype().kind() != 'u' || a.dtype().itemsize() != 1)
      throw KindError(Kind::Input, "inputs: input array must be uint8 (|u1), got dtype '" +
                                       a.dtype().attr("str").cast<std::string>() + "'");
    // Viewed in place when C-contiguous (the usual case); otherwise one contiguous copy.
    py::array_t<uint8_t, py::array::c_style | py::array::forcecast> c(a);
    std::vector<int64_t> shape(c.shape(), c.shape() + c.ndim());
    std::string dims = "[";
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    in.what = "<uint8 array " + dims + "]>";
    const model::ArrayLayout l = guarded(Kind::Input, [&] { return model::input_array_layout(shape, g, "inputs"); });
    if (l.items < 1) throw KindError(Kind::Input, "inputs: the batch is empty");
    const model::Shape s = g.input().shape;
    const size_t per = size_t(l.frames) * size_t(s.size());
    for (int64_t b = 0; b < l.items; ++b) {
      in.views.push_back(model::InputView{c.data() + size_t(b) * per, l.frames, s});
      in.origins.push_back(l.batch ? "inputs[" + std::to_string(b) + "]" : "inputs");
      in.labels.push_back(-1);
    }
    in.keep = c;
  }
  if (!labels.is_none()) {
    std::vector<int> lab;
    for (const py::handle h : labels) {  // one class index each, as a labels file gives them
      const std::string at = "labels[" + std::to_string(lab.size()) + "]";
      long long v = -1;
      try {
        v = h.cast<long long>();
      } catch (const py::cast_error&) {
        throw KindError(Kind::Usage, at + ": must be an integer class index, got " + py::repr(h).cast<std::string>());
      }
      if (v < 0 || v > model::kMaxLabel)
        throw KindError(Kind::Usage, at + ": " + std::to_string(v) + " is not a class index 0.." + std::to_string(model::kMaxLabel));
      lab.push_back(int(v));
    }
    if (lab.size() != in.views.size())
      throw KindError(Kind::Usage, "labels: " + std::to_string(lab.size()) + " labels for " + std::to_string(in.views.size()) + " inputs");
    in.labels = lab;
  }
  return in;
}

void bind_objects(py::module_& m) {
  py::class_<PyModel>(m, "_Model")
      .def_static("load", [](const std::string& dir) {
        return PyModel{std::make_shared<const model::Graph>(guarded(Kind::Model, [&] { return model::load_model(dir); })), dir};
      })
      .def_property_readonly("path", [](const PyModel& p) { return py::bytes(p.path); })  // os.fsdecode in Python
      .def_property_readonly("name", [](const PyModel& p) { return p.graph->name; })
      .def_property_readonly("timesteps", [](const PyModel& p) { return p.graph->timesteps; })
      .def_property_readonly("num_classes", [](const PyModel& p) { return p.graph->num_classes; })
      .def_property_readonly("input_shape", [](const PyModel& p) {
        const auto& s = p.graph->input().shape;
        return py::make_tuple(s.c, s.h, s.w);
      })
      .def_property_readonly("encoding", [](const PyModel& p) { return p.graph->input().encoding; })
      .def("provenance_json", [](const PyModel& p) { return json_text(p.graph->provenance); })
      .def("info_json", [](const PyModel& p) { return json_text(model::model_info_json(*p.graph, p.path)); })
      .def("lif_index", [](const PyModel& p, const std::string& name) {
        for (size_t i = 0; i < p.graph->nodes.size(); ++i)
          if (p.graph->nodes[i].name == name) {
            if (p.graph->nodes[i].op != model::Op::LIF)
              throw KindError(Kind::Usage, "layer '" + name + "' is a " + model::op_name(p.graph->nodes[i].op) +
                                               " node: only LIF layers spike");
            return int(i);
          }
        throw KindError(Kind::Usage, "model '" + p.graph->name + "' has no layer '" + name + "'");
      });

  py::class_<PyChip>(m, "_Chip")
      .def_static("load", [](const std::string& p) {
        const std::string path = resolve_chip(p);
        return PyChip{guarded(Kind::ChipConfig, [&] { return arch::load_chip_config(path); }), path};
      })
      .def_static("from_json", [](const std::string& text, const std::string& origin) {
        PyChip c = chip_from(parse_json(text, Kind::ChipConfig, origin), origin);
        c.path = "";  // not a file
        return c;
      })
      .def("to_json", [](const PyChip& c) { return json_text(arch::chip_config_to_json(c.cfg)); })
      .def("with_value", [](const PyChip& c, const std::string& key, const std::string& value_json) {
        json j = arch::chip_config_to_json(c.cfg);
        set_dotted(j, key, parse_json(value_json, Kind::Usage, key));
        PyChip out = chip_from(j, c.cfg.source_path);
        out.path = c.path;
        return out;
      })
      .def_property_readonly("path", [](const PyChip& c) { return py::bytes(c.path); })
      .def_property_readonly("name", [](const PyChip& c) { return c.cfg.name; })
      .def_property_readonly("energy_table", [](const PyChip& c) { return arch::resolve_energy_table(c.cfg); });

  py::class_<PyMapping>(m, "_Mapping")
      .def_static("load", [](const std::string& path) {
        return PyMapping{std::make_shared<const mapper::Mapping>(guarded(Kind::Mapping, [&] { return mapper::load_mapping(path); })), path};
      })
      .def_static("from_json", [](const std::string& text, const std::string& origin) {
        json j = parse_json(text, Kind::Mapping, origin);
        return PyMapping{std::make_shared<const mapper::Mapping>(guarded(Kind::Mapping, [&] { return mapper::mapping_from_json(j, origin); })), origin};
      })
      .def("to_json", [](const PyMapping& p) { return json_text(mapper::mapping_to_json(*p.m)); })
      .def("save", [](const PyMapping& p, const std::string& path) { guarded(Kind::Error, [&] { mapper::save_mapping(*p.m, path); }); })
      .def("summary_text", [](const PyMapping& p) { return mapper::summary_text(*p.m); })
      .def_property_readonly("origin", [](const PyMapping& p) { return py::bytes(p.origin); });

  m.def(
      "map_model",
      [](const PyModel& pm, const PyChip& pc, const std::string& placement, uint64_t seed, double default_rate,
         const std::map<std::string, double>& rates, const py::object& rates_inputs, int rate_samples, int chips,
         bool time_multiplex, bool unicast, const std::string& split, int T, const std::string& phases) {
        auto g = graph_at(pm, T);
        mapper::MapOptions o;
        o.placement = placement, o.seed = seed, o.default_rate = default_rate, o.chips = chips;
        o.time_multiplex = time_multiplex, o.unicast = unicast, o.split = split, o.phases = phases;
        guarded(Kind::Usage, [&] { mapper::check_phase_partitioner(phases); });
        if (!rates.empty()) {
          // As a rates file: every name must be a LIF node.
          o.rates = guarded(Kind::Usage, [&] {
            for (const auto& [k, v] : rates) {
              bool lif = false;
              for (const auto& n : g->nodes) lif |= n.name == k && n.op == model::Op::LIF;
              if (!lif) throw UsageError("rates: '" + k + "' is not a LIF layer of model '" + g->name + "'");
            }
            return rates;
          });
        }
        if (!rates_inputs.is_none()) {
          Inputs in = make_inputs(*g, rates_inputs, py::none());
          py::gil_scoped_release nogil;
          model::GoldenExecutor ge(*g);
          std::vector<model::RunResult> runs;
          for (size_t i = 0; i < in.views.size() && int(i) < rate_samples; ++i) runs.push_back(ge.run(in.views[i], g->timesteps));
          o.rates = mapper::measured_rates(*g, runs);
        }
        py::gil_scoped_release nogil;
        auto mm = std::make_shared<const mapper::Mapping>(guarded(Kind::Mapping, [&] { return mapper::map_model(*g, pc.cfg, o); }));
        return PyMapping{mm, "mapping"};
      },
      py::arg("model"), py::arg("chip"), py::arg("placement"), py::arg("seed"), py::arg("default_rate"), py::arg("rates"),
      py::arg("rates_inputs"), py::arg("rate_samples"), py::arg("chips"), py::arg("time_multiplex"), py::arg("unicast"),
      py::arg("split"), py::arg("T"), py::arg("phases"));
}

}  // namespace spikechip::python
