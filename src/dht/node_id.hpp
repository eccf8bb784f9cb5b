// Node ids bound to addresses (BEP 42, the DHT security extension): the first 21 bits of a
// node's id are a CRC32-C of its masked external address and of 3 random bits kept in the
// id's last byte. A node cannot pick an id near a target of its choice without owning an
// address that hashes there, which makes filling one region of the DHT with sybils costly.
//
// Nodes on local networks (and loopback) are exempt: any id is valid for them.
#pragma once

#include <cstdint>

#include "dht/krpc.hpp"
#include "wire/wire.hpp"

namespace wt::dht {

// CRC32-C (Castagnoli, reflected 0x82f63b78), as BEP 42 uses it.
std::uint32_t crc32c(byte_view data) noexcept;

// Addresses BEP 42 does not apply to: 10/8, 172.16/12, 192.168/16, 169.254/16, 127/8, and
// for IPv6 loopback, link-local (fe80::/10) and unique local (fc00::/7) addresses.
bool secure_id_exempt(const wire::endpoint& address) noexcept;

// An id valid for `address`: r's low 3 bits choose among the 8 prefixes the address has,
// and r is kept in the last byte; the other bits come from `random`.
node_id secure_node_id(const wire::endpoint& address, std::uint8_t r, const node_id& random) noexcept;

// Whether `id` is one of those valid for `address` (always, for an exempt address).
bool secure_id_valid(const node_id& id, const wire::endpoint& address) noexcept;

}  // namespace wt::dht
