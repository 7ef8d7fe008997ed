#pragma once
// The one way JSON text is made (files, standard output, keys and hashes): nlohmann's dump()
// throws on a string that is not UTF-8, and a path may hold any bytes but '/' and NUL (an output
// directory named in Latin-1 made `sweep -o`, `infer -o`, `compare -o` and `model info --json`
// end in "internal error"). Such bytes are written as U+FFFD instead. tests/check_layers.py
// refuses a .dump( anywhere else.
#include <string>

#include <nlohmann/json.hpp>

namespace spikechip {

template <class Json>
std::string json_text(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace spikechip
