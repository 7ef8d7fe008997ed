#pragma once
// Spreadsheet output: RFC 4180 quoting and number formatting that is byte-identical on every run
// (doubles use the shortest representation that round-trips, so no locale or precision drift).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spikechip::report {

// Quotes a field only when it must be (comma, quote, CR or LF); inner quotes are doubled.
std::string csv_quote(std::string_view field);

// Shortest round-trip text of a double ("0.1", "1e-07", "3"); non-finite values become "" (an
// empty cell) because spreadsheets have no portable spelling for NaN/Inf.
std::string format_number(double v);

// A JSON scalar as one CSV cell: numbers via format_number (integers exactly), booleans as
// true/false, null as empty, strings as-is, arrays of scalars joined with ';'.
std::string json_cell(const nlohmann::json& v);

class CsvWriter {
 public:
  explicit CsvWriter(std::vector<std::string> header);
  CsvWriter& row(const std::vector<std::string>& cells);  // throws std::logic_error on width mismatch
  const std::string& text() const { return text_; }
  std::size_t rows() const { return rows_; }

 private:
  void append(const std::vector<std::string>& cells);
  std::size_t width_;
  std::size_t rows_ = 0;
  std::string text_;
};

}  // namespace spikechip::report
