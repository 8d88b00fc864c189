// Standalone driver for the KRPC fuzz target when libFuzzer is not used (the default build):
// runs the built-in seed corpus, any files given, then N bounded random mutations of them.
//   fuzz_krpc_replay [--runs N] [--seed S] [--write-corpus DIR] [FILE|DIR...]
// --write-corpus writes the seed corpus to DIR (for libFuzzer runs) and exits.
#include "krpc_target.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;
using dtt::bytes;

namespace {

/// splitmix64: a tiny deterministic generator (reproducible runs from --seed).
struct rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

bytes mutate(const bytes& in, const std::vector<bytes>& all, rng& r) {
  constexpr size_t max_size = 4096;
  bytes b = in;
  size_t ops = 1 + r.below(6);
  for (size_t i = 0; i < ops; ++i) {
    auto at = [&] { return b.begin() + static_cast<std::ptrdiff_t>(r.below(b.size() + 1)); };
    switch (r.below(8)) {
      case 0:
        if (!b.empty())
          b[r.below(b.size())] = static_cast<uint8_t>(r.next());
        break;
      case 1:
        b.insert(at(), static_cast<uint8_t>("ilde:0123456789-"[r.below(16)]));
        break;
      case 2:
        if (!b.empty())
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(r.below(b.size())));
        break;
      case 3:
        b.resize(r.below(b.size() + 1));
        break;
      case 4: { // copy a slice of this or another input somewhere
        auto& src = all[r.below(all.size())];
        if (src.empty())
          break;
        size_t a = r.below(src.size()), n = 1 + r.below(src.size() - a);
        bytes slice(src.begin() + static_cast<std::ptrdiff_t>(a),
                    src.begin() + static_cast<std::ptrdiff_t>(a + n));
        b.insert(at(), slice.begin(), slice.end());
        break;
      }
      case 5: // rewrite a number (lengths, integers)
        for (auto& c : b)
          if (c >= '0' && c <= '9' && r.below(6) == 0)
            c = static_cast<uint8_t>('0' + r.below(10));
        break;
      case 6: { // a big or negative length
        const char* s[] = {"4294967296:", "-1:", "99999999999999999999:", "i-0e", "0:"};
        auto* p = s[r.below(5)];
        b.insert(at(), p, p + std::char_traits<char>::length(p));
        break;
      }
      default:
        if (!b.empty())
          b[r.below(b.size())] ^= static_cast<uint8_t>(1u << r.below(8));
        break;
    }
    if (b.size() > max_size)
      b.resize(max_size);
  }
  return b;
}

bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void run(const bytes& b) { LLVMFuzzerTestOneInput(b.data(), b.size()); }

} // namespace

int main(int argc, char** argv) {
  uint64_t runs = 20000, seed = 1;
  std::vector<bytes> inputs = dtt::fuzz::krpc_seed_corpus();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--write-corpus" && i + 1 < argc) {
      fs::path dir = argv[++i];
      fs::create_directories(dir);
      size_t n = 0;
      for (auto& b : inputs) {
        std::ofstream out(dir / ("seed" + std::to_string(n++)), std::ios::binary);
        out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
      }
      std::printf("wrote %zu seeds to %s\n", n, dir.c_str());
      return 0;
    } else if (fs::is_directory(a)) {
      for (auto& e : fs::directory_iterator(a))
        if (e.is_regular_file())
          inputs.push_back(read_file(e.path()));
    } else if (fs::is_regular_file(a)) {
      inputs.push_back(read_file(a));
    } else {
      std::fprintf(stderr, "usage: %s [--runs N] [--seed S] [--write-corpus DIR] [FILE|DIR...]\n",
                   argv[0]);
      return 2;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  for (auto& b : inputs)
    run(b);
  rng r{seed};
  std::vector<bytes> pool = inputs;
  for (uint64_t i = 0; i < runs; ++i) {
    auto b = mutate(pool[r.below(pool.size())], pool, r);
    run(b);
    if (pool.size() < 4096 && r.below(16) == 0)
      pool.push_back(std::move(b)); // mutate mutants too, for depth
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("fuzz_krpc_replay: %zu seeds + %llu mutations, no property violated (%.2f s, "
              "%.0f exec/s)\n",
              inputs.size(), static_cast<unsigned long long>(runs), s,
              static_cast<double>(inputs.size() + runs) / (s > 0 ? s : 1));
  return 0;
}
