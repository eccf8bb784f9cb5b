#include <catch2/catch.hpp>

#include "storage/storage.hpp"

using namespace wt;

TEST_CASE("[storage] memory storage writes, reads and marks pieces complete", "[storage]") {
  memory_storage s;
  const torrent_id t{1};
  const byte_buffer data{1, 2, 3, 4, 5};

  SECTION("write then read back, through requests") {
    storage_request w{storage_request_id{1}, t, storage_op::write, piece_index{0}, 0, 10, 5, data};
    auto c = s.complete(w);
    CHECK(c.ok);
    CHECK(c.id.value == 1);
    storage_request r{storage_request_id{2}, t, storage_op::read, piece_index{0}, 0, 11, 3, {}};
    auto rc = s.complete(r);
    REQUIRE(rc.ok);
    CHECK(rc.data == byte_buffer{2, 3, 4});
    CHECK(s.contents(t).size() == 15);
  }
  SECTION("reads beyond what was written fail") {
    s.write_at(t, 0, data);
    CHECK_FALSE(s.read_at(t, 3, 3));
    CHECK_FALSE(s.read_at(torrent_id{2}, 0, 1));
    storage_request r{storage_request_id{3}, t, storage_op::read, piece_index{0}, 0, 4, 2, {}};
    CHECK_FALSE(s.complete(r).ok);
  }
  SECTION("mark complete") {
    CHECK_FALSE(s.is_complete(t, piece_index{3}));
    storage_request m{storage_request_id{4}, t, storage_op::mark_complete, piece_index{3}, 0, 0, 0, {}};
    CHECK(s.complete(m).ok);
    CHECK(s.is_complete(t, piece_index{3}));
    s.remove(t);
    CHECK_FALSE(s.is_complete(t, piece_index{3}));
  }
  SECTION("a verify write is hashed: written when it matches, handed back when not") {
    storage_request w{storage_request_id{5}, t, storage_op::write, piece_index{0}, 0, 0, 5, data};
    w.verify = sha1(data);
    auto c = s.complete(w);
    CHECK(c.ok);
    REQUIRE(c.digest);
    CHECK(*c.digest == sha1(data));
    CHECK(c.data.empty());
    CHECK(s.contents(t).size() == 5);
    w.offset = 5;
    w.data = byte_buffer{9, 9, 9, 9, 9};
    c = s.complete(w);
    CHECK(c.ok);
    REQUIRE(c.digest);
    CHECK(*c.digest == sha1(w.data));
    CHECK(c.data == w.data);
    CHECK(s.contents(t).size() == 5);  // not written
  }
}
