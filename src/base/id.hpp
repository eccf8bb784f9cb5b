// Strong ids: one type per meaning, so that a torrent id cannot go where a piece index
// does. `Tag` only names the type; the value is a plain integer, compared and ordered.
#pragma once

#include <compare>
#include <cstdint>

namespace wt {

template <class Tag, class Rep = std::uint32_t>
struct strong_id {
  Rep value = 0;
  friend auto operator<=>(strong_id, strong_id) = default;
};

}  // namespace wt
