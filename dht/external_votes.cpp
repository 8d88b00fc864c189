#include "dht/external_votes.hpp"

#include <algorithm>
#include <map>

namespace dtt::dht {

namespace {

endpoint ip_only(endpoint e) {
  e.port = 0;
  return e;
}

bool unspecified(const endpoint& e) {
  auto b = e.address();
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

} // namespace

external_votes::external_votes(config cfg) : cfg_(cfg) {
  cfg_.max_voters = std::max<size_t>(cfg_.max_voters, 1);
  cfg_.min_votes = std::max<size_t>(cfg_.min_votes, 1);
}

size_t external_votes::count(const table& t, const endpoint& ip) {
  return static_cast<size_t>(std::count_if(t.votes.begin(), t.votes.end(), [&](const auto& v) {
    return ip_only(v.reported) == ip;
  }));
}

external_votes::outcome external_votes::vote(const endpoint& voter, const endpoint& reported) {
  if ((voter.family != 4 && voter.family != 6) || reported.family != voter.family
      || reported.port == 0 || unspecified(reported)) {
    ++ignored_;
    return outcome::ignored;
  }
  auto& t = of(voter.family);
  auto key = ip_only(voter);
  t.votes.erase(std::remove_if(t.votes.begin(), t.votes.end(),
                               [&](const vote_entry& v) { return v.voter == key; }),
                t.votes.end());
  t.votes.push_back({key, reported});
  while (t.votes.size() > cfg_.max_voters)
    t.votes.pop_front();
  ++counted_;
  if (!decide(t))
    return outcome::counted;
  ++changes_;
  return outcome::changed;
}

bool external_votes::decide(table& t) {
  // The address with the most votes, if it is alone at the top.
  std::map<endpoint, size_t> tally;
  for (auto& v : t.votes)
    ++tally[ip_only(v.reported)];
  const endpoint* leader = nullptr;
  size_t best = 0;
  bool tie = false;
  for (auto& [ip, n] : tally) {
    if (n > best) {
      best = n;
      leader = &ip;
      tie = false;
    } else if (n == best) {
      tie = true;
    }
  }
  if (!leader || tie || best < cfg_.min_votes || 2 * best <= t.votes.size())
    return false;
  if (t.decided && *t.decided == *leader)
    return false;
  if (t.decided && best < count(t, *t.decided) + cfg_.min_votes)
    return false;
  t.decided = *leader;
  return true;
}

std::optional<endpoint> external_votes::current(uint8_t family) const {
  auto& t = of(family);
  if (!t.decided)
    return std::nullopt;
  std::map<uint16_t, size_t> ports;
  for (auto& v : t.votes)
    if (ip_only(v.reported) == *t.decided)
      ++ports[v.reported.port];
  endpoint out = *t.decided;
  size_t best = 0;
  for (auto& [port, n] : ports)
    if (n > best) {
      best = n;
      out.port = port;
    }
  return out;
}

size_t external_votes::voters(uint8_t family) const noexcept { return of(family).votes.size(); }

size_t external_votes::votes_for(const endpoint& addr) const {
  return count(of(addr.family), ip_only(addr));
}

} // namespace dtt::dht
