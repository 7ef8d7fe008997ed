#pragma once
// The core models by name (`core.type` in the chip config): one table drives the config
// validation (an unknown name is an error naming /core/type and listing these), the CLI's
// `config describe` and the docs. Adding a model = its own files + one row in core_registry.cpp.
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

const std::vector<CoreModelInfo>& core_models();   // the default ("event") first
const CoreModelInfo* find_core_model(const std::string& name);  // nullptr when unknown
std::vector<const char*> core_model_names();
// The model `c.type` names, for core `id`. Throws spikechip::Error naming /core/type.
std::unique_ptr<CoreModel> make_core_model(int id, const CoreConfig& c);

}  // namespace spikechip::arch
