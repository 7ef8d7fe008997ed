// The event-driven neuro-core's entry in the core-model table (arch/core/list.hpp).
#include "arch/core/core_registry.hpp"
#include "arch/core/neuro_core.hpp"

namespace spikechip::arch {

extern const CoreModelInfo kCoreEvent{
    "event", "event-driven addition-only neuro-core: work follows the spikes (arch/core/neuro_core.hpp)",
    make_core<NeuroCore>};

}  // namespace spikechip::arch
