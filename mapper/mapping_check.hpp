#pragma once
// Semantic check of a mapping read from a file (run --mapping) against the model and chip it is to
// run on, before any simulation starts: load_mapping checks the file's form, this checks that it
// computes the model. A mapping that passes runs the model's network exactly; one that does not is
// rejected even with --no-verify (a wrong route would otherwise give wrong spikes silently).
#include <string>

#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/graph.hpp"

namespace spikechip::mapper {

// Checks, naming `origin` and the JSON path of the first problem (spikechip::Error):
//  - /model/nodes and /clusters are the model's (co-location, shapes, per-neuron / per-channel bytes);
//  - every neuron of every cluster is in exactly one group (boxes disjoint and covering), SDSA groups
//    hold whole heads, each group's membrane / weight bytes are what it needs and fit the chip's core;
//  - each route is sent by a group that computes its source node (the host for pixels), and every
//    value reaches exactly the groups that consume it, once (re-derived with build_routes and
//    compared neuron by neuron), never a group of an earlier phase.
void check_mapping(const Mapping& m, const model::Graph& g, const arch::ChipConfig& chip, const std::string& origin);

}  // namespace spikechip::mapper
