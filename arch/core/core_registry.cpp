// The table of core models (arch/core/core_registry.hpp), built from arch/core/list.hpp.
#include "arch/core/core_registry.hpp"

#include "base/error.hpp"
#include "base/registry.hpp"

namespace spikechip::arch {

#define SPIKECHIP_CORE_MODEL(k) extern const CoreModelInfo k;
#include "arch/core/list.hpp"
#undef SPIKECHIP_CORE_MODEL

namespace {
std::vector<const CoreModelInfo*>& table() {
#define SPIKECHIP_CORE_MODEL(k) &k,
  static std::vector<const CoreModelInfo*> t = {
#include "arch/core/list.hpp"
  };
#undef SPIKECHIP_CORE_MODEL
  return t;
}
}  // namespace

const std::vector<const CoreModelInfo*>& core_models() { return table(); }

const CoreModelInfo* find_core_model(const std::string& name) { return find_by_name(core_models(), name); }

std::vector<std::string> core_model_names() { return names_of(core_models()); }

std::unique_ptr<CoreModel> make_core_model(int id, const CoreConfig& c) {
  const CoreModelInfo* m = find_core_model(c.type);
  if (!m) throw Error("/core/type: unknown core model '" + c.type + "' (known: " + join_names(core_model_names()) + ")");
  return m->make(id, c);
}

void register_core_model(const CoreModelInfo& model) {
  if (find_core_model(model.name)) throw Error(std::string("core model '") + model.name + "' is already registered");
  table().push_back(&model);
}

}  // namespace spikechip::arch
