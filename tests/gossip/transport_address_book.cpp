// Address book of the peer transport: dial order by source, bounds per peer and overall.
#include "gossip/transport/address_book.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::net;

namespace {
gossip::endpoint_id id_of(uint8_t b) {
  gossip::endpoint_id id{};
  id.fill(b);
  return id;
}
} // namespace

TEST_CASE("transport address book: confirmed first, then hints, then observed, newest first") {
  address_book book;
  auto p = id_of(1);
  book.add(p, {"127.0.0.1", 1000}, address_source::observed);
  book.add(p, {"127.0.0.1", 2000}, address_source::hint);
  book.add(p, {"127.0.0.1", 3000}, address_source::hint);
  book.add(p, {"127.0.0.1", 4000}, address_source::confirmed);
  auto c = book.candidates(p);
  REQUIRE(c.size() == 4);
  CHECK(c[0].port == 4000);
  CHECK(c[1].port == 3000);
  CHECK(c[2].port == 2000);
  CHECK(c[3].port == 1000);
  // A refresh raises the source, never lowers it.
  book.add(p, {"127.0.0.1", 1000}, address_source::confirmed);
  c = book.candidates(p);
  CHECK(c[0].port == 1000);
  CHECK(c[1].port == 4000);
  book.add(p, {"127.0.0.1", 4000}, address_source::observed); // stays confirmed, now newest
  c = book.candidates(p);
  CHECK(c[0].port == 4000);
  CHECK(c[1].port == 1000);
  CHECK(c[2].port == 3000);
  CHECK(book.candidates(id_of(2)).empty());
}

TEST_CASE("transport address book: bounds evict the weakest and the least recently touched") {
  address_book book(2, 3);
  auto p = id_of(1);
  book.add(p, {"127.0.0.1", 1}, address_source::hint);
  book.add(p, {"127.0.0.1", 2}, address_source::observed);
  book.add(p, {"127.0.0.1", 3}, address_source::hint);
  book.add(p, {"127.0.0.1", 4}, address_source::hint); // evicts the observed one
  auto c = book.candidates(p);
  REQUIRE(c.size() == 3);
  for (auto& a : c)
    CHECK(a.port != 2);
  book.add(id_of(2), {"127.0.0.1", 9}, address_source::hint);
  book.add(id_of(3), {"127.0.0.1", 9}, address_source::hint); // evicts peer 1 (oldest touch)
  CHECK(book.size() == 2);
  CHECK(book.candidates(p).empty());
  // Unusable entries are ignored.
  book.add(id_of(2), {"", 9}, address_source::hint);
  book.add(id_of(2), {"127.0.0.1", 0}, address_source::hint);
  CHECK(book.candidates(id_of(2)).size() == 1);
  book.forget(id_of(2));
  CHECK(book.candidates(id_of(2)).empty());
}

TEST_CASE("transport address book: a record's addresses are dialled in the record's order") {
  address_book book;
  auto p = id_of(3);
  // An endpoint record lists the mapped address first, then the LAN ones.
  std::vector<gossip::socket_address> record{
    {"11.0.0.2", 4000}, {"10.1.0.12", 4000}, {"127.0.0.1", 4000}};
  book.add_all(p, record, address_source::hint);
  CHECK(book.candidates(p) == record);
  // The same record again (a refresh) keeps that order; a confirmed address still leads.
  book.add(p, {"10.1.0.12", 4000}, address_source::confirmed);
  book.add_all(p, record, address_source::hint);
  auto c = book.candidates(p);
  REQUIRE(c.size() == 3);
  CHECK(c[0] == gossip::socket_address{"10.1.0.12", 4000});
  CHECK(c[1] == record[0]);
  CHECK(c[2] == record[2]);
}
