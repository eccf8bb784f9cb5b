// The unit tests' way to read a sans-I/O engine's outputs: drain(engine) takes every output
// poll() has, in order; only<T>(outputs) keeps those of one kind.
#pragma once

#include <utility>
#include <variant>
#include <vector>

namespace wt::test {

template <class Engine>
auto drain(Engine& engine) {
  std::vector<typename decltype(engine.poll())::value_type> out;
  while (auto o = engine.poll()) out.push_back(std::move(*o));
  return out;
}

template <class T, class Output>
std::vector<T> only(const std::vector<Output>& all) {
  std::vector<T> out;
  for (const auto& o : all)
    if (const auto* v = std::get_if<T>(&o)) out.push_back(*v);
  return out;
}

}  // namespace wt::test
