#pragma once
// The core models by name (`core.type` in the chip config): one table drives the config
// validation (an unknown name is an error naming /core/type and listing these), the CLI's
// `config describe` and the docs. Adding a model = its own files (a CoreModel subclass and the
// CoreModelInfo constant naming it) + one line in arch/core/list.hpp (docs/extending.md).
#include <memory>
#include <string>
#include <vector>

#include "arch/core/core_model.hpp"

namespace spikechip::arch {

struct CoreModelInfo {
  const char* name;
  const char* description;
  std::unique_ptr<CoreModel> (*make)(int id, const CoreConfig& c);
};

// The `make` of a model whose constructor is Model(int id, const CoreConfig&).
template <class Model>
std::unique_ptr<CoreModel> make_core(int id, const CoreConfig& c) {
  return std::make_unique<Model>(id, c);
}

// The registered models: those of arch/core/list.hpp (the default, "event", first), then any added
// by register_core_model.
const std::vector<const CoreModelInfo*>& core_models();
const CoreModelInfo* find_core_model(const std::string& name);  // nullptr when unknown
std::vector<std::string> core_model_names();
// The model `c.type` names, for core `id`. Throws spikechip::Error naming /core/type.
std::unique_ptr<CoreModel> make_core_model(int id, const CoreConfig& c);

// For a program that links spikechip as a library (a SystemC virtual platform, a test): adds a
// model of its own to the table, after the built-in ones, so that chip configs may name it. Call
// before reading chip configs (not thread-safe). Throws spikechip::Error if the name is taken.
void register_core_model(const CoreModelInfo& model);

}  // namespace spikechip::arch
