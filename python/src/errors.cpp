// spikechip.Error and its subclasses, created here so that C++ failures map onto them without a
// round trip through Python code; every message is the CLI's one-line message.
#include "python/src/common.hpp"

#include <cstring>

namespace spikechip::python {

namespace {

PyObject* g_classes[9] = {};  // one per Kind

// Raises `cls` with the CLI's message; a path in it that is not UTF-8 keeps its bytes as \xNN
// (PyErr_SetString would have made the message empty).
void set_error(PyObject* cls, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, Py_ssize_t(std::strlen(what)), "backslashreplace");
  if (!msg) return;  // no memory: that error stands
  PyErr_SetObject(cls, msg);
  Py_DECREF(msg);
}

PyObject* make_class(py::module_& m, const char* name, const char* doc, PyObject* bases) {
  const std::string full = std::string("spikechip.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases, nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::handle(cls));  // the module keeps a reference
  return cls;
}

}  // namespace

void register_errors(py::module_& m) {
  PyObject* base = make_class(m, "Error", "Base of every spikechip error; str(e) is the CLI's one-line message.", nullptr);
  auto bases = [&](PyObject* a, PyObject* b = nullptr) {
    return b ? PyTuple_Pack(2, a, b) : PyTuple_Pack(1, a);
  };
  g_classes[int(Kind::Error)] = base;
  g_classes[int(Kind::Usage)] = make_class(m, "UsageError", "A wrong argument (the CLI's exit code 2).", bases(base, PyExc_ValueError));
  g_classes[int(Kind::Model)] = make_class(m, "ModelError", "A model directory that is missing or invalid.", bases(base));
  g_classes[int(Kind::ChipConfig)] =
      make_class(m, "ChipConfigError", "A chip config (or its energy table) that is missing or invalid.", bases(base));
  g_classes[int(Kind::Input)] =
      make_class(m, "InputError", "Inputs that are missing or do not fit the model (dtype, shape).", bases(base, PyExc_ValueError));
  g_classes[int(Kind::Mapping)] = make_class(
      m, "MappingError", "The model does not fit the chip, or a mapping belongs to another model / chip.", bases(base));
  PyObject* sim = make_class(m, "SimulationError", "The simulation failed (deadlock, watchdog).", bases(base));
  g_classes[int(Kind::Simulation)] = sim;
  g_classes[int(Kind::Verification)] =
      make_class(m, "VerificationError", "The chip's spikes differ from the golden executor's.", bases(sim));
  g_classes[int(Kind::Write)] = make_class(
      m, "WriteError", "An output the disk refused (full, not writable); the CLI's exit code 4.", bases(base, PyExc_OSError));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const KindError& e) {
      set_error(g_classes[int(e.kind)], e.what());
    } catch (const UsageError& e) {
      set_error(g_classes[int(Kind::Usage)], e.what());
    } catch (const WriteError& e) {
      set_error(g_classes[int(Kind::Write)], e.what());
    } catch (const Error& e) {
      set_error(g_classes[int(Kind::Error)], e.what());
    } catch (const nlohmann::json::exception& e) {
      set_error(g_classes[int(Kind::Error)], e.what());
    }
  });
}

}  // namespace spikechip::python
