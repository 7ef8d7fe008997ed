#include "report/csv.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "base/json_text.hpp"

namespace spikechip::report {

std::string csv_quote(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out;
  out.reserve(field.size() + 2);
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string format_number(double v) {
  if (!std::isfinite(v)) return "";
  if (v == 0.0) return "0";  // also folds -0 so a sign bit never changes the bytes
  return fmt::format("{}", v);
}

std::string json_cell(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "";
    case nlohmann::json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::number_integer: return fmt::format("{}", v.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return fmt::format("{}", v.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return format_number(v.get<double>());
    case nlohmann::json::value_t::string: return v.get<std::string>();
    case nlohmann::json::value_t::array: {
      std::string out;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out.push_back(';');
        out += json_cell(v[i]);
      }
      return out;
    }
    default: return json_text(v);  // objects: still one readable, deterministic cell
  }
}

CsvWriter::CsvWriter(std::vector<std::string> header) : width_(header.size()) { append(header); }

CsvWriter& CsvWriter::row(const std::vector<std::string>& cells) {
  if (cells.size() != width_)
    throw std::logic_error(fmt::format("CSV row has {} cells, header has {}", cells.size(), width_));
  append(cells);
  ++rows_;
  return *this;
}

void CsvWriter::append(const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) text_.push_back(',');
    text_ += csv_quote(cells[i]);
  }
  text_.push_back('\n');
}

}  // namespace spikechip::report
