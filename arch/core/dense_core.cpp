// The dense MAC-array core's entry in the core-model table (arch/core/list.hpp).
#include "arch/core/core_registry.hpp"
#include "arch/core/dense_core.hpp"

namespace spikechip::arch {

extern const CoreModelInfo kCoreDense{
    "dense", "dense MAC array: every input position every timestep, mac_lanes MACs per cycle (arch/core/dense_core.hpp)",
    make_core<DenseCore>};

}  // namespace spikechip::arch
