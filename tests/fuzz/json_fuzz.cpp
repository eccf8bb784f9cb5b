// Fuzzes the bounded JSON reader (base/json.hpp). Properties: no crash; a document read is
// written back by json::writer as text that reads to the same document and that
// nlohmann::json (an independent reader) accepts.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/json.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void write(wt::json::writer& w, const wt::json::value& v) {
  using kind = wt::json::value::kind;
  switch (v.type) {
    // The writer has no null nor booleans (the tracker sends none): numbers stand in.
    case kind::null: w.number(std::int64_t{0}); break;
    case kind::boolean: w.number(std::int64_t{v.boolean}); break;
    case kind::number: w.number(v.integer.value_or(0)); break;
    case kind::string: w.string(v.string); break;
    case kind::array:
      w.begin_array();
      for (const auto& item : v.items) write(w, item);
      w.end_array();
      break;
    case kind::object:
      w.begin_object();
      for (std::size_t i = 0; i < v.items.size(); ++i) write(w.key(v.keys[i]), v.items[i]);
      w.end_object();
      break;
  }
}

// Same shape and strings (what write() keeps).
bool same(const wt::json::value& a, const wt::json::value& b) {
  if (a.type == wt::json::value::kind::string) return b.type == a.type && a.string == b.string;
  if (a.type != wt::json::value::kind::array && a.type != wt::json::value::kind::object) return true;
  if (a.type != b.type || a.items.size() != b.items.size() || a.keys != b.keys) return false;
  for (std::size_t i = 0; i < a.items.size(); ++i)
    if (!same(a.items[i], b.items[i])) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = wt::json::parse(text, 16);
  if (!r.doc) return 0;
  wt::json::writer w;
  write(w, *r.doc);
  const std::string out = w.take();
  const auto again = wt::json::parse(out, 16);
  check(again.doc.has_value() && same(*r.doc, *again.doc));
  check(!nlohmann::json::parse(out, nullptr, false).is_discarded());
  return 0;
}
