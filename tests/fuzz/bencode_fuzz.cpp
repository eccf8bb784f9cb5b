// Fuzzes the bencode decoder. The decoder is strict (one encoding per value),
// so anything it accepts must re-encode to exactly the input.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "bencode/bencode.hpp"

namespace bc = wt::bencode;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wt::byte_view input(data, size);

  auto whole = bc::decode(input);
  if (whole.ok()) {
    const wt::byte_buffer again = bc::encode(bc::to_value(whole->root()));
    if (again.size() != size || (size != 0 && std::memcmp(again.data(), data, size) != 0)) {
      std::abort();  // accepted input that is not the canonical encoding
    }
    // Walk every node through the accessors.
    const auto& tokens = whole->tokens();
    for (std::uint32_t i = 0; i < tokens.size(); ++i) {
      const bc::node n(&*whole, i);
      if (n.raw().size() != tokens[i].end - tokens[i].start) std::abort();
      if (n.is_dict()) {
        for (const auto& [key, item] : n.entries()) {
          auto found = n.find(key);
          if (!found || found->index() != item.index()) std::abort();
        }
      }
    }
  }

  // decode_prefix agrees with decode: same value, and it reports the length.
  auto prefix = bc::decode_prefix(input);
  if (whole.ok() != (prefix.ok() && prefix->consumed == size)) std::abort();
  if (!whole.ok() && whole.err().code != wt::errc::bencode_trailing_data && prefix.ok()) {
    std::abort();
  }
  if (prefix.ok() && prefix->consumed < size) {
    // The consumed bytes alone are a whole document.
    if (!bc::decode(input.first(prefix->consumed)).ok()) std::abort();
  }

  // Tight limits must fail cleanly, never crash.
  bc::limits tight;
  tight.max_depth = 3;
  tight.max_tokens = 16;
  tight.max_string_length = 8;
  (void)bc::decode(input, tight);
  return 0;
}
