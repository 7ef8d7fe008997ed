// The registered core models (arch/core/core_registry.hpp): one line each, the name of the
// CoreModelInfo constant its file in this folder defines. The first is the default (`core.type`
// absent); order = order in the docs and in error messages.
SPIKECHIP_CORE_MODEL(kCoreEvent)
SPIKECHIP_CORE_MODEL(kCoreDense)
