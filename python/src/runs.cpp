// infer (golden executor) and run (`spikechip run`'s pipeline, pipeline/run_pipeline.hpp, on the
// chip's event-loop engine: golden, rates, map, simulate, verify, report), energy re-pricing of a finished
// run, and per-layer spikes as NumPy arrays. The GIL is released while C++ works; Ctrl-C (and
// an exception from the progress callback) stops a simulation through the chip's stop flag.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "arch/chip.hpp"
#include "base/file_util.hpp"
#include "arch/energy.hpp"
#include "explore/sweep.hpp"
#include "mapper/mapping_check.hpp"
#include "python/src/common.hpp"
#include "report/report_writer.hpp"
#include "arch/batch_run.hpp"
#include "pipeline/run_pipeline.hpp"
#include "report/golden_report.hpp"
#include "report/run_report.hpp"

namespace spikechip::python {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

// A finished run: what the report was built from, kept for spikes and energy re-pricing.
struct RunHandle {
  std::shared_ptr<const model::Graph> g;
  arch::ChipConfig chip;
  std::shared_ptr<const mapper::Mapping> m;
  arch::ChipBatchRun run;  // per-input results (without the last chip, which referred to the pipeline's mapping)
  std::string report;     // spikechip.run-report/1 as JSON text
};

// Called (with the GIL released) between inputs and every ~0.1 s of simulation. It takes the GIL,
// runs Python's signal handlers (Ctrl-C) and the user's progress callback; an exception from
// either stops the work and is raised once the GIL is back.
class Watcher {
 public:
  Watcher(py::object progress, size_t inputs) : progress_(std::move(progress)), inputs_(inputs) {}
  std::atomic<bool> stop{false};

  void check(const char* phase, size_t input, double fraction, uint64_t cycle, int timestep, bool force) {
    if (stop.load()) return;
    if (!force && secs(last_) < 0.1) return;
    last_ = Clock::now();
    py::gil_scoped_acquire gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!progress_.is_none() && (force || secs(last_progress_) >= 0.5)) {
        last_progress_ = Clock::now();
        py::dict d;
        d["phase"] = phase, d["input"] = input, d["inputs"] = inputs_, d["fraction"] = fraction;
        d["cycle"] = cycle, d["timestep"] = timestep, d["elapsed_s"] = secs(start_);
        progress_(d);
      }
    } catch (py::error_already_set& e) {
      error_ = std::move(e);
      stop.store(true);
    }
  }
  // Raises the stored Python exception, if any (needs the GIL).
  void rethrow() {
    if (error_) {
      py::error_already_set e = std::move(*error_);
      error_.reset();
      throw e;
    }
  }

 private:
  py::object progress_;
  size_t inputs_;
  Clock::time_point start_ = Clock::now(), last_ = Clock::now(), last_progress_{};
  std::optional<py::error_already_set> error_;
};

std::string shell_word(const std::string& s) {
  return s.find_first_of(" \t'\"") == std::string::npos ? s : "'" + s + "'";
}

std::shared_ptr<RunHandle> run(const PyModel& pm, const PyChip& pc, const py::object& src, const py::object& labels,
                               const std::optional<PyMapping>& mapping, int T, bool verify, bool record_spikes,
                               const py::object& progress, bool time_multiplex, int chips, int threads,
                               double time_limit) {
  const auto t_start = Clock::now();
  auto h = std::make_shared<RunHandle>();
  h->g = graph_at(pm, T);
  const model::Graph& g = *h->g;
  T = g.timesteps;
  if (T > model::kMaxRunTimesteps)  // the model's own T (as `spikechip run`)
    throw KindError(Kind::Usage, fmt::format("{}: the model's timesteps {} are more than a chip run takes (1..{}); pass T",
                                             pm.path, T, model::kMaxRunTimesteps));
  h->chip = pc.cfg;
  if (mapping && chips != 0)
    throw KindError(Kind::Usage, "chips applies when run maps the model itself; with a mapping the mapping decides: drop one of the two");
  if (mapping && time_multiplex)
    throw KindError(Kind::Usage, "time_multiplex applies when run maps the model itself; with a mapping the mapping decides: drop one of the two");
  if (threads < 1 || threads > 64) throw KindError(Kind::Usage, "threads " + std::to_string(threads) + " is out of range 1..64");
  if (!(time_limit >= 0) || !std::isfinite(time_limit))
    throw KindError(Kind::Usage, fmt::format("time_limit {} must be a number of seconds >= 0 (0 or None: no limit)", time_limit));
  Inputs in = make_inputs(g, src, labels);
  if (mapping) {
    const mapper::Mapping& m = *mapping->m;
    const std::string& o = mapping->origin;
    if (const std::string why = mapper::mapping_model_mismatch(m, g); !why.empty()) throw KindError(Kind::Mapping, o + ": " + why);
    arch::ChipConfig as_mapped = pc.cfg;
    if (m.options.contains("chips_x") && m.options.contains("chips_y"))
      as_mapped.chips.chips_x = m.options["chips_x"].get<int>(), as_mapped.chips.chips_y = m.options["chips_y"].get<int>();
    if (m.chip_hash != mapper::chip_hash(as_mapped))
      throw KindError(Kind::Mapping, o + ": the mapping was made for chip '" + m.chip_name + "' (another configuration than " + pc.path +
                                         "); re-run 'spikechip map --chip " + pc.path + "'");
    guarded(Kind::Mapping, [&] { mapper::check_mapping(m, g, as_mapped, o); });  // as run --mapping
    h->m = mapping->m;
  }
  std::string command = "spikechip run --model " + shell_word(pm.path) + " --chip " + shell_word(pc.path) + " --input " +
                        shell_word(in.what) + (mapping ? " --mapping " + shell_word(mapping->origin) : "") +
                        (time_multiplex ? " --time-multiplex" : "") +
                        (chips == 0 ? "" : chips < 0 ? " --chips auto" : " --chips " + std::to_string(chips));
  Watcher w(progress, in.views.size());
  // The pipeline of `spikechip run` (pipeline/run_pipeline.hpp) on the event-loop engine, so that
  // several runs may go on in one process; the Watcher's flag is its stop (Ctrl-C, a raising
  // progress callback).
  pipeline::Options po;
  po.T = T, po.engine = pipeline::Engine::EventLoop, po.verify = verify, po.golden_threads = threads;
  po.mapping = h->m.get();
  po.map.time_multiplex = time_multiplex, po.map.chips = chips;
  po.chip.record_spikes = record_spikes;
  po.stop = &w.stop;
  po.time_limit_s = time_limit;
  po.model_path = pm.path, po.chip_path = pc.path, po.command = command;
  po.started = t_start;
  const size_t n = in.views.size();
  bool mapped = false;
  po.golden_progress = [&](size_t done, size_t total) { w.check("golden", done, double(done) / double(total), 0, T, true); };
  po.on_mapped = [&](const mapper::Mapping&) { mapped = true; };
  po.cycle_progress = [&](const arch::ChipBatchRun& r, const arch::Chip& c, uint64_t cycle) {
    w.check("simulate", r.results.size(), (double(r.results.size()) + c.progress()) / double(n), cycle, c.timestep(), false);
  };
  po.input_progress = [&](const arch::ChipBatchRun& r) {
    w.check("simulate", r.results.size(), double(r.results.size()) / double(n), r.last ? r.last->now() : 0, T, true);
  };
  std::unique_ptr<pipeline::Result> res;  // built in place: its last chip refers to its mapping
  {
    py::gil_scoped_release nogil;
    try {
      res.reset(new pipeline::Result(pipeline::run(g, pc.cfg, pipeline::Inputs{in.views, in.origins, in.labels}, po)));
    } catch (const model::RunCancelled&) {
      // Stopped during the golden runs: the Watcher holds the reason (raised below).
    } catch (const KindError&) {
      throw;
    } catch (const UsageError& e) {
      throw KindError(Kind::Usage, e.what());
    } catch (const Error& e) {
      throw KindError(mapped ? Kind::Simulation : Kind::Mapping, e.what());
    }
  }
  w.rethrow();  // Ctrl-C (KeyboardInterrupt) or the progress callback's exception
  if (!res) throw KindError(Kind::Simulation, "run cancelled");
  if (!res->mismatch.empty()) throw KindError(Kind::Verification, "chip does not match the golden executor on " + res->mismatch);
  h->report = json_text(res->report);
  res->run.last.reset();  // the last input's chip refers to res->mapping; the handle keeps results only
  h->run = std::move(res->run);
  if (!h->m) h->m = std::make_shared<const mapper::Mapping>(std::move(res->mapping));
  if (!record_spikes)
    for (auto& r : h->run.results) r.spikes.clear();  // kept only on request
  return h;
}

// The run's energy under another table (and chip config): totals as `spikechip energy` computes
// them from the report's events, plus per layer and per input from the run's own counts.
json reprice(const RunHandle& h, const std::string& table_path, const std::optional<std::string>& chip_json) {
  arch::ChipConfig chip = h.chip;
  if (chip_json) chip = arch::chip_config_from_json(json::parse(*chip_json), "chip");
  const arch::EnergyTable t = arch::load_energy_table(table_path);
  const auto& rs = h.run.results;
  const double n_in = std::max<double>(1, double(rs.size()));
  const size_t nn = h.g->nodes.size();
  std::vector<arch::EventCounts> node_ev(nn);
  json inputs = json::array();
  for (const auto& r : rs) {
    for (size_t k = 0; k < nn && k < r.node_events.size(); ++k) node_ev[k] += r.node_events[k];
    inputs.push_back(arch::apply_energy(r.events, t, chip).total_pj);
  }
  json layers = json::array();
  for (size_t k = 0; k < nn; ++k) layers.push_back(arch::apply_energy(node_ev[k], t, chip).total_pj / n_in);
  json out = explore::reapply_energy(json::parse(h.report), "report", table_path, arch::chip_config_to_json(chip));
  out["layers_energy_pJ"] = layers;
  out["inputs_energy_pJ"] = inputs;
  return out;
}

py::array spikes_of(const std::shared_ptr<RunHandle>& h, size_t node, size_t input, const py::object& self) {
  const auto& rs = h->run.results;
  if (input >= rs.size())
    throw KindError(Kind::Usage, "input " + std::to_string(input) + " is out of range (the run has " + std::to_string(rs.size()) + " inputs)");
  const auto& r = rs[input];
  if (node >= r.spikes.size() || r.spikes[node].empty())
    throw KindError(Kind::Usage, "spikes were not recorded: run with spikes=True");
  const auto& s = h->g->nodes[node].shape;
  const std::vector<py::ssize_t> shape{r.T, s.c, s.h, s.w};
  return py::array(py::dtype::of<uint8_t>(), shape, r.spikes[node].data(), self);  // a view; `self` keeps it alive
}

}  // namespace

void bind_runs(py::module_& m) {
  py::class_<RunHandle, std::shared_ptr<RunHandle>>(m, "_Run")
      .def_readonly("report_json", &RunHandle::report)
      .def("spikes", [](py::object self, size_t node, size_t input) {
        return spikes_of(self.cast<std::shared_ptr<RunHandle>>(), node, input, self);
      })
      .def("reprice", [](const RunHandle& h, const std::string& table, const std::optional<std::string>& chip) {
        return json_text(guarded(Kind::ChipConfig, [&] { return reprice(h, table, chip); }));
      });

  m.def("run", &run, py::arg("model"), py::arg("chip"), py::arg("inputs"), py::arg("labels"), py::arg("mapping"),
        py::arg("T"), py::arg("verify"), py::arg("spikes"), py::arg("progress"), py::arg("time_multiplex"),
        py::arg("chips"), py::arg("threads"), py::arg("time_limit"));

  m.def(
      "read_run_report",  // Report.load: the CLI's reader (run directory, other report kinds refused)
      [](std::string path) {  // the reader may name the report.json of a run directory in it
        return json_text(guarded(Kind::Error, [&] { return report::read_run_report(path); }));
      },
      py::arg("path"));

  m.def(
      "write_run_outputs",
      [](const std::string& report, const std::string& out_dir) {
        guarded(Kind::Error, [&] { report::write_run_outputs(json::parse(report), out_dir); });
      },
      py::arg("report"), py::arg("out_dir"));

  m.def(
      "write_file_atomic",  // the package's own output files: whole or not at all, as the CLI's
      [](const std::string& path, const std::string& text) {
        guarded(Kind::Error, [&] { write_file_atomic(path, text); });
      },
      py::arg("path"), py::arg("text"));
  m.attr("WRITE_ERROR_EXIT") = kWriteErrorExit;  // the CLI's exit status for an output the disk refused

  m.def(
      "reapply_energy",
      [](const std::string& report, const std::string& origin, const std::string& table, const std::optional<std::string>& chip) {
        return json_text(guarded(Kind::ChipConfig, [&] {
          std::optional<json> cj;
          if (chip) cj = json::parse(*chip);
          return explore::reapply_energy(json::parse(report), origin, table, cj);
        }));
      },
      py::arg("report"), py::arg("origin"), py::arg("table"), py::arg("chip"));

  m.def(
      "infer",
      [](const PyModel& pm, const py::object& src, const py::object& labels, int T, bool spikes, int threads,
         const py::object& progress) {
        auto g = graph_at(pm, T);
        if (threads < 1 || threads > 64) throw KindError(Kind::Usage, "threads " + std::to_string(threads) + " is out of range 1..64");
        Inputs in = make_inputs(*g, src, labels);
        const size_t B = in.views.size();
        Watcher w(progress, B);
        std::vector<model::RunResult> runs;
        {
          py::gil_scoped_release nogil;
          model::GoldenExecutor ge(*g);
          model::RunOptions ro;
          ro.threads = threads, ro.record_spikes = spikes;
          for (size_t i = 0; i < B && !w.stop.load(); ++i) {
            runs.push_back(ge.run(in.views[i], g->timesteps, ro));
            w.check("golden", i + 1, double(i + 1) / double(B), 0, g->timesteps, true);
          }
        }
        w.rethrow();
        std::vector<report::ReportOptions> ro;
        for (size_t i = 0; i < B; ++i) ro.push_back({in.origins[i], in.labels[i]});
        py::dict out;
        py::array_t<int64_t> pred(static_cast<py::ssize_t>(B));
        const size_t K = runs.empty() ? 0 : runs[0].output_acc.size();
        py::array_t<int64_t> acc({py::ssize_t(B), py::ssize_t(K)});
        for (size_t i = 0; i < B; ++i) {
          pred.mutable_at(i) = runs[i].prediction;
          for (size_t k = 0; k < K; ++k) acc.mutable_at(i, k) = runs[i].output_acc[k];
        }
        out["predictions"] = pred;
        out["output_acc"] = acc;
        out["report_json"] = json_text(report::make_golden_report(*g, runs, ro));
        if (spikes) {
          py::dict sp;
          for (size_t k = 0; k < g->nodes.size(); ++k) {
            const auto& n = g->nodes[k];
            if (n.op != model::Op::LIF) continue;
            const size_t per = size_t(g->timesteps) * size_t(n.shape.size());
            py::array_t<uint8_t> a({py::ssize_t(B), py::ssize_t(g->timesteps), py::ssize_t(n.shape.c), py::ssize_t(n.shape.h),
                                    py::ssize_t(n.shape.w)});
            for (size_t i = 0; i < B; ++i) std::memcpy(a.mutable_data() + i * per, runs[i].spikes[k].data(), per);
            sp[py::str(n.name)] = a;
          }
          out["spikes"] = sp;
        }
        return out;
      },
      py::arg("model"), py::arg("inputs"), py::arg("labels"), py::arg("T"), py::arg("spikes"), py::arg("threads"),
      py::arg("progress"));
}

}  // namespace spikechip::python
