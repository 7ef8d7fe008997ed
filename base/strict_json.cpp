#include "base/strict_json.hpp"

#include <fstream>
#include <sstream>

namespace spikechip {

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open " + what + " file (check the path)");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path + ": not valid JSON (" + what + "): " + e.what());
  }
}

}  // namespace spikechip
