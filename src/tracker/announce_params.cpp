#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "tracker/announce_types.hpp"

namespace wt::tracker {

namespace {
bool digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

bool is_json_literal(std::string_view v) {
  if (v == "true" || v == "false") return true;
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < v.size() && digit(v[i])) ++i;
    return i > from;
  };
  if (i < v.size() && v[i] == '-') ++i;
  if (i < v.size() && v[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < v.size() && v[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == v.size() && v.size() <= 64;
}

std::optional<std::int64_t> integer_value(const announce_param& p) {
  if (!p.literal || !is_json_literal(p.value) || p.value == "true" || p.value == "false") return std::nullopt;
  const double d = std::strtod(p.value.c_str(), nullptr);
  if (!std::isfinite(d) || d != std::floor(d) || d < -9.2e18 || d > 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

announce_params usable_params(const announce_params& params, std::initializer_list<std::string_view> fixed) {
  announce_params out;
  for (const auto& p : params) {
    if (p.key.empty() || std::find(fixed.begin(), fixed.end(), p.key) != fixed.end()) continue;
    auto same = std::find_if(out.begin(), out.end(), [&](const announce_param& o) { return o.key == p.key; });
    announce_param q = p;
    q.literal = p.literal && is_json_literal(p.value);
    if (same != out.end()) *same = std::move(q);
    else out.push_back(std::move(q));
  }
  return out;
}

}  // namespace wt::tracker
