#pragma once
// The summary of a model that `spikechip model info --json` prints and Python's Model.info()
// returns: name, timesteps, classes, input, per-node op / shape / params / dense ops / bytes, totals.
#include <string>

#include <nlohmann/json.hpp>

#include "models/graph.hpp"

namespace spikechip::model {

nlohmann::ordered_json model_info_json(const Graph& g, const std::string& dir);

}  // namespace spikechip::model
