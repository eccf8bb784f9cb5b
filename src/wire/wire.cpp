#include "wire/wire.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "bencode/bencode.hpp"

namespace wt::wire {

namespace {

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

std::uint32_t read_u32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::uint16_t read_u16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void put_u32(byte_buffer& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u16(byte_buffer& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_bytes(byte_buffer& out, byte_view b) { out.insert(out.end(), b.begin(), b.end()); }

// Length prefix and id of a message with `payload_size` bytes after the id.
void put_header(byte_buffer& out, message_id id, std::size_t payload_size) {
  put_u32(out, static_cast<std::uint32_t>(payload_size + 1));
  out.push_back(static_cast<std::uint8_t>(id));
}

void put_block_ref(byte_buffer& out, message_id id, piece_index piece, std::uint32_t begin,
                   std::uint32_t length) {
  put_header(out, id, 12);
  put_u32(out, piece.value);
  put_u32(out, begin);
  put_u32(out, length);
}

std::uint32_t bitfield_bytes(std::uint32_t piece_count) noexcept {
  return piece_count / 8 + (piece_count % 8 != 0 ? 1u : 0u);
}

const char* message_name(std::uint8_t id) noexcept {
  switch (static_cast<message_id>(id)) {
    case message_id::choke: return "choke";
    case message_id::unchoke: return "unchoke";
    case message_id::interested: return "interested";
    case message_id::not_interested: return "not_interested";
    case message_id::have: return "have";
    case message_id::bitfield: return "bitfield";
    case message_id::request: return "request";
    case message_id::piece: return "piece";
    case message_id::cancel: return "cancel";
    case message_id::port: return "port";
    case message_id::suggest_piece: return "suggest_piece";
    case message_id::have_all: return "have_all";
    case message_id::have_none: return "have_none";
    case message_id::reject_request: return "reject_request";
    case message_id::allowed_fast: return "allowed_fast";
    case message_id::extended: return "extended";
  }
  return "unknown";
}

bool same_bytes(byte_view a, byte_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Bencode limits for extension payloads: small documents, shallow nesting.
bencode::limits extension_bencode_limits() {
  bencode::limits lim;
  lim.max_depth = 16;
  lim.max_tokens = 100'000;
  lim.max_string_length = 16u << 20;
  return lim;
}

}  // namespace

// --- Handshake ---------------------------------------------------------------------

handshake_features handshake::features() const noexcept {
  handshake_features f;
  f.extension_protocol = (reserved[5] & 0x10) != 0;
  f.fast = (reserved[7] & 0x04) != 0;
  f.dht = (reserved[7] & 0x01) != 0;
  return f;
}

std::array<std::uint8_t, 8> reserved_bytes(handshake_features f) noexcept {
  std::array<std::uint8_t, 8> r{};
  if (f.extension_protocol) r[5] = static_cast<std::uint8_t>(r[5] | 0x10);
  if (f.fast) r[7] = static_cast<std::uint8_t>(r[7] | 0x04);
  if (f.dht) r[7] = static_cast<std::uint8_t>(r[7] | 0x01);
  return r;
}

handshake make_handshake(const sha1_digest& info_hash, const peer_id& id, handshake_features f) {
  handshake h;
  h.reserved = reserved_bytes(f);
  h.info_hash = info_hash;
  h.id = id;
  return h;
}

void encode_to(const handshake& h, byte_buffer& out) {
  out.reserve(out.size() + handshake_size);
  out.push_back(static_cast<std::uint8_t>(protocol_name.size()));
  put_bytes(out, as_bytes(protocol_name));
  put_bytes(out, h.reserved);
  put_bytes(out, h.info_hash);
  put_bytes(out, h.id);
}

result<handshake_reader::progress> handshake_reader::feed(byte_view chunk) {
  if (failed_) return error_;
  if (have_ == handshake_size) return progress{parse_status::done, 0};
  const std::size_t take = std::min(chunk.size(), handshake_size - have_);
  for (std::size_t i = 0; i < take; ++i) {
    const std::uint8_t b = chunk[i];
    const std::size_t pos = have_;
    const bool bad = (pos == 0 && b != protocol_name.size()) ||
                     (pos >= 1 && pos <= protocol_name.size() &&
                      b != static_cast<std::uint8_t>(protocol_name[pos - 1]));
    if (bad) {
      failed_ = true;
      error_ = make_error(errc::wire_bad_protocol, pos, "handshake");
      return error_;
    }
    buf_[pos] = b;
    ++have_;
  }
  return progress{have_ == handshake_size ? parse_status::done : parse_status::need_more, take};
}

std::optional<sha1_digest> handshake_reader::info_hash() const {
  if (failed_ || have_ < 48) return std::nullopt;
  sha1_digest h;
  std::copy_n(buf_.begin() + 28, 20, h.begin());
  return h;
}

handshake handshake_reader::get() const {
  handshake h;
  std::copy_n(buf_.begin() + 20, 8, h.reserved.begin());
  std::copy_n(buf_.begin() + 28, 20, h.info_hash.begin());
  std::copy_n(buf_.begin() + 48, 20, h.id.begin());
  return h;
}

// --- Message encoding --------------------------------------------------------------

void encode_piece_header(piece_index piece, std::uint32_t begin, std::uint32_t data_length,
                         byte_buffer& out) {
  put_u32(out, data_length + 9);
  out.push_back(static_cast<std::uint8_t>(message_id::piece));
  put_u32(out, piece.value);
  put_u32(out, begin);
}

void encode_to(const message& m, byte_buffer& out) {
  std::visit(overloaded{
                 [&](const keep_alive&) { put_u32(out, 0); },
                 [&](const choke&) { put_header(out, message_id::choke, 0); },
                 [&](const unchoke&) { put_header(out, message_id::unchoke, 0); },
                 [&](const interested&) { put_header(out, message_id::interested, 0); },
                 [&](const not_interested&) { put_header(out, message_id::not_interested, 0); },
                 [&](const have& x) {
                   put_header(out, message_id::have, 4);
                   put_u32(out, x.piece.value);
                 },
                 [&](const bitfield& x) {
                   put_header(out, message_id::bitfield, x.bits.size());
                   put_bytes(out, x.bits);
                 },
                 [&](const request& x) {
                   put_block_ref(out, message_id::request, x.piece, x.begin, x.length);
                 },
                 [&](const piece_block& x) {
                   encode_piece_header(x.piece, x.begin, static_cast<std::uint32_t>(x.data.size()),
                                       out);
                   put_bytes(out, x.data);
                 },
                 [&](const cancel& x) {
                   put_block_ref(out, message_id::cancel, x.piece, x.begin, x.length);
                 },
                 [&](const dht_port& x) {
                   put_header(out, message_id::port, 2);
                   put_u16(out, x.port);
                 },
                 [&](const suggest_piece& x) {
                   put_header(out, message_id::suggest_piece, 4);
                   put_u32(out, x.piece.value);
                 },
                 [&](const have_all&) { put_header(out, message_id::have_all, 0); },
                 [&](const have_none&) { put_header(out, message_id::have_none, 0); },
                 [&](const reject_request& x) {
                   put_block_ref(out, message_id::reject_request, x.piece, x.begin, x.length);
                 },
                 [&](const allowed_fast& x) {
                   put_header(out, message_id::allowed_fast, 4);
                   put_u32(out, x.piece.value);
                 },
                 [&](const extended& x) {
                   put_header(out, message_id::extended, x.payload.size() + 1);
                   out.push_back(x.id);
                   put_bytes(out, x.payload);
                 },
                 [&](const unknown_message& x) {
                   put_u32(out, static_cast<std::uint32_t>(x.payload.size() + 1));
                   out.push_back(x.id);
                   put_bytes(out, x.payload);
                 },
             },
             m);
}

byte_buffer encode(const message& m) {
  byte_buffer out;
  encode_to(m, out);
  return out;
}

bool same_message(const message& a, const message& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, bitfield>) {
          return same_bytes(x.bits, y.bits);
        } else if constexpr (std::is_same_v<T, piece_block>) {
          return x.piece == y.piece && x.begin == y.begin && same_bytes(x.data, y.data);
        } else if constexpr (std::is_same_v<T, extended> || std::is_same_v<T, unknown_message>) {
          return x.id == y.id && same_bytes(x.payload, y.payload);
        } else {
          return x == y;
        }
      },
      a);
}

std::string to_string(const message& m) {
  auto num = [](std::uint64_t v) { return std::to_string(v); };
  auto blob = [&](byte_view b) {
    if (b.size() <= 16) return "<" + to_hex(b) + ">";
    return "<" + num(b.size()) + " bytes>";
  };
  return std::visit(
      overloaded{
          [&](const keep_alive&) -> std::string { return "keep_alive"; },
          [&](const choke&) -> std::string { return "choke"; },
          [&](const unchoke&) -> std::string { return "unchoke"; },
          [&](const interested&) -> std::string { return "interested"; },
          [&](const not_interested&) -> std::string { return "not_interested"; },
          [&](const have& x) { return "have " + num(x.piece.value); },
          [&](const bitfield& x) { return "bitfield " + blob(x.bits); },
          [&](const request& x) {
            return "request " + num(x.piece.value) + " " + num(x.begin) + " " + num(x.length);
          },
          [&](const piece_block& x) {
            return "piece " + num(x.piece.value) + " " + num(x.begin) + " " + blob(x.data);
          },
          [&](const cancel& x) {
            return "cancel " + num(x.piece.value) + " " + num(x.begin) + " " + num(x.length);
          },
          [&](const dht_port& x) { return "port " + num(x.port); },
          [&](const suggest_piece& x) { return "suggest_piece " + num(x.piece.value); },
          [&](const have_all&) -> std::string { return "have_all"; },
          [&](const have_none&) -> std::string { return "have_none"; },
          [&](const reject_request& x) {
            return "reject_request " + num(x.piece.value) + " " + num(x.begin) + " " +
                   num(x.length);
          },
          [&](const allowed_fast& x) { return "allowed_fast " + num(x.piece.value); },
          [&](const extended& x) { return "extended " + num(x.id) + " " + blob(x.payload); },
          [&](const unknown_message& x) {
            return "unknown " + num(x.id) + " " + blob(x.payload);
          },
      },
      m);
}

bool bitfield_fits(byte_view bits, std::uint32_t piece_count) noexcept {
  if (bits.size() != bitfield_bytes(piece_count)) return false;
  const std::uint32_t spare = (8 - piece_count % 8) % 8;
  if (spare == 0) return true;
  const auto mask = static_cast<std::uint8_t>((1u << spare) - 1);
  return (bits.back() & mask) == 0;
}

// --- Message reading ----------------------------------------------------------------

void message_reader::feed(byte_view chunk) {
  if (error_ || chunk.empty()) return;
  if (chunk_.empty()) {
    chunk_ = chunk;
    return;
  }
  // Not drained: keep the rest and the new chunk together in an owned buffer.
  byte_buffer joined;
  joined.reserve(chunk_.size() + chunk.size());
  put_bytes(joined, chunk_);
  put_bytes(joined, chunk);
  backlog_ = std::move(joined);
  chunk_ = backlog_;
}

result<std::optional<message>> message_reader::fail(errc code, std::uint64_t position,
                                                    std::string context) {
  error_ = make_error(code, static_cast<std::size_t>(position), std::move(context));
  chunk_ = {};
  partial_.clear();
  return *error_;
}

std::optional<error> message_reader::check_header(std::uint32_t length, std::uint8_t id,
                                                  std::uint64_t position) const {
  auto err = [&](errc code) {
    return make_error(code, static_cast<std::size_t>(position), message_name(id));
  };
  auto exact = [&](std::uint32_t size) -> std::optional<error> {
    if (length != size) return err(errc::wire_bad_message_length);
    return std::nullopt;
  };
  switch (static_cast<message_id>(id)) {
    case message_id::choke:
    case message_id::unchoke:
    case message_id::interested:
    case message_id::not_interested:
    case message_id::have_all:
    case message_id::have_none: return exact(1);
    case message_id::have:
    case message_id::suggest_piece:
    case message_id::allowed_fast: return exact(5);
    case message_id::request:
    case message_id::cancel:
    case message_id::reject_request: return exact(13);
    case message_id::port: return exact(3);
    case message_id::bitfield:
      if (piece_count_) {
        if (length - 1 != bitfield_bytes(*piece_count_)) return err(errc::wire_bad_bitfield);
      } else if (length - 1 > limits_.max_bitfield) {
        return err(errc::wire_message_too_large);
      }
      return std::nullopt;
    case message_id::piece:
      if (length < 9) return err(errc::wire_bad_message_length);
      if (length - 9 > limits_.max_block) return err(errc::wire_message_too_large);
      return std::nullopt;
    case message_id::extended:
      if (length < 2) return err(errc::wire_bad_message_length);
      if (length - 2 > limits_.max_extended) return err(errc::wire_message_too_large);
      return std::nullopt;
  }
  if (length - 1 > limits_.max_unknown) return err(errc::wire_message_too_large);
  return std::nullopt;
}

result<message> message_reader::parse(byte_view frame, std::uint64_t position) const {
  const byte_view body = frame.subspan(4);
  if (body.empty()) return message{keep_alive{}};
  const std::uint8_t id = body[0];
  const byte_view payload = body.subspan(1);
  const std::uint8_t* p = payload.data();

  auto index = [&](std::uint32_t value) -> std::optional<error> {
    if (piece_count_ && value >= *piece_count_) {
      return make_error(errc::wire_piece_out_of_range, static_cast<std::size_t>(position + 5),
                        message_name(id));
    }
    return std::nullopt;
  };

  switch (static_cast<message_id>(id)) {
    case message_id::choke: return message{choke{}};
    case message_id::unchoke: return message{unchoke{}};
    case message_id::interested: return message{interested{}};
    case message_id::not_interested: return message{not_interested{}};
    case message_id::have_all: return message{have_all{}};
    case message_id::have_none: return message{have_none{}};
    case message_id::have:
    case message_id::suggest_piece:
    case message_id::allowed_fast: {
      const piece_index piece{read_u32(p)};
      if (auto e = index(piece.value)) return *e;
      if (id == static_cast<std::uint8_t>(message_id::have)) return message{have{piece}};
      if (id == static_cast<std::uint8_t>(message_id::suggest_piece)) {
        return message{suggest_piece{piece}};
      }
      return message{allowed_fast{piece}};
    }
    case message_id::request:
    case message_id::cancel:
    case message_id::reject_request: {
      const piece_index piece{read_u32(p)};
      if (auto e = index(piece.value)) return *e;
      const std::uint32_t begin = read_u32(p + 4);
      const std::uint32_t length = read_u32(p + 8);
      if (id == static_cast<std::uint8_t>(message_id::request)) {
        return message{request{piece, begin, length}};
      }
      if (id == static_cast<std::uint8_t>(message_id::cancel)) {
        return message{cancel{piece, begin, length}};
      }
      return message{reject_request{piece, begin, length}};
    }
    case message_id::piece: {
      const piece_index piece{read_u32(p)};
      if (auto e = index(piece.value)) return *e;
      return message{piece_block{piece, read_u32(p + 4), payload.subspan(8)}};
    }
    case message_id::port: return message{dht_port{read_u16(p)}};
    case message_id::bitfield:
      if (piece_count_ && !bitfield_fits(payload, *piece_count_)) {
        return make_error(errc::wire_bad_bitfield,
                          static_cast<std::size_t>(position + frame.size() - 1), "bitfield");
      }
      return message{bitfield{payload}};
    case message_id::extended: return message{extended{payload[0], payload.subspan(1)}};
  }
  return message{unknown_message{id, payload}};
}

result<std::optional<message>> message_reader::next() {
  if (error_) return *error_;
  if (partial_returned_) {
    partial_.clear();
    partial_returned_ = false;
  }

  auto take = [&](std::size_t n) {
    n = std::min(n, chunk_.size());
    put_bytes(partial_, chunk_.first(n));
    chunk_ = chunk_.subspan(n);
    consumed_ += n;
  };

  if (partial_.empty()) {
    // Fast path: a whole message in the chunk is returned as views into it.
    if (chunk_.size() >= 4) {
      const std::uint32_t length = read_u32(chunk_.data());
      if (length == 0) {
        chunk_ = chunk_.subspan(4);
        consumed_ += 4;
        return std::optional<message>{keep_alive{}};
      }
      if (chunk_.size() >= 5) {
        if (auto e = check_header(length, chunk_[4], consumed_)) {
          return fail(e->code, e->position, std::move(e->context));
        }
        const std::size_t total = std::size_t{length} + 4;
        if (chunk_.size() >= total) {
          const std::uint64_t start = consumed_;
          const byte_view frame = chunk_.first(total);
          chunk_ = chunk_.subspan(total);
          consumed_ += total;
          auto m = parse(frame, start);
          if (!m) return fail(m.err().code, m.err().position, m.err().context);
          return std::optional<message>{std::move(*m)};
        }
      }
    }
    if (chunk_.empty()) return std::optional<message>{};
  }

  // Slow path: assemble the message in partial_, checking the header first.
  const std::uint64_t start = consumed_ - partial_.size();
  if (partial_.size() < 4) take(4 - partial_.size());
  if (partial_.size() < 4) return std::optional<message>{};
  const std::uint32_t length = read_u32(partial_.data());
  if (length > 0) {
    if (partial_.size() < 5) {
      take(1);
      if (partial_.size() < 5) return std::optional<message>{};
    }
    if (auto e = check_header(length, partial_[4], start)) {
      return fail(e->code, e->position, std::move(e->context));
    }
    const std::size_t total = std::size_t{length} + 4;
    take(total - partial_.size());
    if (partial_.size() < total) return std::optional<message>{};
  }
  partial_returned_ = true;
  auto m = parse(partial_, start);
  if (!m) return fail(m.err().code, m.err().position, m.err().context);
  return std::optional<message>{std::move(*m)};
}

// --- Compact peers ----------------------------------------------------------------------

endpoint make_endpoint_v4(std::array<std::uint8_t, 4> address, std::uint16_t port) {
  endpoint e;
  std::copy(address.begin(), address.end(), e.address.begin());
  e.port = port;
  return e;
}

endpoint make_endpoint_v6(const std::array<std::uint8_t, 16>& address, std::uint16_t port) {
  endpoint e;
  e.address = address;
  e.v6 = true;
  e.port = port;
  return e;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

namespace {

std::optional<std::uint8_t> parse_decimal_octet(std::string_view part) {
  if (part.empty() || part.size() > 3) return std::nullopt;
  if (part.size() > 1 && part[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (const char c : part) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 255) return std::nullopt;
  return static_cast<std::uint8_t>(v);
}

std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view text) {
  std::array<std::uint8_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto dot = text.find('.');
    if ((i < 3) == (dot == std::string_view::npos)) return std::nullopt;
    const auto octet = parse_decimal_octet(text.substr(0, dot));
    if (!octet) return std::nullopt;
    out[i] = *octet;
    text = i < 3 ? text.substr(dot + 1) : std::string_view{};
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Groups of one side of "::" (or the whole address), appended as bytes; an IPv4 tail
// is allowed in the last group when `allow_v4_tail`.
bool parse_v6_groups(std::string_view text, bool allow_v4_tail, std::vector<std::uint8_t>& out) {
  if (text.empty()) return true;
  while (true) {
    const auto colon = text.find(':');
    const std::string_view group = text.substr(0, colon);
    if (colon == std::string_view::npos && allow_v4_tail && group.find('.') != group.npos) {
      const auto v4 = parse_ipv4(group);
      if (!v4) return false;
      out.insert(out.end(), v4->begin(), v4->end());
      return true;
    }
    if (group.empty() || group.size() > 4) return false;
    unsigned v = 0;
    for (const char c : group) {
      const int h = hex_value(c);
      if (h < 0) return false;
      v = v * 16 + static_cast<unsigned>(h);
    }
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
    if (out.size() > 16) return false;
    if (colon == std::string_view::npos) return true;
    text = text.substr(colon + 1);
  }
}

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text) {
  if (text.size() > 45) return std::nullopt;
  std::vector<std::uint8_t> head;
  std::vector<std::uint8_t> tail;
  const auto gap = text.find("::");
  if (gap == std::string_view::npos) {
    if (!parse_v6_groups(text, true, head) || head.size() != 16) return std::nullopt;
  } else {
    const auto after = text.substr(gap + 2);
    if (after.find("::") != std::string_view::npos) return std::nullopt;
    if (!parse_v6_groups(text.substr(0, gap), false, head)) return std::nullopt;
    if (!parse_v6_groups(after, true, tail)) return std::nullopt;
    if (head.size() + tail.size() > 14) return std::nullopt;  // "::" stands for at least one group
  }
  std::array<std::uint8_t, 16> out{};
  std::copy(head.begin(), head.end(), out.begin());
  std::copy(tail.begin(), tail.end(), out.end() - static_cast<std::ptrdiff_t>(tail.size()));
  return out;
}

}  // namespace

std::optional<endpoint> parse_ip_address(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    const auto v4 = parse_ipv4(text);
    if (!v4) return std::nullopt;
    return make_endpoint_v4(*v4, 0);
  }
  const auto v6 = parse_ipv6(text);
  if (!v6) return std::nullopt;
  return make_endpoint_v6(*v6, 0);
}

std::optional<endpoint> parse_endpoint(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_port(text.substr(colon + 1));
  if (!port) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  auto e = parse_ip_address(host);
  if (!e || e->v6 != bracketed) return std::nullopt;  // IPv6 in brackets, IPv4 without
  e->port = *port;
  return e;
}

std::string to_string(const endpoint& e) {
  std::string out;
  if (!e.v6) {
    for (std::size_t i = 0; i < 4; ++i) {
      if (i) out += '.';
      out += std::to_string(e.address[i]);
    }
  } else {
    // RFC 5952: lower-case hex groups, the longest run (2+) of zero groups as "::".
    std::array<std::uint16_t, 8> g{};
    for (std::size_t i = 0; i < 8; ++i) g[i] = read_u16(&e.address[2 * i]);
    std::size_t best = 8, best_len = 0;
    for (std::size_t i = 0; i < 8;) {
      if (g[i] != 0) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < 8 && g[j] == 0) ++j;
      if (j - i > best_len) {
        best = i;
        best_len = j - i;
      }
      i = j;
    }
    if (best_len < 2) best = 8;
    static constexpr char hex[] = "0123456789abcdef";
    out += '[';
    for (std::size_t i = 0; i < 8; ++i) {
      if (i == best) {
        out += "::";
        i += best_len - 1;
        continue;
      }
      if (i != 0 && i != best + best_len) out += ':';
      bool started = false;
      for (int shift = 12; shift >= 0; shift -= 4) {
        const auto nibble = static_cast<std::size_t>((g[i] >> shift) & 0xf);
        if (nibble != 0 || started || shift == 0) {
          out += hex[nibble];
          started = true;
        }
      }
    }
    out += ']';
  }
  out += ':';
  out += std::to_string(e.port);
  return out;
}

void append_compact(const endpoint& e, byte_buffer& out) {
  out.insert(out.end(), e.address.begin(), e.address.begin() + (e.v6 ? 16 : 4));
  put_u16(out, e.port);
}

namespace {

result<std::vector<endpoint>> parse_compact(byte_view bytes, std::size_t max_peers, bool v6,
                                            too_many_peers excess) {
  const std::size_t size = v6 ? compact_v6_size : compact_v4_size;
  if (bytes.size() % size != 0) {
    return make_error(errc::wire_bad_compact_peers, bytes.size() - bytes.size() % size);
  }
  std::size_t count = bytes.size() / size;
  if (count > max_peers) {
    if (excess == too_many_peers::refuse) return make_error(errc::wire_too_many_peers, max_peers * size);
    count = max_peers;
  }
  std::vector<endpoint> peers;
  peers.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* p = bytes.data() + i * size;
    endpoint e;
    e.v6 = v6;
    std::copy_n(p, size - 2, e.address.begin());
    e.port = read_u16(p + size - 2);
    peers.push_back(e);
  }
  return peers;
}

}  // namespace

result<std::vector<endpoint>> parse_compact_v4(byte_view bytes, std::size_t max_peers,
                                               too_many_peers excess) {
  return parse_compact(bytes, max_peers, false, excess);
}

result<std::vector<endpoint>> parse_compact_v6(byte_view bytes, std::size_t max_peers,
                                               too_many_peers excess) {
  return parse_compact(bytes, max_peers, true, excess);
}

// --- BEP 10 extension handshake -------------------------------------------------------

std::optional<std::uint8_t> extension_handshake::id_of(std::string_view name) const {
  const auto it = m.find(name);
  if (it == m.end() || it->second == 0) return std::nullopt;
  return it->second;
}

result<extension_handshake> decode_extension_handshake(byte_view payload,
                                                       const extension_limits& lim) {
  auto doc = bencode::decode(payload, extension_bencode_limits());
  if (!doc) return doc.err();
  const bencode::node root = doc->root();
  if (!root.is_dict()) return make_error(errc::wire_not_a_dict, 0, "extension handshake");

  extension_handshake h;
  if (auto m = root.find("m")) {
    if (!m->is_dict()) return make_error(errc::wire_bad_field, m->offset(), "m");
    for (const auto& [name, id] : m->entries()) {
      if (!id.is_int() || id.as_int() < 0 || id.as_int() > 255) {
        return make_error(errc::wire_bad_field, id.offset(), "m." + std::string(name));
      }
      h.m.emplace(std::string(name), static_cast<std::uint8_t>(id.as_int()));
    }
  }
  if (auto v = root.find_string("v")) h.client = std::string(*v);
  if (auto p = root.find_int("p"); p && *p > 0 && *p <= 65535) {
    h.listen_port = static_cast<std::uint16_t>(*p);
  }
  if (auto reqq = root.find("reqq")) {
    if (!reqq->is_int() || reqq->as_int() < 1) {
      return make_error(errc::wire_bad_field, reqq->offset(), "reqq");
    }
    h.reqq = static_cast<std::uint32_t>(
        std::min<std::int64_t>(reqq->as_int(), std::int64_t{lim.max_reqq}));
  }
  if (auto size = root.find("metadata_size")) {
    if (!size->is_int() || size->as_int() < 0) {
      return make_error(errc::wire_bad_field, size->offset(), "metadata_size");
    }
    if (size->as_int() > std::int64_t{lim.max_metadata_size}) {
      return make_error(errc::wire_metadata_too_large, size->offset(), "metadata_size");
    }
    if (size->as_int() > 0) h.metadata_size = static_cast<std::uint32_t>(size->as_int());
  }
  if (auto ip = root.find("yourip"); ip && ip->is_string()) {
    const byte_view b = ip->as_bytes();
    if (b.size() == 4 || b.size() == 16) h.yourip = byte_buffer(b.begin(), b.end());
  }
  if (auto ip = root.find("ipv4"); ip && ip->is_string() && ip->as_bytes().size() == 4) {
    std::array<std::uint8_t, 4> a{};
    const byte_view b = ip->as_bytes();
    std::copy(b.begin(), b.end(), a.begin());
    h.ipv4 = a;
  }
  if (auto ip = root.find("ipv6"); ip && ip->is_string() && ip->as_bytes().size() == 16) {
    std::array<std::uint8_t, 16> a{};
    const byte_view b = ip->as_bytes();
    std::copy(b.begin(), b.end(), a.begin());
    h.ipv6 = a;
  }
  return h;
}

byte_buffer encode_extension_handshake(const extension_handshake& h, const bencode::dict& extra) {
  bencode::dict d;
  bencode::dict m;
  for (const auto& [name, id] : h.m) m.emplace(name, bencode::value(std::int64_t{id}));
  d.emplace("m", std::move(m));
  if (h.client) d.emplace("v", *h.client);
  if (h.listen_port) d.emplace("p", std::int64_t{*h.listen_port});
  if (h.reqq) d.emplace("reqq", std::int64_t{*h.reqq});
  if (h.metadata_size) d.emplace("metadata_size", std::int64_t{*h.metadata_size});
  if (h.yourip) d.emplace("yourip", std::string(as_chars(*h.yourip)));
  if (h.ipv4) d.emplace("ipv4", std::string(as_chars(*h.ipv4)));
  if (h.ipv6) d.emplace("ipv6", std::string(as_chars(*h.ipv6)));
  for (const auto& [key, value] : extra) d.emplace(key, value);  // emplace keeps ours
  return bencode::encode(bencode::value(std::move(d)));
}

// --- BEP 9 ut_metadata ---------------------------------------------------------------------

result<std::optional<metadata_message>> decode_metadata_message(byte_view payload,
                                                                const extension_limits& lim) {
  auto pr = bencode::decode_prefix(payload, extension_bencode_limits());
  if (!pr) return pr.err();
  const bencode::node root = pr->doc.root();
  if (!root.is_dict()) return make_error(errc::wire_not_a_dict, 0, "ut_metadata");

  // A required non-negative integer.
  auto field = [&](std::string_view key) -> result<std::int64_t> {
    const auto n = root.find(key);
    if (!n) return make_error(errc::wire_missing_field, 0, std::string(key));
    if (!n->is_int() || n->as_int() < 0) {
      return make_error(errc::wire_bad_field, n->offset(), std::string(key));
    }
    return n->as_int();
  };

  const auto type_node = root.find("msg_type");
  if (!type_node) return make_error(errc::wire_missing_field, 0, "msg_type");
  if (!type_node->is_int()) return make_error(errc::wire_bad_field, type_node->offset(), "msg_type");
  const std::int64_t type = type_node->as_int();
  if (type < 0 || type > 2) return std::optional<metadata_message>{};

  auto piece = field("piece");
  if (!piece) return piece.err();
  const std::int64_t max_pieces =
      (std::int64_t{lim.max_metadata_size} + metadata_piece_size - 1) / metadata_piece_size;
  if (*piece >= max_pieces) {
    return make_error(errc::wire_metadata_too_large, root.find("piece")->offset(), "piece");
  }

  metadata_message m;
  m.type = static_cast<metadata_msg_type>(type);
  m.piece = static_cast<std::uint32_t>(*piece);
  const byte_view rest = payload.subspan(pr->consumed);

  if (m.type != metadata_msg_type::data) {
    if (!rest.empty()) return make_error(errc::wire_trailing_data, pr->consumed, "ut_metadata");
    return std::optional<metadata_message>{m};
  }

  auto total = field("total_size");
  if (!total) return total.err();
  const std::size_t total_at = root.find("total_size")->offset();
  if (*total == 0) return make_error(errc::wire_bad_field, total_at, "total_size");
  if (*total > std::int64_t{lim.max_metadata_size}) {
    return make_error(errc::wire_metadata_too_large, total_at, "total_size");
  }
  const std::int64_t piece_start = *piece * std::int64_t{metadata_piece_size};
  if (piece_start >= *total) {
    return make_error(errc::wire_bad_field, root.find("piece")->offset(), "piece");
  }
  if (rest.size() > metadata_piece_size) {
    return make_error(errc::wire_metadata_too_large, pr->consumed, "data");
  }
  const auto expected = static_cast<std::size_t>(
      std::min<std::int64_t>(metadata_piece_size, *total - piece_start));
  if (rest.size() != expected) return make_error(errc::wire_bad_field, pr->consumed, "data");
  m.total_size = static_cast<std::uint32_t>(*total);
  m.data = rest;
  return std::optional<metadata_message>{m};
}

byte_buffer encode_metadata_message(const metadata_message& m) {
  bencode::dict d;
  d.emplace("msg_type", std::int64_t{static_cast<std::uint8_t>(m.type)});
  d.emplace("piece", std::int64_t{m.piece});
  if (m.type == metadata_msg_type::data) d.emplace("total_size", std::int64_t{m.total_size});
  byte_buffer out = bencode::encode(bencode::value(std::move(d)));
  if (m.type == metadata_msg_type::data) put_bytes(out, m.data);
  return out;
}

// --- BEP 11 ut_pex ----------------------------------------------------------------------------

result<pex_message> decode_pex_message(byte_view payload, const extension_limits& lim) {
  auto doc = bencode::decode(payload, extension_bencode_limits());
  if (!doc) return doc.err();
  const bencode::node root = doc->root();
  if (!root.is_dict()) return make_error(errc::wire_not_a_dict, 0, "ut_pex");

  // One compact list: absent is empty.
  auto list = [&](std::string_view key, bool v6) -> result<std::vector<endpoint>> {
    const auto n = root.find(key);
    if (!n) return std::vector<endpoint>{};
    if (!n->is_string()) return make_error(errc::wire_bad_field, n->offset(), std::string(key));
    auto peers = parse_compact(n->as_bytes(), lim.max_pex_peers, v6, too_many_peers::refuse);
    if (!peers) return make_error(peers.err().code, n->offset(), std::string(key));
    return peers;
  };

  pex_message out;
  for (const bool v6 : {false, true}) {
    auto added = list(v6 ? "added6" : "added", v6);
    if (!added) return added.err();
    byte_view flags;
    if (auto f = root.find(v6 ? "added6.f" : "added.f"); f && f->is_string()) {
      flags = f->as_bytes();
    }
    if (flags.size() != added->size()) flags = {};
    for (std::size_t i = 0; i < added->size(); ++i) {
      out.added.push_back(pex_peer{(*added)[i], flags.empty() ? std::uint8_t{0} : flags[i]});
    }
    auto dropped = list(v6 ? "dropped6" : "dropped", v6);
    if (!dropped) return dropped.err();
    out.dropped.insert(out.dropped.end(), dropped->begin(), dropped->end());
  }
  return out;
}

byte_buffer encode_pex_message(const pex_message& m) {
  byte_buffer added, added_f, added6, added6_f, dropped, dropped6;
  for (const auto& p : m.added) {
    append_compact(p.peer, p.peer.v6 ? added6 : added);
    (p.peer.v6 ? added6_f : added_f).push_back(p.flags);
  }
  for (const auto& e : m.dropped) append_compact(e, e.v6 ? dropped6 : dropped);
  auto str = [](const byte_buffer& b) { return bencode::value(std::string(as_chars(b))); };
  bencode::dict d;
  d.emplace("added", str(added));
  d.emplace("added.f", str(added_f));
  d.emplace("dropped", str(dropped));
  if (!added6.empty()) {
    d.emplace("added6", str(added6));
    d.emplace("added6.f", str(added6_f));
  }
  if (!dropped6.empty()) d.emplace("dropped6", str(dropped6));
  return bencode::encode(bencode::value(std::move(d)));
}

// --- lt_donthave ----------------------------------------------------------------------------------

result<piece_index> decode_donthave(byte_view payload) {
  if (payload.size() != 4) {
    return make_error(errc::wire_bad_message_length, 0, std::string(lt_donthave_name));
  }
  return piece_index{read_u32(payload.data())};
}

byte_buffer encode_donthave(piece_index piece) {
  byte_buffer out;
  put_u32(out, piece.value);
  return out;
}

}  // namespace wt::wire
