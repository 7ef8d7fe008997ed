// SI-prefixed quantities for terminal output (report/units.hpp).
#include "report/units.hpp"

#include <cmath>

#include <fmt/format.h>

namespace spikechip::report {

std::string format_si(double value, const std::string& unit, int digits) {
  if (!std::isfinite(value)) return fmt::format("{} {}", value, unit);
  if (value == 0) return "0 " + unit;
  static const char* kPrefix[] = {"f", "p", "n", "µ", "m", "", "k", "M", "G", "T"};
  int e3 = int(std::floor(std::log10(std::abs(value)) / 3));
  e3 = std::max(-5, std::min(4, e3));
  const double scaled = value / std::pow(10.0, 3 * e3);
  // Significant digits: 55.38, 5.538, 553.8.
  const int int_digits = std::abs(scaled) >= 100 ? 3 : std::abs(scaled) >= 10 ? 2 : 1;
  const int decimals = std::max(0, digits - int_digits);
  return fmt::format("{:.{}f} {}{}", scaled, decimals, kPrefix[e3 + 5], unit);
}

}  // namespace spikechip::report
