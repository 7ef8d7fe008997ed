#pragma once
// Quantities printed for people: a value in a base unit shown with the SI prefix that suits its
// magnitude ("55.38 mJ", "1.237 ms", "3.52 mW"), as the CLI summaries and `spikechip compare`
// print them (report.html scales units the same way in report/assets/report.js).
#include <string>

namespace spikechip::report {

// `value` in the base unit (J, s, W, ...), `digits` significant digits: "55.38 mJ". Zero -> "0 J".
std::string format_si(double value, const std::string& unit, int digits = 4);

}  // namespace spikechip::report
