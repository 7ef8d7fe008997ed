// The `_spikechip` extension module: the C++ library (model loading, chip configs, mapper, golden
// executor, cycle-accurate chip on its internal event loop, run reports) for the pure-Python
// package python/spikechip, which holds the documented, typed API.
#include "python/src/common.hpp"
#include "spikechip/version.hpp"

PYBIND11_MODULE(_spikechip, m) {
  m.doc() = "spikechip's C++ core (use the `spikechip` package, not this module directly)";
  m.attr("__version__") = spikechip::kVersion;
  spikechip::python::register_errors(m);
  spikechip::python::bind_objects(m);
  spikechip::python::bind_runs(m);
}

