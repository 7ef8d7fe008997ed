#pragma once
// Shared by the binding files of the `_spikechip` extension (python/src): the exception classes
// and the guard that turns the library's spikechip::Error into them, the wrapped C++ objects, and
// the NumPy input views. The public, typed API is the pure-Python package python/spikechip.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"
#include "models/inputs.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"

namespace spikechip::python {

namespace py = pybind11;

// Which spikechip.Error subclass a failure becomes (python/spikechip/errors.py documents them).
enum class Kind { Error, Usage, Model, ChipConfig, Input, Mapping, Simulation, Verification, Write };

// A failure of a given kind with the CLI's one-line message.
struct KindError : std::runtime_error {
  Kind kind;
  KindError(Kind k, const std::string& m) : std::runtime_error(m), kind(k) {}
};

// Runs f; a spikechip::Error becomes a KindError of `kind` (UsageError stays a usage error).
template <class F>
auto guarded(Kind kind, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const KindError&) {
    throw;
  } catch (const UsageError& e) {
    throw KindError(Kind::Usage, e.what());
  } catch (const WriteError& e) {
    throw KindError(Kind::Write, e.what());
  } catch (const Error& e) {
    throw KindError(kind, e.what());
  }
}

void register_errors(py::module_& m);

struct PyModel {
  std::shared_ptr<const model::Graph> graph;
  std::string path;  // as given
};

struct PyChip {
  arch::ChipConfig cfg;
  std::string path;  // the file it was read from ("" for a dict)
};

struct PyMapping {
  std::shared_ptr<const mapper::Mapping> m;
  std::string origin;  // file it was read from, or "mapping"
};

// Inputs of a run or an inference: from a file / directory (read_inputs, the CLI's reader) or a
// C-contiguous uint8 NumPy array viewed in place (models/inputs.hpp input_array_layout rules).
struct Inputs {
  std::vector<model::InputItem> items;  // owned data (file inputs); empty for an array
  py::object keep;                      // the array the views point into
  std::vector<model::InputView> views;
  std::vector<std::string> origins;
  std::vector<int> labels;
  std::string what;  // the path, or a description of the array (for the report's command)
};
// Needs the GIL. `labels` (None or a sequence of ints) gives the labels of array inputs.
Inputs make_inputs(const model::Graph& g, const py::object& src, const py::object& labels);

// The graph to run at T timesteps (the model's own when T is 0 or equal).
std::shared_ptr<const model::Graph> graph_at(const PyModel& m, int T);

void bind_objects(py::module_& m);  // _Model, _Chip, _Mapping, map_model
void bind_runs(py::module_& m);     // infer, run, _Run, reapply_energy

}  // namespace spikechip::python
