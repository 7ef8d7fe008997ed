// The table of core models (arch/core/core_registry.hpp): one row per model.
#include "arch/core/core_registry.hpp"

#include <fmt/format.h>

#include "arch/core/dense_core.hpp"
#include "arch/core/neuro_core.hpp"
#include "base/error.hpp"

namespace spikechip::arch {

namespace {
template <class Model>
std::unique_ptr<CoreModel> make(int id, const CoreConfig& c) {
  return std::make_unique<Model>(id, c);
}
}  // namespace

const std::vector<CoreModelInfo>& core_models() {
  static const std::vector<CoreModelInfo> kModels = {
      {"event", "event-driven addition-only neuro-core: work follows the spikes (arch/core/neuro_core.hpp)",
       make<NeuroCore>},
      {"dense", "dense MAC array: every input position every timestep, mac_lanes MACs per cycle "
                "(arch/core/dense_core.hpp)", make<DenseCore>},
  };
  return kModels;
}

const CoreModelInfo* find_core_model(const std::string& name) {
  for (const CoreModelInfo& m : core_models())
    if (name == m.name) return &m;
  return nullptr;
}

std::vector<const char*> core_model_names() {
  std::vector<const char*> v;
  for (const CoreModelInfo& m : core_models()) v.push_back(m.name);
  return v;
}

std::unique_ptr<CoreModel> make_core_model(int id, const CoreConfig& c) {
  const CoreModelInfo* m = find_core_model(c.type);
  if (!m) throw Error(fmt::format("/core/type: unknown core model '{}' (known: {})", c.type, fmt::join(core_model_names(), ", ")));
  return m->make(id, c);
}

}  // namespace spikechip::arch
